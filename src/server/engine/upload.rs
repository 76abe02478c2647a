//! Uploads: images Pixzoo did not make, stored like originals so every face can serve, transform and
//! edit them. One path for all of them (`POST /api/uploads`, a `data:` source of an edit, the studio's
//! file drop): size checked, sniffed by magic bytes, dimensions checked from the header before any
//! pixel is decoded, decoded once on the CPU pool, turned upright by its EXIF orientation, and encoded
//! again in its own format, which leaves its metadata (location, camera) behind. The same bytes sent
//! twice are one upload: its key is the hash of what was sent.

use bytes::Bytes;

use super::admission::Admission;
use super::answers::{CacheStatus, Generated};
use super::errors::EngineError;
use super::Engine;
use crate::domain::format::ImageFormat;
use crate::domain::kind::ImageKind;
use crate::domain::translation::Translation;
use crate::server::clock::now_millis;
use crate::server::storage::blobs::content_hash;
use crate::server::storage::ImageRecord;
use crate::server::transform::encode::encode;
use crate::server::transform::inspect::{decode_oriented, inspect, InspectError};

/// The `model` and `provider` an upload is recorded with: no model made it.
pub const UPLOAD: &str = "upload";
/// JPEG and WebP uploads are encoded again at this quality (high: the upload is the original).
const QUALITY: u8 = 92;
/// Longest name kept from an uploaded file's name (it is the upload's caption and searchable).
const MAX_NAME_CHARS: usize = 200;

/// An upload as it is stored.
#[derive(Debug)]
pub struct Normalised {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

impl Engine {
    /// Stores an uploaded image (or finds it stored already) and answers its record. `name` is the
    /// file's name, when the client sent one: it becomes the image's caption.
    pub async fn upload(
        &self,
        bytes: Bytes,
        name: Option<String>,
        admission: &dyn Admission,
    ) -> Result<Generated, EngineError> {
        let inner = &self.inner;
        let limits = inner.upload_limits;
        if bytes.is_empty() {
            return Err(EngineError::BadRequest("the upload is empty".into()));
        }
        if bytes.len() > limits.max_bytes {
            return Err(EngineError::TooLarge(format!(
                "the upload is {} bytes, over the limit of {} (limits.max_upload_bytes)",
                bytes.len(),
                limits.max_bytes
            )));
        }
        let sent = bytes.clone();
        let sent_hash = inner.cpu.run(move || content_hash(&sent)).await?;
        let gen_key = format!("upload:{sent_hash}");
        if let Some(stored) = inner.stored(&gen_key).await? {
            return Ok(stored);
        }
        // Refused before any pixel is decoded: the header says what it is and how large.
        let inspected = inspect(&bytes, limits.max_pixels).map_err(refused)?;
        admission.admit_upload().await?;
        let (normalised, stored_hash) = inner
            .cpu
            .run(move || {
                normalise(&bytes, inspected).map(|normalised| {
                    let hash = content_hash(&normalised.bytes);
                    (normalised, hash)
                })
            })
            .await?
            .map_err(refused)?;
        let stored_bytes = Bytes::from(normalised.bytes);
        let caption = name.as_deref().map(caption).unwrap_or_default();
        let record = ImageRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            gen_key,
            prompt: caption.clone(),
            final_prompt: caption,
            negative_prompt: None,
            model: UPLOAD.into(),
            provider: UPLOAD.into(),
            seed: 0,
            steps: None,
            width: normalised.width,
            height: normalised.height,
            format: normalised.format,
            bytes: stored_bytes.len() as u64,
            content_hash: stored_hash,
            created_at: now_millis(),
            translation: Translation::Off,
            translation_note: None,
            kind: ImageKind::Upload,
            source_id: None,
            mask_id: None,
            strength: None,
        };
        // Blob first, row second, as for every original.
        inner
            .blobs
            .put(&record.blob_key(), stored_bytes.clone())
            .await?;
        let stored = inner.catalog.insert(&record).await?;
        let (bytes, cache) = if stored.id == record.id {
            inner.ensure_blob(&stored.blob_key(), &stored_bytes).await?;
            tracing::info!(id = %stored.id, width = stored.width, height = stored.height, format = stored.format.as_str(), "uploaded");
            (Some(stored_bytes), CacheStatus::Miss)
        } else {
            // The same bytes, uploaded at the same moment by someone else: theirs is the upload.
            (None, CacheStatus::Hit)
        };
        metrics::counter!("pixzoo_uploads_total").increment(1);
        Ok(Generated {
            record: stored,
            bytes,
            cache,
        })
    }
}

/// What the client is told about an image it may not upload.
fn refused(err: InspectError) -> EngineError {
    match err {
        InspectError::UnknownFormat => {
            EngineError::Unsupported("the upload is not a PNG, JPEG or WebP image".into())
        }
        InspectError::TooLarge { width, height, max } => EngineError::TooLarge(format!(
            "the upload is {width}x{height}, over the limit of {max} pixels (limits.max_upload_pixels)"
        )),
        other => EngineError::BadRequest(format!("the upload is not a whole image: {other}")),
    }
}

/// Decodes once, turns upright, and encodes again in the same format (PNG stays lossless).
pub fn normalise(
    bytes: &[u8],
    inspected: crate::server::transform::inspect::Inspected,
) -> Result<Normalised, InspectError> {
    let image = decode_oriented(bytes, inspected)?;
    let (bytes, format) =
        encode(&image, inspected.format, QUALITY).map_err(|err| InspectError::Undecodable {
            format: inspected.format.as_str(),
            message: err.to_string(),
        })?;
    Ok(Normalised {
        bytes,
        format,
        width: image.width(),
        height: image.height(),
    })
}

/// A file name as a caption: its stem, trimmed and shortened; `IMG_0042.jpg` → `IMG_0042`.
fn caption(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    };
    stem.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::DynamicImage;

    #[test]
    fn png_stays_lossless() {
        let image = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(5, 4, |x, y| {
            image::Rgba([x as u8 * 40, y as u8 * 50, 7, 128])
        }));
        let png = encode(&image, ImageFormat::Png, 100).unwrap().0;
        let normalised = normalise(&png, inspect(&png, 100).unwrap()).unwrap();
        let back = image::load_from_memory(&normalised.bytes).unwrap();
        assert_eq!(back.to_rgba8(), image.to_rgba8());
    }

    #[test]
    fn captions_are_file_stems() {
        assert_eq!(caption("IMG_0042.jpg"), "IMG_0042");
        assert_eq!(caption("C:\\photos\\cat.png"), "cat");
        assert_eq!(caption(".hidden"), ".hidden");
        assert_eq!(caption("a\u{7}b.webp"), "ab");
        assert_eq!(caption(&"x".repeat(500)).chars().count(), MAX_NAME_CHARS);
    }
}
