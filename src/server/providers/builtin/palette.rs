//! Colours from a prompt's hash: one base hue and a colour scheme, so each prompt has its own look.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    /// The two ends of the background gradient.
    pub sky: [Rgb; 2],
    pub accents: [Rgb; 4],
}

/// Hue offsets (degrees) of the accent colours for each scheme: analogous, complementary, triadic,
/// split-complementary.
const SCHEMES: [[f32; 4]; 4] = [
    [0.0, 25.0, -25.0, 50.0],
    [0.0, 180.0, 15.0, 195.0],
    [0.0, 120.0, 240.0, 60.0],
    [0.0, 150.0, 210.0, 30.0],
];

pub fn palette(digest: &[u8; 32]) -> Palette {
    let unit = |i: usize| f32::from(digest[i]) / 255.0;
    let hue = (u16::from_le_bytes([digest[0], digest[1]]) % 360) as f32;
    let scheme = SCHEMES[usize::from(digest[2] % 4)];
    let dark = !digest[3].is_multiple_of(3);
    let (sky_l, accent_l) = if dark { (0.12, 0.55) } else { (0.86, 0.50) };
    let sat = 0.55 + 0.35 * unit(4);
    let sky = [
        hsl(hue + 200.0 * (unit(5) - 0.5), sat * 0.7, sky_l),
        hsl(
            hue + scheme[1] * 0.5,
            sat * 0.8,
            sky_l + if dark { 0.10 } else { -0.12 },
        ),
    ];
    let accents =
        std::array::from_fn(|i| hsl(hue + scheme[i], sat, accent_l + 0.18 * (unit(6 + i) - 0.5)));
    Palette { sky, accents }
}

/// HSL to sRGB; written out because it is six lines and pulling in a colour crate for it is not worth
/// the compile time.
pub fn hsl(hue: f32, saturation: f32, lightness: f32) -> Rgb {
    let h = hue.rem_euclid(360.0) / 60.0;
    let s = saturation.clamp(0.0, 1.0);
    let l = lightness.clamp(0.0, 1.0);
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let byte = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb(byte(r), byte(g), byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl(0.0, 1.0, 0.5), Rgb(255, 0, 0));
        assert_eq!(hsl(120.0, 1.0, 0.5), Rgb(0, 255, 0));
        assert_eq!(hsl(240.0, 1.0, 0.5), Rgb(0, 0, 255));
        assert_eq!(hsl(-120.0, 1.0, 0.5), Rgb(0, 0, 255));
        assert_eq!(hsl(42.0, 0.0, 1.0), Rgb(255, 255, 255));
    }

    #[test]
    fn different_digests_give_different_palettes() {
        let a = palette(&[1; 32]);
        let b = palette(&[200; 32]);
        assert_ne!(a, b);
        assert_eq!(a, palette(&[1; 32]));
    }
}
