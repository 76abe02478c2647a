//! One view of a stored image. A catalog record becomes an [`ImageInfo`] here, once: its URL, its
//! time in RFC 3339, its format and translation by name. `GET /api/images` answers it as it is; every
//! other answer that describes an image (the gallery's summaries and details, `ImageResponse`, the
//! studio's result card, OpenAI's `data`) is derived from it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::kind::ImageKind;
use crate::server::clock::rfc3339;
use crate::server::engine::{CacheStatus, Generated};
use crate::server::storage::ImageRecord;
use crate::urls::image::image_path;
use crate::urls::placeholder::{placeholder_url, Size};
use crate::wire::images::{ImageDetails, ImageSummary};
use crate::wire::studio::GeneratedImage;

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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
    /// generated, upload or edit.
    pub kind: ImageKind,
    /// The image an edit was made from, and the mask it was made with.
    pub source_id: Option<String>,
    pub mask_id: Option<String>,
    /// How far an edit went from its source, 0 to 1.
    pub strength: Option<f64>,
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
            kind: r.kind,
            source_id: r.source_id.clone(),
            mask_id: r.mask_id.clone(),
            strength: r.strength.map(|s| f64::from(s) / 100.0),
        }
    }
}

impl From<&ImageInfo> for ImageSummary {
    fn from(v: &ImageInfo) -> Self {
        Self {
            id: v.id.clone(),
            kind: v.kind,
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
            kind: v.kind,
            source_id: v.source_id.clone(),
            mask_id: v.mask_id.clone(),
            strength: v.strength.map(|s| (s * 100.0).round() as u8),
            edits: Vec::new(),
        }
    }
}

/// The studio's result card for a generation asked at `size`: the image, and the URL that makes it
/// again (`/{W}x{H}/{slug}?model=…&seed=…`).
pub fn generated_image(generated: &Generated, size: Size) -> GeneratedImage {
    let v = ImageInfo::from(&generated.record);
    let seed = v.seed.to_string();
    // An edit's URL names its source, strength and mask too; empty values are left out.
    let (image, strength, mask) = match (&v.source_id, v.strength) {
        (Some(source), Some(strength)) => (
            source.clone(),
            strength.to_string(),
            v.mask_id.clone().unwrap_or_default(),
        ),
        _ => Default::default(),
    };
    GeneratedImage {
        placeholder_url: placeholder_url(
            size,
            &v.prompt,
            &[
                ("model", &v.model),
                ("seed", &seed),
                ("image", &image),
                ("strength", &strength),
                ("mask", &mask),
            ],
        ),
        source_url: v.source_id.as_deref().map(image_path),
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
