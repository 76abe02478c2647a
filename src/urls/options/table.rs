//! The options, one row each, in canonical order, and the grammars of their values.

use std::fmt::Write as _;

use super::{
    Control, Fit, Flip, Gravity, Milli, OutputFormat, Refusal, Rgba, TransformOption, Trim,
    MAX_DIMENSION,
};

/// Every option, in the order the canonical form prints them.
pub static OPTIONS: [TransformOption; 17] = [
    TransformOption {
        name: "width",
        aliases: &["w"],
        allowed: "a whole number of pixels from 1 to 12000",
        default: None,
        label: "Width",
        control: Control::Number { step: "1" },
        set: |o, v| put(&mut o.width, dimension(v)),
        print: |o| o.width.map(|v| v.to_string()),
        copy: |o, from| o.width = from.width,
    },
    TransformOption {
        name: "height",
        aliases: &["h"],
        allowed: "a whole number of pixels from 1 to 12000",
        default: None,
        label: "Height",
        control: Control::Number { step: "1" },
        set: |o, v| put(&mut o.height, dimension(v)),
        print: |o| o.height.map(|v| v.to_string()),
        copy: |o, from| o.height = from.height,
    },
    TransformOption {
        name: "dpr",
        aliases: &[],
        allowed: "a number from 1 to 3",
        default: Some("1"),
        label: "DPR",
        control: Control::Number { step: "0.1" },
        set: |o, v| put(&mut o.dpr, milli(v, 1000, 3000)),
        print: |o| o.dpr.map(|v| v.to_string()),
        copy: |o, from| o.dpr = from.dpr,
    },
    TransformOption {
        name: "fit",
        aliases: &[],
        allowed: "scale-down, contain, cover, crop, pad, squeeze",
        default: None,
        label: "Fit",
        control: Control::Choice(&Fit::NAMES),
        set: |o, v| put(&mut o.fit, named(&Fit::ALL, &Fit::NAMES, v)),
        print: |o| o.fit.map(|v| v.as_str().into()),
        copy: |o, from| o.fit = from.fit,
    },
    TransformOption {
        name: "gravity",
        aliases: &["g"],
        allowed: "auto, center, left, right, top, bottom, or XxY fractions like 0.5x0.3",
        default: Some("center"),
        label: "Gravity",
        control: Control::Choice(&Gravity::NAMES),
        set: |o, v| put(&mut o.gravity, gravity(v)),
        print: |o| o.gravity.map(print_gravity),
        copy: |o, from| o.gravity = from.gravity,
    },
    TransformOption {
        name: "quality",
        aliases: &["q"],
        allowed: "1 to 100, or high, medium-high, medium-low, low",
        default: Some("85"),
        label: "Quality",
        control: Control::Number { step: "1" },
        set: |o, v| put(&mut o.quality, quality(v)),
        print: |o| o.quality.map(|v| v.to_string()),
        copy: |o, from| o.quality = from.quality,
    },
    TransformOption {
        name: "format",
        aliases: &["f"],
        allowed: "auto, avif, webp, jpeg, png",
        default: None,
        label: "Format",
        control: Control::Choice(&OutputFormat::NAMES),
        set: |o, v| {
            let format = match v.eq_ignore_ascii_case("jpg") {
                true => Some(OutputFormat::Jpeg),
                false => named(&OutputFormat::ALL, &OutputFormat::NAMES, v),
            };
            put(&mut o.format, format)
        },
        print: |o| o.format.map(|v| v.as_str().into()),
        copy: |o, from| o.format = from.format,
    },
    TransformOption {
        name: "blur",
        aliases: &[],
        allowed: "a whole number from 0 to 250",
        default: Some("0"),
        label: "Blur",
        control: Control::Number { step: "1" },
        set: |o, v| put(&mut o.blur, v.parse::<u8>().ok().filter(|b| *b <= 250)),
        print: |o| o.blur.map(|v| v.to_string()),
        copy: |o, from| o.blur = from.blur,
    },
    TransformOption {
        name: "sharpen",
        aliases: &[],
        allowed: "a number from 0 to 10",
        default: Some("0"),
        label: "Sharpen",
        control: Control::Number { step: "0.1" },
        set: |o, v| put(&mut o.sharpen, milli(v, 0, 10_000)),
        print: |o| o.sharpen.map(|v| v.to_string()),
        copy: |o, from| o.sharpen = from.sharpen,
    },
    TransformOption {
        name: "brightness",
        aliases: &[],
        allowed: "a factor from 0 to 10 (1 = unchanged)",
        default: Some("1"),
        label: "Brightness",
        control: Control::Number { step: "0.1" },
        set: |o, v| put(&mut o.brightness, milli(v, 0, 10_000)),
        print: |o| o.brightness.map(|v| v.to_string()),
        copy: |o, from| o.brightness = from.brightness,
    },
    TransformOption {
        name: "contrast",
        aliases: &[],
        allowed: "a factor from 0 to 10 (1 = unchanged)",
        default: Some("1"),
        label: "Contrast",
        control: Control::Number { step: "0.1" },
        set: |o, v| put(&mut o.contrast, milli(v, 0, 10_000)),
        print: |o| o.contrast.map(|v| v.to_string()),
        copy: |o, from| o.contrast = from.contrast,
    },
    TransformOption {
        name: "gamma",
        aliases: &[],
        allowed: "a factor above 0 up to 10 (1 = unchanged)",
        default: Some("1"),
        label: "Gamma",
        control: Control::Number { step: "0.1" },
        set: |o, v| put(&mut o.gamma, milli(v, 1, 10_000)),
        print: |o| o.gamma.map(|v| v.to_string()),
        copy: |o, from| o.gamma = from.gamma,
    },
    TransformOption {
        name: "saturation",
        aliases: &[],
        allowed: "a factor from 0 to 10 (0 = greyscale, 1 = unchanged)",
        default: Some("1"),
        label: "Saturation",
        control: Control::Number { step: "0.1" },
        set: |o, v| put(&mut o.saturation, milli(v, 0, 10_000)),
        print: |o| o.saturation.map(|v| v.to_string()),
        copy: |o, from| o.saturation = from.saturation,
    },
    TransformOption {
        name: "rotate",
        aliases: &[],
        allowed: "0, 90, 180 or 270",
        default: Some("0"),
        label: "Rotate",
        control: Control::Choice(&["90", "180", "270"]),
        set: |o, v| {
            let degrees = v.parse::<u16>().ok();
            put(
                &mut o.rotate,
                degrees.filter(|r| matches!(r, 0 | 90 | 180 | 270)),
            )
        },
        print: |o| o.rotate.map(|v| v.to_string()),
        copy: |o, from| o.rotate = from.rotate,
    },
    TransformOption {
        name: "flip",
        aliases: &[],
        allowed: "h, v or hv",
        default: None,
        label: "Flip",
        control: Control::Choice(&Flip::NAMES),
        set: |o, v| {
            let flip = match v.eq_ignore_ascii_case("vh") {
                true => Some(Flip::Both),
                false => named(&Flip::ALL, &Flip::NAMES, v),
            };
            put(&mut o.flip, flip)
        },
        print: |o| o.flip.map(|v| v.as_str().into()),
        copy: |o, from| o.flip = from.flip,
    },
    TransformOption {
        name: "background",
        aliases: &[],
        allowed: "a CSS colour: a name like white, #rgb, #rrggbb, #rrggbbaa, rgb(), hsl() or hwb()",
        default: None,
        label: "Background",
        control: Control::Colour,
        set: |o, v| put(&mut o.background, colour(v)),
        print: |o| o.background.map(print_colour),
        copy: |o, from| o.background = from.background,
    },
    TransformOption {
        name: "trim",
        aliases: &[],
        allowed: "top;right;bottom;left in whole pixels, e.g. 10;0;10;0",
        default: Some("0;0;0;0"),
        label: "Trim",
        control: Control::Text {
            placeholder: "top;right;bottom;left",
        },
        set: |o, v| put(&mut o.trim, trim(v)),
        print: |o| {
            o.trim
                .map(|t| format!("{};{};{};{}", t.top, t.right, t.bottom, t.left))
        },
        copy: |o, from| o.trim = from.trim,
    },
];

