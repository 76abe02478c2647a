//! Which size a model generates for a requested size: the entry of its table nearest in aspect ratio, or
//! the requested size scaled into its range. The exact requested size is cropped from that afterwards.

use crate::server::config::Sizes;
use crate::urls::placeholder::Size;

/// What the provider is asked to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationSize {
    pub size: Size,
    /// The table's ratio label (Replicate takes `aspect_ratio`), when the model has a table.
    pub ratio: Option<String>,
}

pub fn generation_size(sizes: &Sizes, requested: Size) -> GenerationSize {
    let aspect = |w: u32, h: u32| (f64::from(w) / f64::from(h)).ln();
    let wanted = aspect(requested.width, requested.height);
    match sizes {
        Sizes::Any => GenerationSize {
            size: requested,
            ratio: None,
        },
        Sizes::Table(entries) => {
            let best = entries
                .iter()
                .min_by(|a, b| {
                    let da = (aspect(a.width, a.height) - wanted).abs();
                    let db = (aspect(b.width, b.height) - wanted).abs();
                    da.total_cmp(&db)
                })
                .expect("validated: tables are not empty");
            GenerationSize {
                size: Size {
                    width: best.width,
                    height: best.height,
                },
                ratio: Some(best.ratio.clone()),
            }
        }
        Sizes::Range { min, max, multiple } => {
            let (w, h) = (f64::from(requested.width), f64::from(requested.height));
            // Shrink to fit the maximum, grow to reach the minimum, keeping the aspect ratio.
            let down = (f64::from(*max) / w).min(f64::from(*max) / h).min(1.0);
            let up = (f64::from(*min) / (w * down))
                .max(f64::from(*min) / (h * down))
                .max(1.0);
            let scale = down * up;
            let fit = |v: f64| {
                let rounded = ((v * scale) / f64::from(*multiple)).round() as u32 * multiple;
                rounded.clamp(
                    min.div_ceil(*multiple) * multiple,
                    max / multiple * multiple,
                )
            };
            GenerationSize {
                size: Size {
                    width: fit(w),
                    height: fit(h),
                },
                ratio: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::CatalogConfig;

    fn size(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    fn flux() -> Sizes {
        CatalogConfig::default().models[0].sizes.clone()
    }

    #[test]
    fn tables_pick_the_nearest_aspect_ratio() {
        let pick = |w, h| generation_size(&flux(), size(w, h));
        assert_eq!(
            pick(800, 600),
            GenerationSize {
                size: size(1152, 896),
                ratio: Some("4:3".into())
            }
        );
        assert_eq!(pick(1920, 1080).ratio.as_deref(), Some("16:9"));
        assert_eq!(pick(100, 100).size, size(1024, 1024));
        assert_eq!(pick(1080, 1920).ratio.as_deref(), Some("9:16"));
        assert_eq!(pick(4000, 100).ratio.as_deref(), Some("21:9"));
        assert_eq!(pick(1, 4096).ratio.as_deref(), Some("9:21"));
    }

    #[test]
    fn ranges_scale_into_bounds_in_multiples() {
        let range = Sizes::Range {
            min: 256,
            max: 2048,
            multiple: 8,
        };
        let pick = |w, h| generation_size(&range, size(w, h)).size;
        assert_eq!(pick(800, 600), size(800, 600));
        assert_eq!(pick(4096, 2048), size(2048, 1024));
        assert_eq!(pick(100, 50), size(512, 256));
        assert_eq!(pick(801, 601), size(800, 600));
        let extreme = pick(1, 4096);
        assert!(
            extreme.width >= 256 && extreme.height <= 2048,
            "{extreme:?}"
        );
        assert_eq!(generation_size(&Sizes::Any, size(7, 9)).size, size(7, 9));
    }
}
