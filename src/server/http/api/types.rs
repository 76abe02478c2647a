//! The JSON shapes of the public API, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::server::config::{ModelConfig, Sizes};
use crate::server::image_info::ImageInfo;

/// One chat message; only `user` messages are read, and the last one is the prompt.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Message {
    pub role: String,
    /// Text, or OpenAI-style content parts (`[{"type": "text", "text": "…"}]`).
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}

/// `POST /api/image`, wire-compatible with CF Flux Remix.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ImageRequest {
    pub messages: Vec<Message>,
    /// A catalog id; the default model when absent.
    pub model: Option<String>,
    #[serde(default)]
    pub stream: bool,
    /// "WxH", e.g. "1024x768".
    pub size: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// "W:H", e.g. "16:9"; the long side is 1024.
    pub aspect_ratio: Option<String>,
    pub steps: Option<u32>,
    pub seed: Option<u32>,
    pub negative_prompt: Option<String>,
    /// Run the prompt pipeline (default true).
    pub translate: Option<bool>,
    /// Edit this image instead of making one from nothing: an image id, or a `data:image/…;base64,…`
    /// URI (uploaded on the way). The size defaults to the source's; with no user message, a
    /// variation (for models that can).
    pub image: Option<String>,
    /// Where to change it: white changes, black keeps. An image id or a data: URI, any size.
    pub mask: Option<String>,
    /// How far from the source, 0 (keep it) to 1 (ignore it); default 0.75.
    pub strength: Option<f64>,
}

/// The answer to `POST /api/image` (and the `done` event of its stream).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageResponse {
    pub prompt: String,
    #[serde(rename = "translatedPrompt")]
    pub translated_prompt: String,
    /// The stored original, base64.
    pub image: String,
    pub id: String,
    /// `/img/{id}`: the original, and the base for transform URLs.
    pub url: String,
    pub model: String,
    pub seed: u32,
    pub width: u32,
    pub height: u32,
    pub cached: bool,
    /// How the final prompt was made: llm, builtin, fallback or off.
    pub translation: String,
    /// Why the fallback was used, when it was.
    pub translation_note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepsInfo {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SizeEntryInfo {
    pub ratio: String,
    pub width: u32,
    pub height: u32,
}

/// What sizes a model generates; any other size is cropped from the nearest.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SizesInfo {
    Any,
    Range { min: u32, max: u32, multiple: u32 },
    Table { entries: Vec<SizeEntryInfo> },
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelInfo {
    pub id: String,
    /// The provider's own model name.
    pub path: String,
    pub label: String,
    pub provider: String,
    pub family: String,
    pub sizes: SizesInfo,
    /// The steps range; null for a model that takes no steps (the builtin renderer), which ignores
    /// a `steps` in the request.
    pub steps: Option<StepsInfo>,
    pub negative_prompt: bool,
    pub seed: bool,
    pub default: bool,
    /// What it can be asked: `generate` (from a prompt), `edit` (a source and a prompt), `inpaint`
    /// (a source, a mask and a prompt), `variations` (a source alone).
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelInfo>,
}

impl ModelInfo {
    pub fn new(model: &ModelConfig, default: bool) -> Self {
        Self {
            id: model.id.clone(),
            path: model.upstream.clone(),
            label: model.label.clone(),
            provider: model.provider.clone(),
            family: model.family.as_str().into(),
            sizes: match &model.sizes {
                Sizes::Any => SizesInfo::Any,
                Sizes::Range { min, max, multiple } => SizesInfo::Range {
                    min: *min,
                    max: *max,
                    multiple: *multiple,
                },
                Sizes::Table(entries) => SizesInfo::Table {
                    entries: entries
                        .iter()
                        .map(|e| SizeEntryInfo {
                            ratio: e.ratio.clone(),
                            width: e.width,
                            height: e.height,
                        })
                        .collect(),
                },
            },
            steps: model.steps.map(|s| StepsInfo {
                min: s.min,
                max: s.max,
                default: s.default,
            }),
            negative_prompt: model.negative_prompt,
            seed: model.seed,
            default,
            capabilities: model
                .capabilities
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImagePage {
    pub images: Vec<ImageInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}
