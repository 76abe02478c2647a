//! Cover: scale the image until it covers the target, then crop the middle. How `/{W}x{H}/{slug}` makes the
//! exact size from what a model generated.

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;

#[derive(Debug, thiserror::Error)]
pub enum ResizeError {
    #[error("resize failed: {0}")]
    Resize(#[from] fast_image_resize::ResizeError),
    #[error("encoding failed: {0}")]
    Encode(#[from] image::ImageError),
}

/// `region` of the image scaled to `size`, keeping RGB or RGBA as it came.
pub fn scale(
    image: &DynamicImage,
    region: super::geometry::Region,
    size: (u32, u32),
) -> Result<DynamicImage, fast_image_resize::ResizeError> {
    let alpha = image.color().has_alpha();
    let pixel = if alpha {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    let mut target = Image::new(size.0, size.1, pixel);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(region.left, region.top, region.width, region.height);
    Resizer::new().resize(image, &mut target, &options)?;
    let buffer = target.into_vec();
    Ok(if alpha {
        DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(size.0, size.1, buffer)
                .expect("the resizer fills the buffer"),
        )
    } else {
        DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(size.0, size.1, buffer)
                .expect("the resizer fills the buffer"),
        )
    })
}

/// The image at exactly `width`×`height`, centred, as PNG.
pub fn cover_png(image: &DynamicImage, width: u32, height: u32) -> Result<Vec<u8>, ResizeError> {
    let source = DynamicImage::ImageRgb8(image.to_rgb8());
    let mut target = Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .fit_into_destination(Some((0.5, 0.5)));
    Resizer::new().resize(&source, &mut target, &options)?;
    Ok(super::encode::png_rgb8(target.buffer(), width, height)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_to_the_exact_size_keeping_the_centre() {
        // Left half red, right half blue: a square crop from the middle has both.
        let mut image = image::RgbImage::new(200, 100);
        for (x, _, pixel) in image.enumerate_pixels_mut() {
            *pixel = if x < 100 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            };
        }
        let png = cover_png(&DynamicImage::ImageRgb8(image), 50, 50).unwrap();
        let out = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(out.dimensions(), (50, 50));
        assert!(out.get_pixel(2, 25)[0] > 200, "left stays red");
        assert!(out.get_pixel(47, 25)[2] > 200, "right stays blue");
    }
}