/// Fills an option's field with a value read, unless it did not read or the field is set already.
fn put<T>(field: &mut Option<T>, value: Option<T>) -> Result<(), Refusal> {
    let value = value.ok_or(Refusal::Invalid)?;
    if field.is_some() {
        return Err(Refusal::Repeated);
    }
    *field = Some(value);
    Ok(())
}

/// The value among `all` whose name in `names` (lowercase, in the same order) is `text`, in any case.
fn named<T: Copy>(all: &[T], names: &[&str], text: &str) -> Option<T> {
    let i = names
        .iter()
        .position(|name| text.eq_ignore_ascii_case(name))?;
    Some(all[i])
}

const QUALITY_WORDS: [(&str, u8); 4] = [
    ("high", 90),
    ("medium-high", 80),
    ("medium-low", 65),
    ("low", 50),
];

fn dimension(value: &str) -> Option<u32> {
    value
        .parse::<u32>()
        .ok()
        .filter(|v| (1..=MAX_DIMENSION).contains(v))
}

/// A plain decimal (`1`, `0.5`, `.25`, up to three places) within `min..=max` thousandths.
fn milli(value: &str, min: u32, max: u32) -> Option<Milli> {
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    if (whole.is_empty() && frac.is_empty())
        || frac.len() > 3
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 6
    {
        return None;
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().ok()?
    };
    let value = whole.checked_mul(1000)?.checked_add(frac)?;
    (min..=max).contains(&value).then_some(Milli(value))
}

