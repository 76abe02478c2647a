//! What an encoded image is, read from its header before any pixel is decoded, so an over-limit image is
//! refused without allocating for it.

use std::io::Cursor;

use image::{DynamicImage, ImageReader, Limits};

use crate::domain::format::ImageFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InspectError {
    #[error("not a PNG, JPEG or WebP image")]
    UnknownFormat,
    #[error("unreadable {0} header")]
    BadHeader(&'static str),
    #[error("{width}x{height} is over the limit of {max} pixels")]
    TooLarge { width: u32, height: u32, max: u64 },
    #[error("the {format} data does not decode: {message}")]
    Undecodable {
        format: &'static str,
        message: String,
    },
}

/// The decoder for a format; AVIF is an output format only.
fn image_format(format: ImageFormat) -> Result<image::ImageFormat, InspectError> {
    match format {
        ImageFormat::Png => Ok(image::ImageFormat::Png),
        ImageFormat::Jpeg => Ok(image::ImageFormat::Jpeg),
        ImageFormat::Webp => Ok(image::ImageFormat::WebP),
        ImageFormat::Avif => Err(InspectError::UnknownFormat),
    }
}

/// Sniffs the format by magic bytes and reads the dimensions from the header.
pub fn inspect(bytes: &[u8], max_pixels: u64) -> Result<Inspected, InspectError> {
    let format = ImageFormat::sniff(bytes).ok_or(InspectError::UnknownFormat)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), image_format(format)?)
        .into_dimensions()
        .map_err(|_| InspectError::BadHeader(format.as_str()))?;
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > max_pixels {
        return Err(InspectError::TooLarge {
            width,
            height,
            max: max_pixels,
        });
    }
    Ok(Inspected {
        format,
        width,
        height,
    })
}

/// Decodes fully, with the decoder's own allocation limit as a second guard.
pub fn decode(bytes: &[u8], inspected: Inspected) -> Result<DynamicImage, InspectError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format(inspected.format)?);
    let mut limits = Limits::default();
    limits.max_image_width = Some(inspected.width);
    limits.max_image_height = Some(inspected.height);
    reader.limits(limits);
    reader.decode().map_err(|err| InspectError::Undecodable {
        format: inspected.format.as_str(),
        message: err.to_string(),
    })
}

/// Decodes fully, as [`decode`], and turns the pixels the way the image's EXIF orientation says (a
/// phone's portrait photo is stored sideways with a tag saying so), so what is kept needs no tag.
pub fn decode_oriented(bytes: &[u8], inspected: Inspected) -> Result<DynamicImage, InspectError> {
    use image::ImageDecoder;
    let undecodable = |err: image::ImageError| InspectError::Undecodable {
        format: inspected.format.as_str(),
        message: err.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format(inspected.format)?);
    let mut limits = Limits::default();
    limits.max_image_width = Some(inspected.width);
    limits.max_image_height = Some(inspected.height);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    // An unreadable EXIF block is only metadata: the pixels stay as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_headers_and_enforces_the_pixel_limit() {
        let bytes = png(30, 20);
        let inspected = inspect(&bytes, 1_000).unwrap();
        assert_eq!(
            inspected,
            Inspected {
                format: ImageFormat::Png,
                width: 30,
                height: 20
            }
        );
        assert!(matches!(
            inspect(&bytes, 599),
            Err(InspectError::TooLarge { .. })
        ));
        assert_eq!(decode(&bytes, inspected).unwrap().width(), 30);
    }

    #[test]
    fn garbage_truncation_and_lies_are_refused() {
        assert_eq!(
            inspect(b"<html>not an image</html>", 1_000),
            Err(InspectError::UnknownFormat)
        );
        let bytes = png(30, 20);
        assert!(inspect(&bytes[..12], 1_000).is_err(), "a cut header");
        let truncated = &bytes[..bytes.len() - 20];
        let inspected = inspect(truncated, 1_000).unwrap();
        assert!(matches!(
            decode(truncated, inspected),
            Err(InspectError::Undecodable { .. })
        ));
    }
}
