//! `[catalog]`: the models Pixzoo offers and what each can do. The defaults cover every provider; models
//! whose provider is not configured are hidden at start-up.

use serde::{Deserialize, Serialize};

use super::check::invalid;
use super::{ConfigError, ProviderKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// The model used when a request names none. Empty: the first model of the first configured provider
    /// in the order replicate, cloudflare, openai, a1111, builtin.
    pub default_model: String,
    pub models: Vec<ModelConfig>,
}

/// How a model's prompts should read; the prompt pipeline writes for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFamily {
    /// Natural sentences (FLUX).
    Flux,
    /// Comma-separated tags (Stable Diffusion).
    Sd,
    /// Natural sentences, no tags (DALL·E and other OpenAI-style models).
    Dalle,
    /// The builtin renderer: the prompt is printed, so it is only cleaned up.
    Placeholder,
}

impl ModelFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFamily::Flux => "flux",
            ModelFamily::Sd => "sd",
            ModelFamily::Dalle => "dalle",
            ModelFamily::Placeholder => "placeholder",
        }
    }
}

/// One aspect ratio a model generates, at the size it uses for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeEntry {
    /// As the provider spells it (Replicate's `aspect_ratio`), e.g. "16:9".
    pub ratio: String,
    pub width: u32,
    pub height: u32,
}

/// The sizes a model can generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Sizes {
    /// Exactly the size asked for.
    Any,
    /// Any width and height in `min..=max`, rounded to a multiple of `multiple`.
    Range { min: u32, max: u32, multiple: u32 },
    /// One of these; the one closest to the requested aspect ratio is used.
    Table(Vec<SizeEntry>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsRange {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

/// What a model can be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// An image from a prompt.
    Generate,
    /// Image-to-image: a source image changed as a prompt says, as far as a strength says.
    Edit,
    /// A source image changed only where a mask is white.
    Inpaint,
    /// A source image made again with no prompt.
    Variations,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Generate => "generate",
            Capability::Edit => "edit",
            Capability::Inpaint => "inpaint",
            Capability::Variations => "variations",
        }
    }

    /// What a request needing this asks, for error messages: "cannot {what}".
    pub fn what(self) -> &'static str {
        match self {
            Capability::Generate => "make an image from a prompt alone",
            Capability::Edit => "edit an image",
            Capability::Inpaint => "edit an image inside a mask",
            Capability::Variations => "make variations of an image without a prompt",
        }
    }
}

fn generate_only() -> Vec<Capability> {
    vec![Capability::Generate]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The id clients use (`?model=`, `"model"` in the API).
    pub id: String,
    pub label: String,
    /// Which provider runs it: builtin, replicate, cloudflare, openai, a1111.
    pub provider: String,
    /// The provider's own name for the model.
    pub upstream: String,
    pub family: ModelFamily,
    pub sizes: Sizes,
    /// Absent: the model takes no steps parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepsRange>,
    #[serde(default)]
    pub negative_prompt: bool,
    #[serde(default)]
    pub seed: bool,
    /// What it can be asked to do; absent: only images from prompts.
    #[serde(default = "generate_only")]
    pub capabilities: Vec<Capability>,
}

impl ModelConfig {
    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

impl CatalogConfig {
    /// Every model has a unique id, a known provider, sizes and steps that make sense; the default
    /// model is one of them.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for model in &self.models {
            if model.id.trim().is_empty() {
                return invalid("catalog.models.id", "must not be empty");
            }
            if !seen.insert(model.id.as_str()) {
                return invalid(
                    "catalog.models.id",
                    format!("`{}` is defined twice", model.id),
                );
            }
            if ProviderKind::from_name(&model.provider).is_none() {
                return invalid(
                    "catalog.models.provider",
                    format!(
                        "`{}` (model `{}`) is not a provider; known: {}",
                        model.provider,
                        model.id,
                        ProviderKind::known()
                    ),
                );
            }
            let sizes_ok = match &model.sizes {
                Sizes::Any => true,
                Sizes::Range { min, max, multiple } => 1 <= *min && min <= max && *multiple >= 1,
                Sizes::Table(entries) => {
                    !entries.is_empty() && entries.iter().all(|e| e.width > 0 && e.height > 0)
                }
            };
            if !sizes_ok {
                return invalid(
                    "catalog.models.sizes",
                    format!("model `{}`: a range needs 1 <= min <= max and multiple >= 1; a table needs entries", model.id),
                );
            }
            if let Some(steps) = model.steps {
                if !(steps.min <= steps.default && steps.default <= steps.max) {
                    return invalid(
                        "catalog.models.steps",
                        format!("model `{}`: needs min <= default <= max", model.id),
                    );
                }
            }
        }
        let default = &self.default_model;
        if !default.is_empty() && !self.models.iter().any(|m| &m.id == default) {
            return invalid(
                "catalog.default_model",
                format!("`{default}` is not a model in catalog.models"),
            );
        }
        Ok(())
    }
}

