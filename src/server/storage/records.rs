//! What the catalog stores, independent of the database that stores it.

use crate::domain::format::ImageFormat;
use crate::domain::kind::ImageKind;
use crate::domain::translation::Translation;
use crate::server::storage::blobs::{derivative_key, original_key};

/// One stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: String,
    pub gen_key: String,
    pub prompt: String,
    pub final_prompt: String,
    pub negative_prompt: Option<String>,
    pub model: String,
    pub provider: String,
    pub seed: u32,
    pub steps: Option<u32>,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub bytes: u64,
    pub content_hash: String,
    /// Unix milliseconds, UTC.
    pub created_at: i64,
    pub translation: Translation,
    pub translation_note: Option<String>,
    pub kind: ImageKind,
    /// What an edit was made from: the source image's id (kept when the source is deleted).
    pub source_id: Option<String>,
    /// The mask an edit was painted with, an image id.
    pub mask_id: Option<String>,
    /// How far an edit went from its source, in hundredths (0 keeps it, 100 ignores it).
    pub strength: Option<u8>,
}

impl ImageRecord {
    pub fn blob_key(&self) -> String {
        original_key(&self.content_hash, self.format)
    }
}

/// The keyset cursor after `record`: its creation time and id, as `created_at.id`.
pub fn cursor_after(record: &ImageRecord) -> String {
    format!("{}.{}", record.created_at, record.id)
}

/// A cursor this server gave out, or `None`.
pub fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id)))
        .filter(|(_, id)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|(t, id)| (t, id.to_owned()))
}

/// What a page of the catalog is filtered by.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery<'a> {
    pub limit: u32,
    /// `(created_at, id)` of the last image of the previous page.
    pub after: Option<(i64, &'a str)>,
    /// Words to find in the prompt or the final prompt, matched literally (no wildcards).
    pub search: Option<&'a str>,
    pub model: Option<&'a str>,
    pub kind: Option<ImageKind>,
}

/// One stored derivative of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivativeRecord {
    pub key: String,
    pub image_id: String,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// The blob's length.
    pub bytes: u64,
    /// Hex SHA-256 of the blob; `None` for rows recorded before the catalog kept it.
    pub content_hash: Option<String>,
}

impl DerivativeRecord {
    pub fn blob_key(&self) -> String {
        derivative_key(&self.key, self.format)
    }
}

/// A blob that a delete left without its row: removed next, unless something needs it again by then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orphan {
    /// The original of the deleted image (no other image had the same content).
    Original {
        content_hash: String,
        format: ImageFormat,
    },
    /// One of its derivatives.
    Derivative { key: String, format: ImageFormat },
}

impl Orphan {
    pub fn blob_key(&self) -> String {
        match self {
            Orphan::Original {
                content_hash,
                format,
            } => original_key(content_hash, *format),
            Orphan::Derivative { key, format } => derivative_key(key, *format),
        }
    }
}

/// One answer of the prompt cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPrompt {
    pub pipeline: String,
    pub family: String,
    pub prompt: String,
    pub final_prompt: String,
}
