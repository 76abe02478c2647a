//! The transform pipeline as an ordered list of small steps:
//! inspect (refuse over-limit input from its header) → decode → trim → flip → rotate → resize/crop →
//! filters → pad → encode. Reordering or adding a step is a one-line change in [`transform`].

use image::{DynamicImage, GenericImageView, Rgba as PixelRgba};

use super::encode::{encode, EncodeError};
use super::filters;
use super::geometry::{layout, Layout, Region};
use super::inspect::{decode, inspect, InspectError, Inspected};
use super::jpeg;
use crate::domain::format::ImageFormat;
use crate::urls::options::{Fit, Flip, Gravity, Milli, Rgba, TransformOptions};

/// Bumped whenever a step changes its output, so ETags and stored derivatives from older code are not
/// mistaken for current ones.
pub const PIPELINE_VERSION: u32 = 4;

pub use crate::urls::options::DEFAULT_QUALITY;

/// What `pad` fills with when the options name no background.
pub const DEFAULT_BACKGROUND: Rgba = Rgba(255, 255, 255, 255);

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("the source image is unusable: {0}")]
    Source(#[from] InspectError),
    #[error("trim removes the whole {width}x{height} image")]
    TrimTooLarge { width: u32, height: u32 },
    #[error("the result would be {width}x{height}, over the limit of {max} pixels")]
    OutputTooLarge { width: u32, height: u32, max: u64 },
    #[error("the result would enlarge the {source_width}x{source_height} source {factor:.1}× per side; the limit is {max}× (a signed URL may go further)")]
    EnlargesTooMuch {
        source_width: u32,
        source_height: u32,
        factor: f64,
        max: f64,
    },
    #[error("resize failed: {0}")]
    Resize(String),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[derive(Debug, Clone)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// What a transform needs besides the options.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The fit when the options name none: `scale-down` for `/img/…`, `cover` for `/{W}x{H}/…`.
    pub default_fit: Fit,
    /// Largest input, in pixels.
    pub max_pixels: u64,
    /// Largest output, in pixels.
    pub max_output_pixels: u64,
    /// How far the source may be enlarged, per side; `None`: as far as the options say.
    pub max_upscale: Option<f64>,
    pub format: ImageFormat,
}

pub fn transform(
    bytes: &[u8],
    options: &TransformOptions,
    settings: Settings,
) -> Result<Output, TransformError> {
    // Made from the options as they are keyed: a default spelled out (`trim=0;0;0;0`) must not take
    // another path (a JPEG is not shrunk on load before a trim) and make other bytes under one key.
    let options = &options.normalized();
    let inspected = inspect(bytes, settings.max_pixels)?;
    // Laid out from the header, so an over-limit output is refused before anything is decoded.
    let oriented = oriented_size((inspected.width, inspected.height), options)?;
    let plan = layout(oriented, options, settings.default_fit);
    let (out_w, out_h) = plan.output();
    if u64::from(out_w) * u64::from(out_h) > settings.max_output_pixels {
        return Err(TransformError::OutputTooLarge {
            width: out_w,
            height: out_h,
            max: settings.max_output_pixels,
        });
    }
    if let Some(max) = settings.max_upscale {
        let (scaled_w, scaled_h) = (f64::from(plan.scaled.0), f64::from(plan.scaled.1));
        // Half a pixel of slack: the scaled size is rounded to whole pixels.
        if scaled_w > plan.crop.width * max + 0.5 || scaled_h > plan.crop.height * max + 0.5 {
            return Err(TransformError::EnlargesTooMuch {
                source_width: oriented.0,
                source_height: oriented.1,
                factor: (scaled_w / plan.crop.width).max(scaled_h / plan.crop.height),
                max,
            });
        }
    }
    // A wide blur removes the detail a smaller image would lose, so the steps up to it work at that
    // smaller size: decoding shrinks further and the blur itself is cheaper.
    let work = filters::working_size(plan.scaled, options);
    let image = decode_for(bytes, inspected, options, &plan, work)?;
    let image = working_copy(image);
    let image = trim(image, options)?;
    let image = flip(image, options);
    let image = rotate(image, options);
    let plan = focus(&image, plan, oriented, options, settings.default_fit);
    let image = resize(image, &plan, work, oriented)?;
    let image = filters::apply(image, options, plan.scaled)
        .map_err(|e| TransformError::Resize(e.to_string()))?;
    let image = pad(image, &plan, options);
    let quality = options.quality.unwrap_or(DEFAULT_QUALITY);
    let (width, height) = image.dimensions();
    let (bytes, format) = encode(&image, settings.format, quality)?;
    Ok(Output {
        bytes,
        format,
        width,
        height,
    })
}

/// The size after trim and rotation of a `(w, h)` source, from its header: what the layout is computed
/// on (derivative keys too).
pub fn oriented_size(
    (w, h): (u32, u32),
    options: &TransformOptions,
) -> Result<(u32, u32), TransformError> {
    let t = options.trim.unwrap_or_default();
    let too_large = || TransformError::TrimTooLarge {
        width: w,
        height: h,
    };
    let width = w
        .checked_sub(t.left.saturating_add(t.right))
        .filter(|v| *v > 0)
        .ok_or_else(too_large)?;
    let height = h
        .checked_sub(t.top.saturating_add(t.bottom))
        .filter(|v| *v > 0)
        .ok_or_else(too_large)?;
    Ok(if matches!(options.rotate, Some(90 | 270)) {
        (height, width)
    } else {
        (width, height)
    })
}

/// Decodes, shrinking a JPEG on load to the smallest DCT scale that still covers `work` (unless a trim
/// refers to full-size pixel positions): a large JPEG headed for a thumbnail is never decoded at full
/// size. The layout stays the one computed at full size.
fn decode_for(
    bytes: &[u8],
    inspected: Inspected,
    options: &TransformOptions,
    plan: &Layout,
    work: (u32, u32),
) -> Result<DynamicImage, TransformError> {
    if inspected.format == ImageFormat::Jpeg {
        let full = (inspected.width, inspected.height);
        let at_least = if options.trim.is_some() {
            full
        } else {
            let shrink =
                (f64::from(work.0) / plan.crop.width).max(f64::from(work.1) / plan.crop.height);
            // One pixel of margin, so rounding never leaves the resizer short of source pixels.
            let need = |side: u32| ((f64::from(side) * shrink).ceil() as u32 + 1).min(side);
            (need(full.0), need(full.1))
        };
        // CMYK and anything libjpeg refuses go to the general decoder, which says what is wrong.
        if let Ok(Some(image)) = jpeg::decode(bytes, at_least) {
            return Ok(image);
        }
    }
    Ok(decode(bytes, inspected)?)
}

/// 8-bit RGB, or RGBA when the image has alpha: what every later step works on.
fn working_copy(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

fn trim(image: DynamicImage, options: &TransformOptions) -> Result<DynamicImage, TransformError> {
    let Some(t) = options.trim else {
        return Ok(image);
    };
    let (w, h) = image.dimensions();
    let (cut_w, cut_h) = (
        t.left.saturating_add(t.right),
        t.top.saturating_add(t.bottom),
    );
    if cut_w >= w || cut_h >= h {
        return Err(TransformError::TrimTooLarge {
            width: w,
            height: h,
        });
    }
    Ok(image.crop_imm(t.left, t.top, w - cut_w, h - cut_h))
}

fn flip(image: DynamicImage, options: &TransformOptions) -> DynamicImage {
    match options.flip {
        None => image,
        Some(Flip::Horizontal) => image.fliph(),
        Some(Flip::Vertical) => image.flipv(),
        Some(Flip::Both) => image.fliph().flipv(),
    }
}

fn rotate(image: DynamicImage, options: &TransformOptions) -> DynamicImage {
    match options.rotate {
        Some(90) => image.rotate90(),
        Some(180) => image.rotate180(),
        Some(270) => image.rotate270(),
        _ => image,
    }
}

/// `gravity=auto`: the crop moved to where the detail is, found on the decoded pixels (the layout from
/// the header could only centre it). Only the crop's position changes, never its size.
fn focus(
    image: &DynamicImage,
    plan: Layout,
    full: (u32, u32),
    options: &TransformOptions,
    default_fit: Fit,
) -> Layout {
    let keep = (
        plan.crop.width / f64::from(full.0),
        plan.crop.height / f64::from(full.1),
    );
    if options.gravity != Some(Gravity::Auto) || (keep.0 >= 1.0 && keep.1 >= 1.0) {
        return plan;
    }
    let (x, y) = super::focus::focal_point(image, keep);
    let milli = |f: f64| Milli((f * 1000.0).round() as u32);
    let focused = TransformOptions {
        gravity: Some(Gravity::Point(milli(x), milli(y))),
        ..options.clone()
    };
    layout(full, &focused, default_fit)
}

/// Crops and scales to `work`: the layout's scaled size, or smaller when a wide blur follows.
fn resize(
    image: DynamicImage,
    plan: &Layout,
    work: (u32, u32),
    full: (u32, u32),
) -> Result<DynamicImage, TransformError> {
    let source = image.dimensions();
    if source == full && work == source && plan.crop == Region::whole(full) {
        return Ok(image);
    }
    // The plan is in full-size pixels; a JPEG shrunk on load is smaller by the same factor both ways.
    let (fx, fy) = (
        f64::from(source.0) / f64::from(full.0),
        f64::from(source.1) / f64::from(full.1),
    );
    let crop = Region {
        left: plan.crop.left * fx,
        top: plan.crop.top * fy,
        width: (plan.crop.width * fx).min(f64::from(source.0)),
        height: (plan.crop.height * fy).min(f64::from(source.1)),
    };
    super::resize::scale(&image, crop, work).map_err(|e| TransformError::Resize(e.to_string()))
}

/// For `pad`: the image on a canvas of the background colour (white unless given).
fn pad(image: DynamicImage, plan: &Layout, options: &TransformOptions) -> DynamicImage {
    let Some(canvas) = plan.canvas else {
        return image;
    };
    let Rgba(r, g, b, a) = options.background.unwrap_or(DEFAULT_BACKGROUND);
    let (x, y) = (i64::from(canvas.x), i64::from(canvas.y));
    if a == 255 && !image.color().has_alpha() {
        let mut rgb =
            image::RgbImage::from_pixel(canvas.width, canvas.height, image::Rgb([r, g, b]));
        image::imageops::overlay(&mut rgb, &image.to_rgb8(), x, y);
        DynamicImage::ImageRgb8(rgb)
    } else {
        let mut rgba =
            image::RgbaImage::from_pixel(canvas.width, canvas.height, PixelRgba([r, g, b, a]));
        image::imageops::overlay(&mut rgba, &image.to_rgba8(), x, y);
        DynamicImage::ImageRgba8(rgba)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, _| {
            if x < width / 2 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image)
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    fn run(bytes: &[u8], options: &str, format: ImageFormat) -> Result<Output, TransformError> {
        transform(
            bytes,
            &TransformOptions::parse(options).unwrap(),
            Settings {
                default_fit: Fit::ScaleDown,
                max_pixels: 50_000_000,
                max_output_pixels: 50_000_000,
                max_upscale: None,
                format,
            },
        )
    }

    fn decoded(output: &Output) -> DynamicImage {
        image::load_from_memory(&output.bytes).unwrap()
    }

    #[test]
    fn sizes_and_formats_come_out_as_asked() {
        let src = source(400, 200);
        for (options, size) in [
            ("width=100", (100, 50)),
            ("width=100,height=100,fit=cover", (100, 100)),
            ("width=100,height=100,fit=pad,background=black", (100, 100)),
            ("width=100,height=100,fit=contain", (100, 50)),
            ("rotate=90", (200, 400)),
            ("trim=10;20;30;40", (340, 160)),
            ("rotate=90,width=50", (50, 100)),
        ] {
            let out = run(&src, options, ImageFormat::Png).unwrap();
            assert_eq!((out.width, out.height), size, "{options}");
            assert_eq!(decoded(&out).dimensions(), size, "{options}");
        }
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp] {
            let out = run(&src, "width=64", format).unwrap();
            assert_eq!(ImageFormat::sniff(&out.bytes), Some(format));
        }
    }

    #[test]
    fn flips_rotations_and_pads_move_the_right_pixels() {
        let src = source(40, 20);
        let flipped = decoded(&run(&src, "flip=h", ImageFormat::Png).unwrap()).to_rgb8();
        assert_eq!(flipped.get_pixel(0, 0).0, [0, 0, 255], "blue moved left");
        let padded = decoded(
            &run(
                &src,
                "width=40,height=40,fit=pad,background=%2300ff00",
                ImageFormat::Png,
            )
            .unwrap(),
        )
        .to_rgb8();
        assert_eq!(
            padded.get_pixel(20, 2).0,
            [0, 255, 0],
            "background above the image"
        );
        assert_eq!(
            padded.get_pixel(2, 20).0,
            [255, 0, 0],
            "image in the middle"
        );
        let grey = decoded(&run(&src, "saturation=0", ImageFormat::Png).unwrap()).to_rgb8();
        let p = grey.get_pixel(0, 0).0;
        assert!(p[0] == p[1] && p[1] == p[2], "saturation 0 is grey: {p:?}");
    }

    #[test]
    fn shrink_on_load_gives_the_same_dimensions() {
        let png = source(801, 601);
        let jpeg = {
            let image = image::load_from_memory(&png).unwrap();
            let mut out = std::io::Cursor::new(Vec::new());
            image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
            out.into_inner()
        };
        for options in [
            "width=150",
            "height=77",
            "width=100,height=100,fit=cover,gravity=left",
            "width=200,height=90,fit=contain",
            "width=120,height=120,fit=pad",
            "rotate=90,width=101",
            "width=50,height=50,fit=squeeze,dpr=2",
        ] {
            let a = run(&png, options, ImageFormat::Png).unwrap();
            let b = run(&jpeg, options, ImageFormat::Png).unwrap();
            assert_eq!((a.width, a.height), (b.width, b.height), "{options}");
        }
        let left = decoded(
            &run(
                &jpeg,
                "width=40,height=40,fit=cover,gravity=left",
                ImageFormat::Png,
            )
            .unwrap(),
        )
        .to_rgb8();
        assert!(
            left.get_pixel(20, 20).0[0] > 200,
            "the left (red) part was kept"
        );
    }

    #[test]
    fn gravity_auto_keeps_the_detailed_part() {
        // Flat red on the left two thirds, a blue-and-white checkerboard on the right third.
        let image = image::RgbImage::from_fn(600, 200, |x, y| match x {
            0..400 => image::Rgb([200, 0, 0]),
            _ if (x / 5 + y / 5) % 2 == 0 => image::Rgb([255, 255, 255]),
            _ => image::Rgb([0, 0, 255]),
        });
        let mut png = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image)
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let crop = |gravity: &str| {
            let options = format!("width=200,height=200,fit=cover,gravity={gravity}");
            decoded(&run(png.get_ref(), &options, ImageFormat::Png).unwrap()).to_rgb8()
        };
        let auto = crop("auto");
        assert_eq!(auto.dimensions(), (200, 200));
        // The crop may start between pixels; no reddish pixel means none of the red side came along.
        let red = |p: &&image::Rgb<u8>| p.0[0] > 150 && p.0[2] < 100;
        let reds: Vec<_> = auto
            .enumerate_pixels()
            .filter(|(_, _, p)| red(p))
            .take(3)
            .collect();
        assert!(reds.is_empty(), "only the checkerboard is kept: {reds:?}");
        assert_eq!(
            crop("center").get_pixel(50, 100).0,
            [200, 0, 0],
            "centre keeps red"
        );
    }

    #[test]
    fn limits_and_bad_trims_are_errors() {
        let src = source(40, 20);
        assert!(matches!(
            run(&src, "trim=0;20;0;20", ImageFormat::Png),
            Err(TransformError::TrimTooLarge { .. })
        ));
        let huge = transform(
            &src,
            &TransformOptions::parse("width=12000,height=12000,fit=squeeze").unwrap(),
            Settings {
                default_fit: Fit::ScaleDown,
                max_pixels: 50_000_000,
                max_output_pixels: 1_000_000,
                max_upscale: None,
                format: ImageFormat::Png,
            },
        );
        assert!(matches!(huge, Err(TransformError::OutputTooLarge { .. })));
        let bounded = |options: &str| {
            transform(
                &src,
                &TransformOptions::parse(options).unwrap(),
                Settings {
                    default_fit: Fit::ScaleDown,
                    max_pixels: 50_000_000,
                    max_output_pixels: 50_000_000,
                    max_upscale: Some(2.0),
                    format: ImageFormat::Png,
                },
            )
        };
        // 40x20: twice per side is the limit, whichever side the options name.
        assert_eq!(bounded("width=80,fit=contain").unwrap().width, 80);
        assert_eq!(bounded("height=40,fit=cover,width=80").unwrap().height, 40);
        let refused = bounded("width=81,fit=contain").unwrap_err();
        assert!(matches!(refused, TransformError::EnlargesTooMuch { .. }));
        assert!(refused.to_string().contains("40x20"), "{refused}");
        assert!(matches!(
            bounded("width=100,height=100,fit=squeeze"),
            Err(TransformError::EnlargesTooMuch { .. })
        ));
        // Padding is not enlargement: the image inside stays within twice its size.
        let padded = bounded("width=80,height=80,fit=pad").unwrap();
        assert_eq!((padded.width, padded.height), (80, 80));
        // Cover enlarges to fill, then crops: 20 rows to 100 is five times.
        assert!(bounded("width=100,height=100,fit=cover").is_err());
        assert!(matches!(
            run(b"not an image", "", ImageFormat::Png),
            Err(TransformError::Source(_))
        ));
    }
}
