//! One view of a stored image. A catalog record becomes an [`ImageInfo`] here, once: its URL, its
//! time in RFC 3339, its format and translation by name. `GET /api/images` answers it as it is; every
//! other answer that describes an image (the gallery's summaries and details, `ImageResponse`, the
//! studio's result card, OpenAI's `data`) is derived from it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::images::{ImageDetails, ImageSummary};
use crate::api::studio::GeneratedImage;
use crate::server::clock::rfc3339;
use crate::server::engine::{CacheStatus, Generated};
use crate::server::storage::ImageRecord;
use crate::urls::image::image_path;
use crate::urls::placeholder::{placeholder_path, Size};

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImageInfo {
    pub id: String,
    pub url: String,
    pub prompt: String,
    pub final_prompt: String,
    pub negative_prompt: Option<String>,
    pub model: String,
    pub provider: String,
    pub seed: u32,
    pub steps: Option<u32>,
    pub width: u32,
    pub height: u32,
    pub format: String,
    pub bytes: u64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub translation: String,
    pub translation_note: Option<String>,
}

impl From<&ImageRecord> for ImageInfo {
    fn from(r: &ImageRecord) -> Self {
        Self {
            id: r.id.clone(),
            url: image_path(&r.id),
            prompt: r.prompt.clone(),
            final_prompt: r.final_prompt.clone(),
            negative_prompt: r.negative_prompt.clone(),
            model: r.model.clone(),
            provider: r.provider.clone(),
            seed: r.seed,
            steps: r.steps,
            width: r.width,
            height: r.height,
            format: r.format.as_str().into(),
            bytes: r.bytes,
            created_at: rfc3339(r.created_at),
            translation: r.translation.as_str().into(),
            translation_note: r.translation_note.clone(),
        }
    }
}

impl From<&ImageInfo> for ImageSummary {
    fn from(v: &ImageInfo) -> Self {
        Self {
            id: v.id.clone(),
            prompt: v.prompt.clone(),
            model: v.model.clone(),
            width: v.width,
            height: v.height,
            url: v.url.clone(),
            created_at: v.created_at.clone(),
        }
    }
}

impl From<&ImageInfo> for ImageDetails {
    fn from(v: &ImageInfo) -> Self {
        Self {
            summary: ImageSummary::from(v),
            final_prompt: v.final_prompt.clone(),
            negative_prompt: v.negative_prompt.clone(),
            provider: v.provider.clone(),
            seed: v.seed,
            steps: v.steps,
            format: v.format.clone(),
            bytes: v.bytes,
            translation: v.translation.clone(),
            translation_note: v.translation_note.clone(),
        }
    }
}

/// The studio's result card for a generation asked at `size`: the image, and the URL that makes it
/// again (`/{W}x{H}/{slug}?model=…&seed=…`).
pub fn generated_image(generated: &Generated, size: Size) -> GeneratedImage {
    let v = ImageInfo::from(&generated.record);
    GeneratedImage {
        placeholder_url: format!(
            "{}?model={}&seed={}",
            placeholder_path(size, &v.prompt),
            v.model,
            v.seed
        ),
        cached: generated.cache == CacheStatus::Hit,
        extension: generated.record.format.extension().into(),
        translation: v.translation,
        id: v.id,
        prompt: v.prompt,
        final_prompt: v.final_prompt,
        translation_note: v.translation_note,
        model: v.model,
        seed: v.seed,
        width: v.width,
        height: v.height,
        url: v.url,
    }
}
