//! Colour and detail filters, in a fixed order: blur (at a reduced working size when it is wide),
//! sharpen, then brightness → contrast → gamma through one lookup table, then saturation. Tone curves
//! are a few lines of arithmetic on a 256-entry table, so they are written here rather than pulled
//! from a crate.

use fast_image_resize::{FilterType, ResizeError};
use image::{DynamicImage, GenericImageView};

use crate::urls::options::{Milli, TransformOptions};

/// Cloudflare's blur radius is a Gaussian of half that sigma.
fn sigma(options: &TransformOptions) -> Option<f32> {
    options
        .blur
        .filter(|r| *r > 0)
        .map(|radius| f32::from(radius) / 2.0)
}

/// The size to work at until the blur is done: for a wide blur, `scaled` reduced by up to 8× while
/// keeping at least two pixels of sigma, since the blur removes exactly the detail the reduction drops.
pub fn working_size(scaled: (u32, u32), options: &TransformOptions) -> (u32, u32) {
    let Some(sigma) = sigma(options) else {
        return scaled;
    };
    let factor = (sigma / 2.0).floor().clamp(1.0, 8.0) as u32;
    if factor == 1 || scaled.0 / factor < 8 || scaled.1 / factor < 8 {
        return scaled;
    }
    (scaled.0.div_ceil(factor), scaled.1.div_ceil(factor))
}

