//! One view of a stored image. A catalog record becomes an [`ImageView`] here, once: its URL, its
//! time in RFC 3339, its format and translation by name. Every answer that describes an image (the
//! gallery's summaries and details, the API's `ImageInfo` and `ImageResponse`, the studio's result card,
//! OpenAI's `data`) is derived from it.

use crate::api::images::{ImageDetails, ImageSummary};
use crate::api::studio::GeneratedImage;
use crate::server::clock::rfc3339;
use crate::server::engine::{CacheStatus, Generated};
use crate::server::storage::ImageRecord;
use crate::urls::image::image_path;
use crate::urls::placeholder::{placeholder_path, Size};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageView {
    pub id: String,
    /// Where the stored original is served, relative to this server.
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
    /// `png`, `jpeg`, `webp` or `avif`, and the file extension that goes with it.
    pub format: &'static str,
    pub extension: &'static str,
    pub bytes: u64,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// llm, builtin, fallback or off.
    pub translation: &'static str,
    pub translation_note: Option<String>,
}

impl From<&ImageRecord> for ImageView {
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
            format: r.format.as_str(),
            extension: r.format.extension(),
            bytes: r.bytes,
            created_at: rfc3339(r.created_at),
            translation: r.translation.as_str(),
            translation_note: r.translation_note.clone(),
        }
    }
}

impl From<&ImageView> for ImageSummary {
    fn from(v: &ImageView) -> Self {
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

impl From<&ImageView> for ImageDetails {
    fn from(v: &ImageView) -> Self {
        Self {
            summary: ImageSummary::from(v),
            final_prompt: v.final_prompt.clone(),
            negative_prompt: v.negative_prompt.clone(),
            provider: v.provider.clone(),
            seed: v.seed,
            steps: v.steps,
            format: v.format.into(),
            bytes: v.bytes,
            translation: v.translation.into(),
            translation_note: v.translation_note.clone(),
        }
    }
}

/// The studio's result card for a generation asked at `size`: the image, and the URL that makes it
/// again (`/{W}x{H}/{slug}?model=…&seed=…`).
pub fn generated_image(generated: &Generated, size: Size) -> GeneratedImage {
    let v = ImageView::from(&generated.record);
    GeneratedImage {
        placeholder_url: format!(
            "{}?model={}&seed={}",
            placeholder_path(size, &v.prompt),
            v.model,
            v.seed
        ),
        cached: generated.cache == CacheStatus::Hit,
        extension: v.extension.into(),
        translation: v.translation.into(),
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
