//! The offline edit: not a diffusion model, and marked as a placeholder like every builtin image. The
//! source is re-coloured toward the prompt's palette (each pixel's light picks a colour on a ramp
//! through it, the seed choosing where the ramp starts), mixed in by the strength, and only where the
//! mask is white when there is one. Deterministic for (source, mask, prompt, seed, strength).

use sha2::{Digest, Sha256};
use tiny_skia::{IntSize, Pixmap};

use super::palette::{palette, Rgb};
use super::render::{decorate, Scene};
use crate::server::providers::provider::EditInput;

/// What the caption says for a variation, which has no prompt to print.
const VARIATION: &str = "variation";

pub fn edit(prompt: &str, seed: u32, edit: &EditInput) -> Result<Pixmap, String> {
    let source = image::load_from_memory_with_format(&edit.image, image::ImageFormat::Png)
        .map_err(|e| format!("the source does not decode: {e}"))?
        .to_rgb8();
    let (width, height) = source.dimensions();
    let mask = match &edit.mask {
        Some(mask) => {
            let mask = image::load_from_memory_with_format(mask, image::ImageFormat::Png)
                .map_err(|e| format!("the mask does not decode: {e}"))?
                .to_luma8();
            if mask.dimensions() != (width, height) {
                return Err("the mask is not the source's size".into());
            }
            Some(mask)
        }
        None => None,
    };
    let digest: [u8; 32] = Sha256::digest(prompt.as_bytes()).into();
    let colours = palette(&digest);
    let stops: Vec<Rgb> = {
        let mut all = vec![colours.sky[0]];
        all.extend(colours.accents);
        all.push(colours.sky[1]);
        let turn = seed as usize % all.len();
        all.rotate_left(turn);
        all
    };
    let strength = edit.strength() as f32;
    let mut data = Vec::with_capacity(width as usize * height as usize * 4);
    for (x, y, pixel) in source.enumerate_pixels() {
        let [r, g, b] = pixel.0;
        let weight = mask
            .as_ref()
            .map_or(1.0, |m| f32::from(m.get_pixel(x, y).0[0]) / 255.0);
        let amount = strength * weight;
        let light = (0.2126 * f32::from(r) + 0.7152 * f32::from(g) + 0.0722 * f32::from(b)) / 255.0;
        let target = ramp(&stops, light);
        let mix = |from: u8, to: u8| {
            (f32::from(from) * (1.0 - amount) + f32::from(to) * amount).round() as u8
        };
        data.extend_from_slice(&[mix(r, target.0), mix(g, target.1), mix(b, target.2), 255]);
    }
    let size = IntSize::from_wh(width, height).ok_or("an empty source")?;
    let mut pixmap = Pixmap::from_vec(data, size).ok_or("cannot allocate the canvas")?;
    let caption = if prompt.is_empty() { VARIATION } else { prompt };
    decorate(
        &mut pixmap,
        &Scene {
            prompt: caption,
            seed,
            width,
            height,
        },
    );
    Ok(pixmap)
}

/// The colour at `t` (0..=1) along evenly spaced stops.
fn ramp(stops: &[Rgb], t: f32) -> Rgb {
    let span = (stops.len() - 1) as f32;
    let at = t.clamp(0.0, 1.0) * span;
    let i = (at.floor() as usize).min(stops.len() - 2);
    let f = at - i as f32;
    let (a, b) = (stops[i], stops[i + 1]);
    let lerp = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * f).round() as u8;
    Rgb(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn png(image: image::DynamicImage) -> Bytes {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        Bytes::from(out.into_inner())
    }

    fn input(strength: u8, mask: Option<Bytes>) -> EditInput {
        let source =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        EditInput {
            image: png(image::DynamicImage::ImageRgb8(source)),
            mask,
            strength,
        }
    }

    fn pixels(pixmap: &Pixmap) -> &[u8] {
        pixmap.data()
    }

    #[test]
    fn deterministic_and_every_input_counts() {
        let a = edit("a red fox", 1, &input(60, None)).unwrap();
        assert_eq!(
            pixels(&a),
            pixels(&edit("a red fox", 1, &input(60, None)).unwrap())
        );
        for other in [
            edit("a blue whale", 1, &input(60, None)).unwrap(),
            edit("a red fox", 2, &input(60, None)).unwrap(),
            edit("a red fox", 1, &input(30, None)).unwrap(),
        ] {
            assert_ne!(pixels(&a), pixels(&other));
        }
    }

    #[test]
    fn strength_zero_keeps_the_source_and_the_mask_limits_the_change() {
        let source = image::load_from_memory(&input(0, None).image)
            .unwrap()
            .to_rgba8();
        let kept = edit("a red fox", 1, &input(0, None)).unwrap();
        // Away from the mark and the caption (top-left corner and bottom panel), untouched.
        let at = |p: &Pixmap, x: u32, y: u32| p.pixel(x, y).unwrap();
        let (x, y) = (60, 20);
        let s = source.get_pixel(x, y).0;
        let k = at(&kept, x, y);
        assert_eq!([k.red(), k.green(), k.blue()], [s[0], s[1], s[2]]);

        // White on the left half only.
        let mask =
            image::GrayImage::from_fn(64, 48, |x, _| image::Luma([if x < 32 { 255 } else { 0 }]));
        let masked = edit(
            "a red fox",
            1,
            &input(100, Some(png(image::DynamicImage::ImageLuma8(mask)))),
        )
        .unwrap();
        let right = at(&masked, 60, 20);
        assert_eq!(
            [right.red(), right.green(), right.blue()],
            [s[0], s[1], s[2]],
            "black keeps"
        );
        let l = source.get_pixel(20, 20).0;
        let left = at(&masked, 20, 20);
        assert_ne!(
            [left.red(), left.green(), left.blue()],
            [l[0], l[1], l[2]],
            "white changes"
        );
    }
}
