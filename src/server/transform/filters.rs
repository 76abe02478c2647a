//! Colour and detail filters, in a fixed order: blur, sharpen, then brightness → contrast → gamma through
//! one lookup table, then saturation. Tone curves are a few lines of arithmetic on a 256-entry table, so
//! they are written here rather than pulled from a crate.

use image::DynamicImage;

use crate::urls::options::{Milli, TransformOptions};

pub fn apply(image: DynamicImage, options: &TransformOptions) -> DynamicImage {
    let mut image = image;
    if let Some(radius) = options.blur {
        // Cloudflare's blur radius maps to a Gaussian sigma of half of it.
        image = blur(image, f32::from(radius) / 2.0);
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
        return image;
    }
    let channels = if image.color().has_alpha() { 4 } else { 3 };
    let pixels: &mut [u8] = match &mut image {
        DynamicImage::ImageRgb8(buffer) => buffer,
        DynamicImage::ImageRgba8(buffer) => buffer,
        // The pipeline only hands over 8-bit RGB(A).
        _ => return image,
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
    image
}

/// A Gaussian-like blur. Wide blurs are done at a reduced scale (by up to 8×, keeping at least two
/// pixels of sigma there) and scaled back up: the result is as smooth, at a fraction of the cost, since
/// a wide blur removes exactly the detail the reduction drops.
fn blur(image: DynamicImage, sigma: f32) -> DynamicImage {
    let factor = (sigma / 2.0).floor().clamp(1.0, 8.0) as u32;
    let (w, h) = (image.width(), image.height());
    if factor == 1 || w / factor < 8 || h / factor < 8 {
        return image.fast_blur(sigma);
    }
    let full = super::geometry::Region {
        left: 0.0,
        top: 0.0,
        width: f64::from(w),
        height: f64::from(h),
    };
    let small_size = (w.div_ceil(factor), h.div_ceil(factor));
    let small =
        super::resize::scale_with(&image, full, small_size, fast_image_resize::FilterType::Box)
            .map(|small| small.fast_blur(sigma / factor as f32));
    let small_full = super::geometry::Region {
        left: 0.0,
        top: 0.0,
        width: f64::from(small_size.0),
        height: f64::from(small_size.1),
    };
    match small.and_then(|small| {
        super::resize::scale_with(
            &small,
            small_full,
            (w, h),
            fast_image_resize::FilterType::Bilinear,
        )
    }) {
        Ok(blurred) => blurred,
        Err(_) => image.fast_blur(sigma),
    }
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
        apply(image, &options(s)).to_rgb8().get_pixel(1, 1).0
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
        let blurred = apply(image.clone(), &options("blur=4")).to_rgb8();
        let edge = blurred.get_pixel(10, 10).0[0];
        assert!(edge > 0 && edge < 255, "the edge is soft: {edge}");
        let sharp = apply(image, &options("sharpen=5")).to_rgb8();
        assert_eq!(sharp.get_pixel(2, 10).0, [0, 0, 0], "flat areas stay flat");
    }
}
