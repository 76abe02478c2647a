//! `[catalog]`: the models Pixzoo offers and what each can do. The defaults cover every provider; models
//! whose provider is not configured are hidden at start-up.

use serde::{Deserialize, Serialize};

use super::ProviderKind;

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
            }
        };
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
                steps: steps(1, 150, 20),
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
