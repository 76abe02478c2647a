//! JPEG pixels through libjpeg-turbo (mozjpeg's build of it, the library libvips and sharp use): it
//! decodes at 1/2, 1/4 or 1/8 of the size inside the inverse DCT (shrink-on-load), and its SIMD encoder is
//! about three times faster than the pure-Rust ones at the same quality and size.
//!
//! Only images already checked by `inspect` (stored originals, our own encodes) come here. libjpeg
//! reports a fatal error by unwinding (mozjpeg raises it with `resume_unwind`, which skips the panic
//! hook), so every call is wrapped in `catch_unwind` and comes back as an error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{DynamicImage, RgbImage};
use mozjpeg::{ColorSpace, Compress, Decompress};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("libjpeg: {0}")]
pub struct JpegError(String);

fn guarded<T>(work: impl FnOnce() -> std::io::Result<T>) -> Result<T, JpegError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result.map_err(|e| JpegError(e.to_string())),
        Err(panic) => Err(JpegError(
            panic
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "fatal error".to_owned()),
        )),
    }
}

/// The DCT scale (in eighths) that gives the smallest image still at least `at_least` on both sides.
fn scale_eighths(full: (u32, u32), at_least: (u32, u32)) -> u8 {
    [1u8, 2, 4]
        .into_iter()
        .find(|&n| {
            let scaled = |side: u32| (u64::from(side) * u64::from(n)).div_ceil(8);
            scaled(full.0) >= u64::from(at_least.0) && scaled(full.1) >= u64::from(at_least.1)
        })
        .unwrap_or(8)
}

/// Decodes to RGB (or grey), shrunk on load to the smallest DCT scale still at least `at_least`.
/// `Ok(None)` for colour spaces libjpeg will not turn into RGB (CMYK, YCCK): the caller decodes
/// those another way.
pub fn decode(bytes: &[u8], at_least: (u32, u32)) -> Result<Option<DynamicImage>, JpegError> {
    guarded(|| {
        let mut decoder = Decompress::new_mem(bytes)?;
        let grey = match decoder.color_space() {
            ColorSpace::JCS_GRAYSCALE => true,
            ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => return Ok(None),
            _ => false,
        };
        let full = (decoder.width() as u32, decoder.height() as u32);
        decoder.scale(scale_eighths(full, at_least));
        // The chroma is about to be resampled anyway; libvips skips the smooth upsampling too.
        decoder.do_fancy_upsampling(false);
        let mut started = if grey {
            decoder.grayscale()?
        } else {
            decoder.rgb()?
        };
        let (width, height) = (started.width() as u32, started.height() as u32);
        let pixels: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        let image = if grey {
            image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8)
        } else {
            RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
        };
        image.map(Some).ok_or_else(|| {
            std::io::Error::other("libjpeg returned fewer rows than the header says")
        })
    })
}

/// Encodes RGB as a baseline JPEG with 4:2:0 chroma and optimised Huffman tables (libjpeg-turbo's
/// defaults plus `optimize_coding`, as sharp does): about a tenth smaller for little time.
pub fn encode(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, JpegError> {
    guarded(|| {
        let mut compress = Compress::new(ColorSpace::JCS_RGB);
        // mozjpeg's own defaults (trellis quantisation, progressive scans) are several times slower.
        compress.set_fastest_defaults();
        compress.set_size(rgb.width() as usize, rgb.height() as usize);
        compress.set_quality(f32::from(quality.clamp(1, 100)));
        compress.set_optimize_coding(true);
        let mut started = compress.start_compress(Vec::with_capacity(rgb.as_raw().len() / 8))?;
        started.write_scanlines(rgb.as_raw())?;
        started.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 90])
        })
    }

    #[test]
    fn picks_the_smallest_scale_that_is_large_enough() {
        assert_eq!(scale_eighths((2048, 2048), (301, 301)), 2);
        assert_eq!(scale_eighths((2048, 2048), (256, 256)), 1);
        assert_eq!(scale_eighths((1024, 1024), (301, 301)), 4);
        assert_eq!(
            scale_eighths((1000, 10), (100, 10)),
            8,
            "the short side needs all of it"
        );
        assert_eq!(
            scale_eighths((801, 601), (101, 1)),
            1,
            "ceil(801 / 8) = 101"
        );
        assert_eq!(scale_eighths((801, 601), (102, 1)), 2);
    }

    #[test]
    fn round_trips_and_shrinks_on_load() {
        let source = gradient(800, 600);
        let bytes = encode(&source, 85).unwrap();
        assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        let full = decode(&bytes, (800, 600)).unwrap().unwrap().to_rgb8();
        assert_eq!(full.dimensions(), (800, 600));
        let [r, g, _] = full.get_pixel(400, 300).0;
        assert!(r.abs_diff(127) < 6 && g.abs_diff(127) < 6, "{r} {g}");
        let quarter = decode(&bytes, (190, 140)).unwrap().unwrap();
        assert_eq!((quarter.width(), quarter.height()), (200, 150));
        let grey = DynamicImage::ImageLuma8(image::GrayImage::new(16, 16));
        let mut out = std::io::Cursor::new(Vec::new());
        grey.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        assert!(matches!(
            decode(out.get_ref(), (16, 16)),
            Ok(Some(DynamicImage::ImageLuma8(_)))
        ));
    }

    #[test]
    fn broken_data_is_an_error_not_a_panic() {
        let bytes = encode(&gradient(64, 64), 80).unwrap();
        assert!(decode(b"\xFF\xD8\xFF\xE0 not really", (1, 1)).is_err());
        assert!(decode(&bytes[..20], (1, 1)).is_err());
        let too_wide = RgbImage::new(70_000, 1);
        assert!(encode(&too_wide, 80).is_err(), "over libjpeg's 65500 limit");
    }
}
