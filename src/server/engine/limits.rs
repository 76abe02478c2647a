//! The `[limits]` the engine applies to what it makes from what it is sent: new derivatives
//! ([`DeriveLimits`]) and uploads ([`UploadLimits`]).

/// `[limits]` for new derivatives: how large one may be, and how far it may enlarge its source.
#[derive(Debug, Clone, Copy)]
pub struct DeriveLimits {
    /// Largest output, in pixels.
    pub max_pixels: u64,
    /// How far a source may be enlarged per side; 0 = no limit.
    pub max_upscale: f64,
}

impl Default for DeriveLimits {
    fn default() -> Self {
        Self {
            max_pixels: 4096 * 4096,
            max_upscale: 2.0,
        }
    }
}

/// `[limits]` on uploads: how many bytes, and how many pixels.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        let limits = crate::server::config::LimitsConfig::default();
        Self {
            max_bytes: limits.max_upload_bytes,
            max_pixels: limits.max_upload_pixels,
        }
    }
}
