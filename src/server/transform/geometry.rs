//! Where pixels go: from the source size and the options, the region of the source to keep, the size to
//! scale it to, and (for `pad`) the canvas around it. Pure arithmetic, so every fit mode is tested
//! without touching a pixel.

use crate::urls::options::{Fit, Gravity, Milli, TransformOptions, MAX_DIMENSION};

/// A rectangle in source pixels (fractional, as the resizer samples sub-pixel crops).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Region {
    /// All of a `width` × `height` image.
    pub fn whole((width, height): (u32, u32)) -> Self {
        Self {
            left: 0.0,
            top: 0.0,
            width: f64::from(width),
            height: f64::from(height),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// The part of the source that is kept.
    pub crop: Region,
    /// What that part is scaled to.
    pub scaled: (u32, u32),
    /// For `pad`: the output canvas and where the scaled image sits on it.
    pub canvas: Option<Canvas>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub x: u32,
    pub y: u32,
}

impl Layout {
    /// The final output size.
    pub fn output(&self) -> (u32, u32) {
        self.canvas.map_or(self.scaled, |c| (c.width, c.height))
    }

    /// Nothing to crop or scale.
    pub fn is_identity(&self, source: (u32, u32)) -> bool {
        self.canvas.is_none() && self.scaled == source && self.crop == Region::whole(source)
    }
}

fn px(value: f64) -> u32 {
    (value.round() as u32).clamp(1, MAX_DIMENSION)
}

/// Where a crop of `crop` out of `full` starts, for a gravity along one axis (`fraction` 0 = start).
fn offset(full: f64, crop: f64, fraction: f64, focal: bool) -> f64 {
    let slack = (full - crop).max(0.0);
    if focal {
        // Centre the crop on the focal point, kept inside the image.
        (fraction * full - crop / 2.0).clamp(0.0, slack)
    } else {
        slack * fraction
    }
}

/// Gravity as fractions along each axis, and whether it names a focal point.
fn fractions(gravity: Option<Gravity>) -> (f64, f64, bool) {
    match gravity.unwrap_or(Gravity::Center) {
        Gravity::Auto | Gravity::Center => (0.5, 0.5, false),
        Gravity::Left => (0.0, 0.5, false),
        Gravity::Right => (1.0, 0.5, false),
        Gravity::Top => (0.5, 0.0, false),
        Gravity::Bottom => (0.5, 1.0, false),
        Gravity::Point(x, y) => (x.as_f64(), y.as_f64(), true),
    }
}

/// Lays out a `source`-sized image for `options`; `default_fit` applies when the options name none.
pub fn layout(source: (u32, u32), options: &TransformOptions, default_fit: Fit) -> Layout {
    let (sw, sh) = (f64::from(source.0), f64::from(source.1));
    let dpr = options.dpr.unwrap_or(Milli::ONE).as_f64();
    let want_w = options.width.map(|w| f64::from(w) * dpr);
    let want_h = options.height.map(|h| f64::from(h) * dpr);
    let full = Region {
        left: 0.0,
        top: 0.0,
        width: sw,
        height: sh,
    };
    let fit = options.fit.unwrap_or(default_fit);
    let no_enlarge = matches!(fit, Fit::ScaleDown | Fit::Crop);
    let proportional = |scale: f64| {
        let scale = if no_enlarge { scale.min(1.0) } else { scale };
        Layout {
            crop: full,
            scaled: (px(sw * scale), px(sh * scale)),
            canvas: None,
        }
    };

    let (w, h) = match (want_w, want_h) {
        (None, None) => {
            return Layout {
                crop: full,
                scaled: source,
                canvas: None,
            }
        }
        (Some(w), Some(h)) => (w, h),
        // One side given: scale proportionally, whatever the fit.
        (Some(w), None) => return proportional(w / sw),
        (None, Some(h)) => return proportional(h / sh),
    };

    let (gx, gy, focal) = fractions(options.gravity);
    let cropped = |scale: f64, out_w: f64, out_h: f64| {
        let (cw, ch) = ((out_w / scale).min(sw), (out_h / scale).min(sh));
        Layout {
            crop: Region {
                left: offset(sw, cw, gx, focal),
                top: offset(sh, ch, gy, focal),
                width: cw,
                height: ch,
            },
            scaled: (px(out_w), px(out_h)),
            canvas: None,
        }
    };
    match fit {
        Fit::Squeeze => Layout {
            crop: full,
            scaled: (px(w), px(h)),
            canvas: None,
        },
        Fit::Contain | Fit::ScaleDown => {
            let mut scale = (w / sw).min(h / sh);
            if fit == Fit::ScaleDown {
                scale = scale.min(1.0);
            }
            Layout {
                crop: full,
                scaled: (px(sw * scale), px(sh * scale)),
                canvas: None,
            }
        }
        Fit::Cover => cropped((w / sw).max(h / sh), w, h),
        Fit::Crop => {
            let scale = (w / sw).max(h / sh).min(1.0);
            cropped(scale, w.min(sw * scale), h.min(sh * scale))
        }
        Fit::Pad => {
            let scale = (w / sw).min(h / sh);
            let scaled = (px(sw * scale), px(sh * scale));
            let (cw, ch) = (px(w), px(h));
            let place = |canvas: u32, inner: u32, fraction: f64| {
                (f64::from(canvas.saturating_sub(inner)) * fraction).round() as u32
            };
            let (px_, py_) = if focal { (0.5, 0.5) } else { (gx, gy) };
            Layout {
                crop: full,
                scaled,
                canvas: Some(Canvas {
                    width: cw,
                    height: ch,
                    x: place(cw, scaled.0, px_),
                    y: place(ch, scaled.1, py_),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> TransformOptions {
        TransformOptions::parse(s).unwrap()
    }

    fn out(source: (u32, u32), s: &str) -> (u32, u32) {
        layout(source, &opts(s), Fit::ScaleDown).output()
    }

    #[test]
    fn every_fit_mode_gives_the_documented_size() {
        let src = (1000, 500);
        assert_eq!(out(src, ""), (1000, 500));
        assert_eq!(out(src, "width=400,height=300,fit=scale-down"), (400, 200));
        assert_eq!(
            out(src, "width=4000,height=3000,fit=scale-down"),
            (1000, 500),
            "never enlarges"
        );
        assert_eq!(out(src, "width=4000,height=3000,fit=contain"), (4000, 2000));
        assert_eq!(out(src, "width=400,height=300,fit=cover"), (400, 300));
        assert_eq!(out(src, "width=400,height=300,fit=crop"), (400, 300));
        assert_eq!(
            out(src, "width=2000,height=300,fit=crop"),
            (1000, 300),
            "crop never enlarges"
        );
        assert_eq!(out(src, "width=400,height=300,fit=pad"), (400, 300));
        assert_eq!(out(src, "width=400,height=300,fit=squeeze"), (400, 300));
        assert_eq!(
            out(src, "width=400,height=300,fit=squeeze,dpr=2"),
            (800, 600)
        );
    }

    #[test]
    fn one_side_scales_proportionally() {
        let src = (1000, 500);
        assert_eq!(out(src, "width=400"), (400, 200));
        assert_eq!(out(src, "height=100"), (200, 100));
        assert_eq!(
            out(src, "width=2000"),
            (1000, 500),
            "scale-down keeps the size"
        );
        assert_eq!(out(src, "width=2000,fit=contain"), (2000, 1000));
        assert_eq!(out(src, "height=50,dpr=2"), (200, 100));
    }

    #[test]
    fn cover_crops_where_gravity_says() {
        let src = (1000, 500);
        let crop = |g: &str| {
            layout(
                src,
                &opts(&format!("width=500,height=500,fit=cover,gravity={g}")),
                Fit::Cover,
            )
            .crop
        };
        assert_eq!(crop("center").left, 250.0);
        assert_eq!(crop("left").left, 0.0);
        assert_eq!(crop("right").left, 500.0);
        assert_eq!(
            crop("0.9x0.5").left,
            500.0,
            "a focal point near the edge is kept inside"
        );
        assert!((crop("0.4x0.5").left - 150.0).abs() < 1e-9);
        let pad = layout(
            src,
            &opts("width=500,height=500,fit=pad,gravity=top"),
            Fit::Cover,
        );
        assert_eq!(
            pad.canvas,
            Some(Canvas {
                width: 500,
                height: 500,
                x: 0,
                y: 0
            })
        );
        assert_eq!(pad.scaled, (500, 250));
    }

    #[test]
    fn tiny_and_extreme_inputs_stay_in_bounds() {
        assert_eq!(out((1, 1), "width=12000,height=1,fit=cover"), (12000, 1));
        assert_eq!(out((12000, 1), "width=1,fit=contain"), (1, 1));
        assert_eq!(out((3, 12000), "width=1,height=1,fit=pad"), (1, 1));
        assert!(layout((10, 10), &opts(""), Fit::ScaleDown).is_identity((10, 10)));
    }
}
