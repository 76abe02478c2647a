//! `gravity=auto`: where a crop should sit to keep the interesting part of an image. Interesting means
//! detail, as libvips' `interesting=entropy` judges it: the gradient energy of a small grey copy, and
//! along each cropped axis the window of the kept width that holds the most of it. Cheap (under a
//! hundred pixels a side), and plain arithmetic on a few arrays, so no crate is needed for it.

use image::DynamicImage;

/// Side of the grey copy the energy is measured on.
const PROBE: u32 = 96;

/// The focal point, as fractions of width and height, for a crop keeping `keep` of each axis (1.0: the
/// axis is not cropped, and its centre is returned).
pub fn focal_point(image: &DynamicImage, keep: (f64, f64)) -> (f64, f64) {
    let grey = image.thumbnail(PROBE, PROBE).to_luma8();
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    if w < 2 || h < 2 {
        return (0.5, 0.5);
    }
    let at = |x: usize, y: usize| i32::from(grey.as_raw()[y * w + x]);
    let (mut columns, mut rows) = (vec![0u64; w], vec![0u64; h]);
    // Each pixel's difference from its left and upper neighbours: an edge belongs to the pixel after it.
    for (y, row) in rows.iter_mut().enumerate() {
        for (x, column) in columns.iter_mut().enumerate() {
            let left = if x > 0 {
                at(x, y).abs_diff(at(x - 1, y))
            } else {
                0
            };
            let up = if y > 0 {
                at(x, y).abs_diff(at(x, y - 1))
            } else {
                0
            };
            *column += u64::from(left + up);
            *row += u64::from(left + up);
        }
    }
    (best_window(&columns, keep.0), best_window(&rows, keep.1))
}

/// The centre (as a fraction) of the window over `keep` of `sums` with the largest total; among equal
/// totals the one nearest the middle, so a flat image stays centred.
fn best_window(sums: &[u64], keep: f64) -> f64 {
    let n = sums.len();
    let window = ((keep * n as f64).round() as usize).clamp(1, n);
    if window == n {
        return 0.5;
    }
    let mut total: u64 = sums[..window].iter().sum();
    let middle = (n - window) as f64 / 2.0;
    let mut best = (total, -middle.abs(), 0usize);
    for start in 1..=n - window {
        total = total + sums[start + window - 1] - sums[start - 1];
        let candidate = (total, -(start as f64 - middle).abs(), start);
        if (candidate.0, candidate.1) > (best.0, best.1) {
            best = candidate;
        }
    }
    (best.2 as f64 + window as f64 / 2.0) / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flat grey, with a black-and-white checkerboard over `x0..x1` of the width.
    fn detail_between(width: u32, height: u32, x0: u32, x1: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            if (x0..x1).contains(&x) && (x / 4 + y / 4) % 2 == 0 {
                image::Rgb([255, 255, 255])
            } else if (x0..x1).contains(&x) {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([128, 128, 128])
            }
        }))
    }

    #[test]
    fn the_crop_goes_where_the_detail_is() {
        let right = detail_between(600, 200, 450, 600);
        let (x, y) = focal_point(&right, (1.0 / 3.0, 1.0));
        assert!(x > 0.75, "towards the detailed right: {x}");
        assert_eq!(y, 0.5, "an uncropped axis stays centred");
        let left = detail_between(600, 200, 0, 150);
        assert!(focal_point(&left, (1.0 / 3.0, 1.0)).0 < 0.25);
    }

    #[test]
    fn a_flat_image_stays_centred() {
        let flat =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(300, 100, image::Rgb([9, 9, 9])));
        assert_eq!(focal_point(&flat, (0.5, 1.0)), (0.5, 0.5));
        assert_eq!(best_window(&[0, 0, 0, 0], 0.5), 0.5);
        assert_eq!(best_window(&[5, 0, 0, 0], 0.5), 0.25);
    }
}
