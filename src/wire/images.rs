//! The image catalog as the UI sees it: gallery pages, an image's details, what became of a delete.

use serde::{Deserialize, Serialize};

use crate::domain::kind::ImageKind;

/// One stored image, as listed on the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    pub kind: ImageKind,
    pub prompt: String,
    pub model: String,
    pub width: u32,
    pub height: u32,
    /// Where the stored original is served.
    pub url: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A page of the gallery and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gallery {
    pub images: Vec<ImageSummary>,
    pub next_cursor: Option<String>,
}

/// Everything about one image, for its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetails {
    pub summary: ImageSummary,
    pub final_prompt: String,
    pub negative_prompt: Option<String>,
    pub provider: String,
    pub seed: u32,
    pub steps: Option<u32>,
    pub format: String,
    pub bytes: u64,
    pub translation: String,
    pub translation_note: Option<String>,
    pub kind: ImageKind,
    /// What an edit was made from and with (image ids), and how far it went, in hundredths.
    pub source_id: Option<String>,
    pub mask_id: Option<String>,
    pub strength: Option<u8>,
    /// The newest images edited from this one.
    pub edits: Vec<ImageSummary>,
}

/// How many of an image's edits its page lists.
pub const EDITS_SHOWN: u32 = 12;

/// What became of a request to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deleted {
    Deleted,
    /// The server has an API key and this browser has not signed in with it.
    NeedsSignIn,
    /// Refused, with the reason in plain words.
    Refused(String),
}