fn gravity(value: &str) -> Option<Gravity> {
    if value.eq_ignore_ascii_case("centre") {
        return Some(Gravity::Center);
    }
    named(&Gravity::NAMED, &Gravity::NAMES, value).or_else(|| {
        let lower = value.to_ascii_lowercase();
        let (x, y) = lower.split_once('x')?;
        Some(Gravity::Point(milli(x, 0, 1000)?, milli(y, 0, 1000)?))
    })
}

fn print_gravity(gravity: Gravity) -> String {
    match gravity {
        Gravity::Point(x, y) => format!("{x}x{y}"),
        named => Gravity::NAMED
            .iter()
            .position(|g| *g == named)
            .map(|i| Gravity::NAMES[i].into())
            .unwrap_or_default(),
    }
}

fn quality(value: &str) -> Option<u8> {
    QUALITY_WORDS
        .iter()
        .find(|(word, _)| value.eq_ignore_ascii_case(word))
        .map(|(_, q)| *q)
        .or_else(|| value.parse::<u8>().ok().filter(|q| (1..=100).contains(q)))
}

fn trim(value: &str) -> Option<Trim> {
    let sides: Vec<u32> = value
        .split(';')
        .map(|s| s.trim().parse::<u32>().ok().filter(|v| *v <= MAX_DIMENSION))
        .collect::<Option<_>>()?;
    match sides[..] {
        [top, right, bottom, left] => Some(Trim {
            top,
            right,
            bottom,
            left,
        }),
        _ => None,
    }
}

/// `%23rrggbb`, and `aa` after it unless opaque: `#` encoded, as a path segment carries it.
fn print_colour(Rgba(r, g, b, a): Rgba) -> String {
    let mut hex = format!("%23{r:02x}{g:02x}{b:02x}");
    if a != 255 {
        let _ = write!(hex, "{a:02x}");
    }
    hex
}

