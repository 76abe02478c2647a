//! Scaling with fast_image_resize (SIMD convolution): a region of the source to an exact size.

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeError, ResizeOptions, Resizer};
use image::DynamicImage;

use super::geometry::Region;

/// `region` of the image scaled to `size` with Lanczos3, keeping RGB or RGBA as it came.
pub fn scale(
    image: &DynamicImage,
    region: Region,
    size: (u32, u32),
) -> Result<DynamicImage, ResizeError> {
    scale_with(image, region, size, FilterType::Lanczos3)
}

/// [`scale`] with another filter (a box filter to shrink for a blur, bilinear to grow back).
pub fn scale_with(
    image: &DynamicImage,
    region: Region,
    size: (u32, u32),
    filter: FilterType,
) -> Result<DynamicImage, ResizeError> {
    let alpha = image.color().has_alpha();
    let pixel = if alpha {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    let mut target = Image::new(size.0, size.1, pixel);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_the_region_it_is_given() {
        // Left half red, right half blue: the middle square has both, the left square only red.
        let mut image = image::RgbImage::new(200, 100);
        for (x, _, pixel) in image.enumerate_pixels_mut() {
            *pixel = if x < 100 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            };
        }
        let image = DynamicImage::ImageRgb8(image);
        let region = |left| Region {
            left,
            top: 0.0,
            width: 100.0,
            height: 100.0,
        };
        let middle = scale(&image, region(50.0), (50, 50)).unwrap().to_rgb8();
        assert_eq!(middle.dimensions(), (50, 50));
        assert!(middle.get_pixel(2, 25)[0] > 200, "left stays red");
        assert!(middle.get_pixel(47, 25)[2] > 200, "right stays blue");
        let left = scale(&image, region(0.0), (10, 10)).unwrap().to_rgb8();
        assert!(left.get_pixel(9, 5)[0] > 200, "only red");
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::new(8, 8));
        assert!(scale(&rgba, Region::whole((8, 8)), (4, 4))
            .unwrap()
            .color()
            .has_alpha());
    }
}
