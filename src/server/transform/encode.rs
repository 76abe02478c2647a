//! Encoders: PNG through `image`, JPEG through libjpeg-turbo (`jpeg.rs`), lossy WebP through libwebp
//! (`webp`), AVIF through `ravif` (rav1e) at a fast speed setting. AVIF above [`AVIF_MAX_PIXELS`] falls back to WebP: its encode time
//! grows too fast for an on-the-fly image server.

use std::borrow::Cow;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ExtendedColorType, ImageEncoder};

use crate::domain::format::ImageFormat;

/// Largest image encoded as AVIF (4 megapixels); larger ones are sent as WebP.
pub const AVIF_MAX_PIXELS: u64 = 4_000_000;
/// rav1e speed, 1 (slowest) to 10: 8 keeps a 1 MP encode well under a second.
const AVIF_SPEED: u8 = 8;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("encoding {format} failed: {message}")]
    Failed {
        format: &'static str,
        message: String,
    },
}

fn failed(format: ImageFormat, err: impl std::fmt::Display) -> EncodeError {
    EncodeError::Failed {
        format: format.as_str(),
        message: err.to_string(),
    }
}

/// RGB8 pixels as PNG, with fast compression: encoding dominates request time otherwise.
pub fn png_rgb8(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, image::ImageError> {
    png(rgb, width, height, ExtendedColorType::Rgb8)
}

/// Grayscale pixels as PNG (masks).
pub fn png_gray8(gray: &[u8], width: u32, height: u32) -> Result<Vec<u8>, image::ImageError> {
    png(gray, width, height, ExtendedColorType::L8)
}

fn png(
    pixels: &[u8],
    width: u32,
    height: u32,
    color: ExtendedColorType,
) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::with_capacity(pixels.len() / 4);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(pixels, width, height, color)?;
    Ok(out)
}

/// The format an image of `size` asked for as `format` is written in: AVIF over
/// [`AVIF_MAX_PIXELS`] is written as WebP.
pub fn written_as(format: ImageFormat, (width, height): (u32, u32)) -> ImageFormat {
    if format == ImageFormat::Avif && u64::from(width) * u64::from(height) > AVIF_MAX_PIXELS {
        ImageFormat::Webp
    } else {
        format
    }
}

/// Whether `quality` changes what `format` writes: not for PNG, which is lossless.
pub fn uses_quality(format: ImageFormat) -> bool {
    format != ImageFormat::Png
}

/// Encodes an 8-bit RGB or RGBA image; returns the bytes and the format actually used.
pub fn encode(
    image: &DynamicImage,
    format: ImageFormat,
    quality: u8,
) -> Result<(Vec<u8>, ImageFormat), EncodeError> {
    let (width, height) = (image.width(), image.height());
    match format {
        ImageFormat::Png => {
            let (pixels, alpha) = pixels(image);
            let color = if alpha {
                ExtendedColorType::Rgba8
            } else {
                ExtendedColorType::Rgb8
            };
            let bytes = png(&pixels, width, height, color).map_err(|e| failed(format, e))?;
            Ok((bytes, format))
        }
        ImageFormat::Jpeg => {
            // JPEG has no alpha: flatten onto white rather than onto black.
            let rgb = match image {
                DynamicImage::ImageRgb8(rgb) => Cow::Borrowed(rgb),
                _ if image.color().has_alpha() => Cow::Owned(flatten_on_white(image)),
                _ => Cow::Owned(image.to_rgb8()),
            };
            let out = super::jpeg::encode(&rgb, quality).map_err(|e| failed(format, e))?;
            Ok((out, format))
        }
        ImageFormat::Webp => {
            let (pixels, alpha) = pixels(image);
            let encoder = if alpha {
                webp::Encoder::from_rgba(&pixels, width, height)
            } else {
                webp::Encoder::from_rgb(&pixels, width, height)
            };
            let memory = encoder
                .encode_simple(false, f32::from(quality.clamp(1, 100)))
                .map_err(|e| failed(format, format!("{e:?}")))?;
            Ok((memory.to_vec(), format))
        }
        ImageFormat::Avif if written_as(format, (width, height)) != format => {
            encode(image, ImageFormat::Webp, quality)
        }
        ImageFormat::Avif => {
            use rgb::FromSlice;
            let encoder = ravif::Encoder::new()
                .with_quality(f32::from(quality.clamp(1, 100)))
                .with_alpha_quality(f32::from(quality.clamp(1, 100)))
                .with_speed(AVIF_SPEED)
                .with_num_threads(Some(1));
            let (w, h) = (width as usize, height as usize);
            let (pixels, alpha) = pixels(image);
            let encoded = if alpha {
                encoder.encode_rgba(ravif::Img::new(pixels.as_rgba(), w, h))
            } else {
                encoder.encode_rgb(ravif::Img::new(pixels.as_rgb(), w, h))
            }
            .map_err(|e| failed(format, e))?;
            Ok((encoded.avif_file, format))
        }
    }
}

/// The pixels as 8-bit RGBA (`true`) or RGB, borrowed when they already are: the pipeline's working
/// copy always is, so nothing is copied on the way to an encoder.
fn pixels(image: &DynamicImage) -> (Cow<'_, [u8]>, bool) {
    match image {
        DynamicImage::ImageRgb8(buffer) => (Cow::Borrowed(buffer.as_raw()), false),
        DynamicImage::ImageRgba8(buffer) => (Cow::Borrowed(buffer.as_raw()), true),
        other if other.color().has_alpha() => (Cow::Owned(other.to_rgba8().into_raw()), true),
        other => (Cow::Owned(other.to_rgb8().into_raw()), false),
    }
}

fn flatten_on_white(image: &DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let mix =
            |c: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a)) + 127) / 255) as u8;
        image::Rgb([mix(r), mix(g), mix(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_encodes_and_sniffs_as_itself() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 4, y as u8 * 5, 90])
        }));
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Webp,
            ImageFormat::Avif,
        ] {
            let (bytes, used) = encode(&image, format, 80).unwrap();
            assert_eq!(used, format);
            assert_eq!(ImageFormat::sniff(&bytes), Some(format), "{format:?}");
        }
        let transparent = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            8,
            8,
            image::Rgba([0, 0, 0, 0]),
        ));
        let (jpeg, _) = encode(&transparent, ImageFormat::Jpeg, 90).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert!(
            back.get_pixel(4, 4).0.iter().all(|c| *c > 240),
            "transparent becomes white"
        );
    }

    #[test]
    fn large_avif_falls_back_to_webp() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::new(2001, 2000));
        let (bytes, used) = encode(&image, ImageFormat::Avif, 50).unwrap();
        assert_eq!(used, ImageFormat::Webp);
        assert_eq!(ImageFormat::sniff(&bytes), Some(ImageFormat::Webp));
    }
}