/// The filters on an image at its working size; the result is `output` large.
pub fn apply(
    image: DynamicImage,
    options: &TransformOptions,
    output: (u32, u32),
) -> Result<DynamicImage, ResizeError> {
    let mut image = image;
    if let Some(sigma) = sigma(options) {
        image = blur(image, sigma, output)?;
    }
    if let Some(amount) = options.sharpen.filter(|s| s.0 > 0) {
        image = image.unsharpen(0.5 + amount.as_f32() * 0.25, 0);
    }
    let table = tone_table(options);
    let saturation = options
        .saturation
        .filter(|s| *s != Milli::ONE)
        .map(Milli::as_f32);
    if table.is_none() && saturation.is_none() {
        return Ok(image);
    }
    let channels = if image.color().has_alpha() { 4 } else { 3 };
    let pixels: &mut [u8] = match &mut image {
        DynamicImage::ImageRgb8(buffer) => buffer,
        DynamicImage::ImageRgba8(buffer) => buffer,
        // The pipeline only hands over 8-bit RGB(A).
        _ => return Ok(image),
    };
    for pixel in pixels.chunks_exact_mut(channels) {
        if let Some(table) = &table {
            for c in &mut pixel[..3] {
                *c = table[usize::from(*c)];
            }
        }
        if let Some(s) = saturation {
            let [r, g, b] = [pixel[0], pixel[1], pixel[2]].map(f32::from);
            let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
            for c in &mut pixel[..3] {
                *c = (luma + (f32::from(*c) - luma) * s)
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(image)
}

/// A Gaussian-like blur of `sigma` output pixels on an image at its working size, then scaled to
/// `output` (bilinear is smooth enough for what a wide blur leaves).
fn blur(image: DynamicImage, sigma: f32, output: (u32, u32)) -> Result<DynamicImage, ResizeError> {
    let sigma = sigma * image.width() as f32 / output.0 as f32;
    let blurred = gaussian(image, sigma);
    if blurred.dimensions() == output {
        return Ok(blurred);
    }
    let whole = super::geometry::Region::whole(blurred.dimensions());
    super::resize::scale_with(&blurred, whole, output, FilterType::Bilinear)
}

/// A true Gaussian of `sigma` pixels through libblur (fixed-point SIMD convolution, several times
/// faster than `image`'s box approximation), on this thread: the transform pool already spreads work
/// over the cores.
fn gaussian(image: DynamicImage, sigma: f32) -> DynamicImage {
    use libblur::{
        BlurImage, BlurImageMut, ConvolutionMode, EdgeMode, EdgeMode2D, FastBlurChannels,
        GaussianBlurParams, ThreadingPolicy,
    };
    let (width, height) = image.dimensions();
    let (channels, pixels) = match &image {
        DynamicImage::ImageRgb8(buffer) => (FastBlurChannels::Channels3, buffer.as_raw()),
        DynamicImage::ImageRgba8(buffer) => (FastBlurChannels::Channels4, buffer.as_raw()),
        // The pipeline only hands over 8-bit RGB(A).
        _ => return image.fast_blur(sigma),
    };
    let mut out = vec![0u8; pixels.len()];
    let blurred = libblur::gaussian_blur(
        &BlurImage::borrow(pixels, width, height, channels),
        &mut BlurImageMut::borrow(&mut out, width, height, channels),
        GaussianBlurParams::new_from_sigma(f64::from(sigma)),
        EdgeMode2D::new(EdgeMode::Clamp),
        ThreadingPolicy::Single,
        ConvolutionMode::FixedPoint,
    );
    let rebuilt = match (blurred, channels) {
        (Err(_), _) => None,
        (Ok(()), FastBlurChannels::Channels3) => {
            image::RgbImage::from_raw(width, height, out).map(DynamicImage::ImageRgb8)
        }
        (Ok(()), _) => image::RgbaImage::from_raw(width, height, out).map(DynamicImage::ImageRgba8),
    };
    // A kernel wider than a tiny image is refused; the box approximation copes with anything.
    rebuilt.unwrap_or_else(|| image.fast_blur(sigma))
}

/// brightness (multiply), contrast (around mid-grey), gamma (power), or `None` when all are neutral.
fn tone_table(options: &TransformOptions) -> Option<[u8; 256]> {
    let neutral = |v: Option<Milli>| v.is_none_or(|v| v == Milli::ONE);
    if neutral(options.brightness) && neutral(options.contrast) && neutral(options.gamma) {
        return None;
    }
    let brightness = options.brightness.map_or(1.0, Milli::as_f32);
    let contrast = options.contrast.map_or(1.0, Milli::as_f32);
    let gamma = options.gamma.map_or(1.0, Milli::as_f32);
    Some(std::array::from_fn(|i| {
        let v = i as f32 / 255.0 * brightness;
        let v = (v - 0.5) * contrast + 0.5;
        let v = v.clamp(0.0, 1.0).powf(1.0 / gamma);
        (v * 255.0).round() as u8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(s: &str) -> TransformOptions {
        TransformOptions::parse(s).unwrap()
    }

    fn pixel(s: &str, rgb: [u8; 3]) -> [u8; 3] {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(4, 4, image::Rgb(rgb)));
        apply(image, &options(s), (4, 4))
            .unwrap()
            .to_rgb8()
            .get_pixel(1, 1)
            .0
    }

    #[test]
    fn tone_and_colour_filters() {
        assert_eq!(pixel("", [10, 20, 30]), [10, 20, 30]);
        assert_eq!(pixel("brightness=2", [50, 100, 200]), [100, 200, 255]);
        assert_eq!(pixel("brightness=0", [50, 100, 200]), [0, 0, 0]);
        assert_eq!(pixel("contrast=0", [0, 100, 255]), [128, 128, 128]);
        assert!(
            pixel("gamma=2", [64, 64, 64])[0] > 64,
            "gamma above 1 lightens"
        );
        let grey = pixel("saturation=0", [200, 50, 50]);
        assert!(grey[0] == grey[1] && grey[1] == grey[2]);
    }

    #[test]
    fn blur_and_sharpen_change_edges_only() {
        let mut image = image::RgbImage::from_pixel(20, 20, image::Rgb([0, 0, 0]));
        for y in 0..20 {
            for x in 10..20 {
                image.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let image = DynamicImage::ImageRgb8(image);
        let blurred = apply(image.clone(), &options("blur=4"), (20, 20))
            .unwrap()
            .to_rgb8();
        let edge = blurred.get_pixel(10, 10).0[0];
        assert!(edge > 0 && edge < 255, "the edge is soft: {edge}");
        let sharp = apply(image, &options("sharpen=5"), (20, 20))
            .unwrap()
            .to_rgb8();
        assert_eq!(sharp.get_pixel(2, 10).0, [0, 0, 0], "flat areas stay flat");
    }

    #[test]
    fn a_wide_blur_works_small_and_comes_back_at_the_output_size() {
        assert_eq!(working_size((800, 600), &options("blur=4")), (800, 600));
        assert_eq!(working_size((800, 600), &options("blur=20")), (160, 120));
        assert_eq!(working_size((800, 600), &options("blur=250")), (100, 75));
        assert_eq!(
            working_size((40, 40), &options("blur=250")),
            (40, 40),
            "too small to reduce"
        );
        assert_eq!(working_size((800, 600), &options("width=10")), (800, 600));
        let small = DynamicImage::ImageRgb8(image::RgbImage::from_fn(160, 120, |x, _| {
            image::Rgb(if x < 80 { [0, 0, 0] } else { [255, 255, 255] })
        }));
        let out = apply(small, &options("blur=20"), (800, 600))
            .unwrap()
            .to_rgb8();
        assert_eq!(out.dimensions(), (800, 600));
        let edge = out.get_pixel(400, 300).0[0];
        assert!(
            (60..200).contains(&edge),
            "a soft edge in the middle: {edge}"
        );
        assert!(out.get_pixel(5, 300).0[0] < 10 && out.get_pixel(795, 300).0[0] > 245);
    }
}