fn entry(ratio: &str, width: u32, height: u32) -> SizeEntry {
    SizeEntry {
        ratio: ratio.into(),
        width,
        height,
    }
}

fn steps(min: u32, max: u32, default: u32) -> Option<StepsRange> {
    Some(StepsRange { min, max, default })
}

impl Default for CatalogConfig {
    fn default() -> Self {
        let flux_table = Sizes::Table(vec![
            entry("1:1", 1024, 1024),
            entry("16:9", 1344, 768),
            entry("21:9", 1536, 640),
            entry("3:2", 1216, 832),
            entry("2:3", 832, 1216),
            entry("4:5", 896, 1088),
            entry("5:4", 1088, 896),
            entry("3:4", 896, 1152),
            entry("4:3", 1152, 896),
            entry("9:16", 768, 1344),
            entry("9:21", 640, 1536),
        ]);
        let cf_sd = Sizes::Range {
            min: 256,
            max: 2048,
            multiple: 8,
        };
        let model = |id: &str,
                     label: &str,
                     provider: ProviderKind,
                     upstream: &str,
                     family,
                     sizes: &Sizes| {
            ModelConfig {
                id: id.into(),
                label: label.into(),
                provider: provider.name().into(),
                upstream: upstream.into(),
                family,
                sizes: sizes.clone(),
                steps: None,
                negative_prompt: false,
                seed: false,
                capabilities: generate_only(),
            }
        };
        use Capability::{Edit, Generate, Inpaint, Variations};
        let models = vec![
            ModelConfig {
                steps: steps(1, 4, 4),
                seed: true,
                ..model(
                    "flux-schnell",
                    "FLUX.1 [schnell] on Replicate",
                    ProviderKind::Replicate,
                    "black-forest-labs/flux-schnell",
                    ModelFamily::Flux,
                    &flux_table,
                )
            },
            ModelConfig {
                seed: true,
                capabilities: vec![Edit],
                ..model(
                    "flux-kontext-pro",
                    "FLUX.1 Kontext [pro] on Replicate (edits)",
                    ProviderKind::Replicate,
                    "black-forest-labs/flux-kontext-pro",
                    ModelFamily::Flux,
                    &flux_table,
                )
            },
            ModelConfig {
                steps: steps(1, 500, 25),
                negative_prompt: true,
                seed: true,
                capabilities: vec![Inpaint],
                ..model(
                    "sd-inpainting",
                    "Stable Diffusion inpainting on Replicate",
                    ProviderKind::Replicate,
                    "stability-ai/stable-diffusion-inpainting",
                    ModelFamily::Sd,
                    &Sizes::Range {
                        min: 64,
                        max: 1024,
                        multiple: 64,
                    },
                )
            },
            ModelConfig {
                steps: steps(1, 8, 4),
                ..model(
                    "FLUX.1-Schnell-CF",
                    "FLUX.1 [schnell] on Cloudflare",
                    ProviderKind::Cloudflare,
                    "@cf/black-forest-labs/flux-1-schnell",
                    ModelFamily::Flux,
                    &Sizes::Table(vec![entry("1:1", 1024, 1024)]),
                )
            },
            ModelConfig {
                steps: steps(1, 20, 8),
                negative_prompt: true,
                seed: true,
                ..model(
                    "DS-8-CF",
                    "DreamShaper 8 LCM on Cloudflare",
                    ProviderKind::Cloudflare,
                    "@cf/lykon/dreamshaper-8-lcm",
                    ModelFamily::Sd,
                    &cf_sd,
                )
            },
            ModelConfig {
                steps: steps(1, 20, 20),
                negative_prompt: true,
                seed: true,
                ..model(
                    "SD-XL-Bash-CF",
                    "Stable Diffusion XL base on Cloudflare",
                    ProviderKind::Cloudflare,
                    "@cf/stabilityai/stable-diffusion-xl-base-1.0",
                    ModelFamily::Sd,
                    &cf_sd,
                )
            },
            ModelConfig {
                steps: steps(1, 20, 8),
                negative_prompt: true,
                seed: true,
                ..model(
                    "SD-XL-Lightning-CF",
                    "Stable Diffusion XL Lightning on Cloudflare",
                    ProviderKind::Cloudflare,
                    "@cf/bytedance/stable-diffusion-xl-lightning",
                    ModelFamily::Sd,
                    &cf_sd,
                )
            },
            ModelConfig {
                steps: steps(1, 20, 20),
                negative_prompt: true,
                seed: true,
                capabilities: vec![Edit, Variations],
                ..model(
                    "SD-1.5-Img2Img-CF",
                    "Stable Diffusion 1.5 image-to-image on Cloudflare",
                    ProviderKind::Cloudflare,
                    "@cf/runwayml/stable-diffusion-v1-5-img2img",
                    ModelFamily::Sd,
                    &cf_sd,
                )
            },
            ModelConfig {
                steps: steps(1, 20, 20),
                negative_prompt: true,
                seed: true,
                capabilities: vec![Inpaint],
                ..model(
                    "SD-1.5-Inpainting-CF",
                    "Stable Diffusion 1.5 inpainting on Cloudflare",
                    ProviderKind::Cloudflare,
                    "@cf/runwayml/stable-diffusion-v1-5-inpainting",
                    ModelFamily::Sd,
                    &cf_sd,
                )
            },
            model(
                "dall-e-3",
                "DALL·E 3 (OpenAI-compatible)",
                ProviderKind::OpenAi,
                "dall-e-3",
                ModelFamily::Dalle,
                &Sizes::Table(vec![
                    entry("1:1", 1024, 1024),
                    entry("7:4", 1792, 1024),
                    entry("4:7", 1024, 1792),
                ]),
            ),
            ModelConfig {
                capabilities: vec![Generate, Edit, Inpaint],
                ..model(
                    "gpt-image-1",
                    "GPT Image 1 (OpenAI-compatible)",
                    ProviderKind::OpenAi,
                    "gpt-image-1",
                    ModelFamily::Dalle,
                    &Sizes::Table(vec![
                        entry("1:1", 1024, 1024),
                        entry("3:2", 1536, 1024),
                        entry("2:3", 1024, 1536),
                    ]),
                )
            },
            ModelConfig {
                capabilities: vec![Generate, Edit, Inpaint],
                ..model(
                    "dall-e-2",
                    "DALL·E 2 (OpenAI-compatible)",
                    ProviderKind::OpenAi,
                    "dall-e-2",
                    ModelFamily::Dalle,
                    &Sizes::Table(vec![entry("1:1", 1024, 1024)]),
                )
            },
            ModelConfig {
                steps: steps(1, 150, 20),
                capabilities: vec![Generate, Edit, Inpaint, Variations],
                negative_prompt: true,
                seed: true,
                ..model(
                    "a1111",
                    "Stable Diffusion (AUTOMATIC1111 server)",
                    ProviderKind::A1111,
                    "",
                    ModelFamily::Sd,
                    &Sizes::Range {
                        min: 64,
                        max: 2048,
                        multiple: 8,
                    },
                )
            },
            ModelConfig {
                seed: true,
                capabilities: vec![Generate, Edit, Inpaint, Variations],
                ..model(
                    "builtin",
                    "Builtin placeholder renderer (offline)",
                    ProviderKind::Builtin,
                    "placeholder-v1",
                    ModelFamily::Placeholder,
                    &Sizes::Any,
                )
            },
        ];
        Self {
            default_model: String::new(),
            models,
        }
    }
}
