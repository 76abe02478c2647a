//! Catalog rows as both SQL backends return them (their integers are i64), and their checked conversion
//! into records: a value out of range is a corrupt row, never a panic.

use std::str::FromStr;

use super::error::CatalogError;
use super::records::{CachedPrompt, DerivativeRecord, ImageRecord};
use crate::domain::format::ImageFormat;
use crate::domain::kind::ImageKind;
use crate::domain::translation::Translation;

pub const IMAGE_COLUMNS: &str =
    "id, gen_key, prompt, final_prompt, negative_prompt, model, provider, seed, steps, \
     width, height, format, bytes, content_hash, created_at, translation, translation_note, \
     kind, source_id, mask_id, strength";

pub const DERIVATIVE_COLUMNS: &str = "key, image_id, format, width, height, bytes, content_hash";

/// A prompt cache row: `pipeline, family, prompt, final_prompt`.
pub type PromptRow = (String, String, String, String);

impl From<PromptRow> for CachedPrompt {
    fn from((pipeline, family, prompt, final_prompt): PromptRow) -> Self {
        Self {
            pipeline,
            family,
            prompt,
            final_prompt,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ImageRow {
    id: String,
    gen_key: String,
    prompt: String,
    final_prompt: String,
    negative_prompt: Option<String>,
    model: String,
    provider: String,
    seed: i64,
    steps: Option<i64>,
    width: i64,
    height: i64,
    format: String,
    bytes: i64,
    content_hash: String,
    created_at: i64,
    translation: String,
    translation_note: Option<String>,
    kind: String,
    source_id: Option<String>,
    mask_id: Option<String>,
    strength: Option<i64>,
}

impl TryFrom<ImageRow> for ImageRecord {
    type Error = CatalogError;

    fn try_from(row: ImageRow) -> Result<Self, CatalogError> {
        let corrupt = |reason: String| CatalogError::Corrupt {
            id: row.id.clone(),
            reason,
        };
        let int = |name: &str, value: i64| {
            u32::try_from(value).map_err(|_| corrupt(format!("{name} {value} is out of range")))
        };
        Ok(ImageRecord {
            seed: int("seed", row.seed)?,
            steps: row.steps.map(|s| int("steps", s)).transpose()?,
            width: int("width", row.width)?,
            height: int("height", row.height)?,
            format: ImageFormat::from_str(&row.format).map_err(corrupt)?,
            translation: Translation::from_str(&row.translation).map_err(corrupt)?,
            translation_note: row.translation_note,
            kind: ImageKind::from_str(&row.kind).map_err(corrupt)?,
            strength: row
                .strength
                .map(|s| u8::try_from(s).ok().filter(|s| *s <= 100))
                .map(|s| s.ok_or_else(|| corrupt("strength out of range".into())))
                .transpose()?,
            source_id: row.source_id,
            mask_id: row.mask_id,
            bytes: u64::try_from(row.bytes).map_err(|_| corrupt("negative byte count".into()))?,
            id: row.id,
            gen_key: row.gen_key,
            prompt: row.prompt,
            final_prompt: row.final_prompt,
            negative_prompt: row.negative_prompt,
            model: row.model,
            provider: row.provider,
            content_hash: row.content_hash,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DerivativeRow {
    key: String,
    image_id: String,
    format: String,
    width: i64,
    height: i64,
    bytes: i64,
    content_hash: Option<String>,
}

impl TryFrom<DerivativeRow> for DerivativeRecord {
    type Error = CatalogError;

    fn try_from(row: DerivativeRow) -> Result<Self, CatalogError> {
        let corrupt = |reason: &str| CatalogError::Corrupt {
            id: row.key.clone(),
            reason: reason.into(),
        };
        Ok(DerivativeRecord {
            format: ImageFormat::from_str(&row.format).map_err(|reason| corrupt(&reason))?,
            width: u32::try_from(row.width).map_err(|_| corrupt("width out of range"))?,
            height: u32::try_from(row.height).map_err(|_| corrupt("height out of range"))?,
            bytes: u64::try_from(row.bytes).map_err(|_| corrupt("bytes out of range"))?,
            content_hash: row.content_hash,
            key: row.key,
            image_id: row.image_id,
        })
    }
}

/// A derivative's row with the options it was made with.
#[derive(sqlx::FromRow)]
pub struct DerivativeWithOptions {
    #[sqlx(flatten)]
    pub row: DerivativeRow,
    pub options: String,
}

/// A byte count as the databases store it.
pub fn db_bytes(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
