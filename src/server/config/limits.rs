//! `[limits]`: the largest image a URL may ask for, derivative may be made, or upload may be.

use serde::{Deserialize, Serialize};

use super::check::invalid;
use super::ConfigError;
use crate::urls::placeholder::UrlLimits;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_width: u32,
    pub max_height: u32,
    pub max_slug_chars: usize,
    /// How far a new derivative may enlarge its source, per side, unless its URL is signed or the
    /// API key asks; 0 = no limit.
    pub max_upscale: f64,
    /// Largest new derivative, in pixels (the largest generation, 4096², fits).
    pub max_derivative_pixels: u64,
    /// Largest upload (`POST /api/uploads`, an edit's source or mask), in bytes as sent.
    pub max_upload_bytes: usize,
    /// Largest upload in pixels, checked from its header before it is decoded.
    pub max_upload_pixels: u64,
    /// Longest prompt (and negative prompt) any face accepts, in characters.
    pub max_prompt_chars: usize,
    /// Longest search of the catalog (`GET /api/images?q=`, the gallery), in characters: a search
    /// is matched as a whole and ranked by its trigrams, so its cost grows with its length.
    pub max_search_chars: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let url = UrlLimits::default();
        Self {
            max_width: url.max_width,
            max_height: url.max_height,
            max_slug_chars: url.max_slug_chars,
            max_upscale: 2.0,
            max_derivative_pixels: 4096 * 4096,
            max_upload_bytes: 20 * 1024 * 1024,
            // A 48-megapixel phone photo fits; decoded, it takes about 200 MB.
            max_upload_pixels: 50_000_000,
            // Far more than any model reads (CLIP takes 77 tokens, T5 512), and a few kilobytes
            // for every step the text goes through.
            max_prompt_chars: 2000,
            max_search_chars: 200,
        }
    }
}

impl LimitsConfig {
    pub fn url_limits(&self) -> UrlLimits {
        UrlLimits {
            max_width: self.max_width,
            max_height: self.max_height,
            max_slug_chars: self.max_slug_chars,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        const MAX_SIDE: u32 = 16_384;
        // As long as the longest prompt a URL may carry: longer searches find nothing a shorter
        // one would not, and cost more to rank.
        const MAX_SEARCH_CHARS: usize = 2000;
        if !(self.max_upscale.is_finite() && (self.max_upscale == 0.0 || self.max_upscale >= 1.0)) {
            return invalid(
                "limits.max_upscale",
                format!(
                    "is {}; use 0 (no limit) or a factor of at least 1",
                    self.max_upscale
                ),
            );
        }
        if self.max_upload_bytes == 0 {
            return invalid("limits.max_upload_bytes", "must be at least 1");
        }
        if self.max_upload_pixels == 0 {
            return invalid("limits.max_upload_pixels", "must be at least 1");
        }
        if !(1..=100_000).contains(&self.max_prompt_chars) {
            return invalid("limits.max_prompt_chars", "must be between 1 and 100000");
        }
        if self.max_derivative_pixels == 0 {
            return invalid("limits.max_derivative_pixels", "must be at least 1");
        }
        if !(1..=MAX_SIDE).contains(&self.max_width) {
            return invalid(
                "limits.max_width",
                format!("must be between 1 and {MAX_SIDE}"),
            );
        }
        if !(1..=MAX_SIDE).contains(&self.max_height) {
            return invalid(
                "limits.max_height",
                format!("must be between 1 and {MAX_SIDE}"),
            );
        }
        if !(1..=2000).contains(&self.max_slug_chars) {
            return invalid("limits.max_slug_chars", "must be between 1 and 2000");
        }
        if !(1..=MAX_SEARCH_CHARS).contains(&self.max_search_chars) {
            return invalid(
                "limits.max_search_chars",
                format!("must be between 1 and {MAX_SEARCH_CHARS}"),
            );
        }
        Ok(())
    }
}