/// A CSS colour as a URL carries it (`#` may come percent-encoded as `%23`). The server takes all of CSS
/// Color 4 (names, hex, `rgb()`, `hsl()`, `hwb()` …) through csscolorparser; the browser only ever has
/// its colour picker's `#rrggbb` to check, so it reads hex and keeps that crate's colour table out of
/// the WASM bundle.
fn colour(value: &str) -> Option<Rgba> {
    let value = value.trim();
    let value = match value.strip_prefix("%23") {
        Some(hex) => format!("#{hex}"),
        None => value.to_owned(),
    };
    #[cfg(feature = "ssr")]
    {
        let [r, g, b, a] = csscolorparser::parse(&value).ok()?.to_rgba8();
        Some(Rgba(r, g, b, a))
    }
    #[cfg(not(feature = "ssr"))]
    {
        hex_colour(value.strip_prefix('#')?)
    }
}

#[cfg(not(feature = "ssr"))]
fn hex_colour(hex: &str) -> Option<Rgba> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let nibble = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).ok().map(|n| n * 17);
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    match hex.len() {
        3 => Some(Rgba(nibble(0)?, nibble(1)?, nibble(2)?, 255)),
        4 => Some(Rgba(nibble(0)?, nibble(1)?, nibble(2)?, nibble(3)?)),
        6 => Some(Rgba(byte(0)?, byte(2)?, byte(4)?, 255)),
        8 => Some(Rgba(byte(0)?, byte(2)?, byte(4)?, byte(6)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::TransformOptions;
    use super::*;

    #[test]
    fn milli_prints_exactly() {
        for (text, value) in [
            ("0", 0),
            ("1", 1000),
            ("0.5", 500),
            ("2.25", 2250),
            ("0.001", 1),
            ("10", 10_000),
        ] {
            assert_eq!(milli(text, 0, 10_000), Some(Milli(value)));
            assert_eq!(Milli(value).to_string(), text);
        }
        assert_eq!(milli(".5", 0, 1000), Some(Milli(500)));
        assert_eq!(milli("1.", 0, 10_000), Some(Milli(1000)));
        assert_eq!(milli(".", 0, 1000), None);
        assert_eq!(milli("1e3", 0, 10_000), None);
    }

    /// Names are unique (aliases too), every default is a value the option reads and the canonical
    /// spelling of the value it reads as, and every choice the builder offers reads, prints as itself
    /// (or not at all, the default) and is in the list of what is allowed.
    #[test]
    fn every_row_agrees_with_itself() {
        let mut names: Vec<&str> = OPTIONS
            .iter()
            .flat_map(|o| std::iter::once(o.name).chain(o.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name is used twice");
        for option in &OPTIONS {
            let name = option.name;
            if let Some(default) = option.default {
                let read = TransformOptions::parse(&format!("{name}={default}")).unwrap();
                assert_ne!(read, TransformOptions::default(), "{name}");
                assert_eq!(read.normalized(), TransformOptions::default(), "{name}");
            }
            if let Control::Choice(choices) = option.control {
                for choice in choices {
                    let read = TransformOptions::parse(&format!("{name}={choice}")).unwrap();
                    let printed = read.to_string();
                    let default = option.default == Some(choice) && printed.is_empty();
                    assert!(
                        default || printed == format!("{name}={choice}"),
                        "{printed}"
                    );
                    assert!(option.allowed.contains(choice), "{name}: {choice}");
                }
            }
        }
    }

    #[test]
    fn names_follow_declaration_order() {
        for (i, fit) in Fit::ALL.into_iter().enumerate() {
            assert_eq!(fit as usize, i);
        }
        for (i, format) in OutputFormat::ALL.into_iter().enumerate() {
            assert_eq!(format as usize, i);
        }
        for (i, flip) in Flip::ALL.into_iter().enumerate() {
            assert_eq!(flip as usize, i);
        }
    }
}
