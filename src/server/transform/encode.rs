//! Encoders for stored images.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

/// RGB8 pixels as PNG, with fast compression: encoding dominates request time otherwise.
pub fn png_rgb8(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::with_capacity(rgb.len() / 4);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(rgb, width, height, ExtendedColorType::Rgb8)?;
    Ok(out)
}
