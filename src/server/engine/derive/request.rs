//! What a derivative request asks for: the options and format ([`DeriveRequest`]), and how far a new
//! derivative may enlarge its source ([`Enlarge`]), which never changes what is made, only whether it
//! may be.

use crate::domain::format::ImageFormat;
use crate::server::transform::geometry::layout;
use crate::urls::options::{Fit, TransformOptions};
use crate::urls::placeholder::Size;

/// What to make from a stored image.
#[derive(Debug, Clone)]
pub struct DeriveRequest {
    pub options: TransformOptions,
    pub format: ImageFormat,
    pub default_fit: Fit,
    /// How far a new one may enlarge the image. Not part of the key: it refuses enlargements, never
    /// changes what is made, and a derivative once made is served to any URL.
    pub enlarge: Enlarge,
}

/// How far a new derivative may enlarge its source, per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enlarge {
    /// Up to `limits.max_upscale`.
    Limited,
    /// Up to `limits.max_upscale` beyond a `fit=cover` of the source to this size, which may itself
    /// enlarge at any factor: a placeholder URL's W×H is part of generating it, its options are not.
    BeyondCover(Size),
    /// As far as the options say: a signed URL or the API key asks.
    Unlimited,
}

impl Enlarge {
    /// The factor per side a `source`-sized image may be enlarged by under `max_upscale` (0 = no
    /// limit); `None`: any.
    pub(super) fn limit(self, max_upscale: f64, source: (u32, u32)) -> Option<f64> {
        if max_upscale <= 0.0 {
            return None;
        }
        match self {
            Enlarge::Limited => Some(max_upscale),
            Enlarge::Unlimited => None,
            Enlarge::BeyondCover(size) => {
                let cover = TransformOptions {
                    width: Some(size.width),
                    height: Some(size.height),
                    ..TransformOptions::default()
                };
                let plan = layout(source, &cover, Fit::Cover);
                let factor = (f64::from(plan.scaled.0) / plan.crop.width)
                    .max(f64::from(plan.scaled.1) / plan.crop.height);
                Some(max_upscale * factor.max(1.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_may_enlarge_past_its_own_crop_only_within_the_limit() {
        let source = (512, 384);
        assert_eq!(Enlarge::Limited.limit(2.0, source), Some(2.0));
        assert_eq!(Enlarge::Unlimited.limit(2.0, source), None);
        assert_eq!(Enlarge::Limited.limit(0.0, source), None, "0: no limit");
        let size = |width, height| Enlarge::BeyondCover(Size { width, height });
        // 2048×1536 covered from 512×384 is 4×: the options may go 2× beyond that.
        assert_eq!(size(2048, 1536).limit(2.0, source), Some(8.0));
        // A crop that shrinks leaves the limit as it is for the original.
        assert_eq!(size(256, 256).limit(2.0, source), Some(2.0));
        // Cover fills both sides: the wider factor counts.
        assert_eq!(size(2048, 384).limit(2.0, source), Some(8.0));
    }
}
