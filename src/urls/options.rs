//! Transform options in Cloudflare's image-transformation syntax: `width=400,height=300,fit=cover`.
//!
//! Shared by the server (which parses URLs and applies them) and the browser (whose URL builder prints
//! them), so every URL the builder prints parses. Printing is canonical: a fixed order, full names,
//! defaults dropped, numbers in one spelling. The canonical string keys the memory cache, so two URLs
//! that spell the same transform share one response; the stored derivative goes further and is keyed
//! by what is made from the image's size (`server::engine::derive`).

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

/// Every option, in canonical order, with the aliases it accepts.
pub const OPTION_NAMES: [(&str, &[&str]); 17] = [
    ("width", &["w"]),
    ("height", &["h"]),
    ("dpr", &[]),
    ("fit", &[]),
    ("gravity", &["g"]),
    ("quality", &["q"]),
    ("format", &["f"]),
    ("blur", &[]),
    ("sharpen", &[]),
    ("brightness", &[]),
    ("contrast", &[]),
    ("gamma", &[]),
    ("saturation", &[]),
    ("rotate", &[]),
    ("flip", &[]),
    ("background", &[]),
    ("trim", &[]),
];

/// Largest width or height an option may ask for; the server applies its own pixel limit too.
pub const MAX_DIMENSION: u32 = 12_000;

/// Quality when the options give none (Cloudflare's default); dropped from the canonical form.
pub const DEFAULT_QUALITY: u8 = 85;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fit {
    ScaleDown,
    Contain,
    Cover,
    Crop,
    Pad,
    Squeeze,
}

impl Fit {
    pub const ALL: [Fit; 6] = [
        Fit::ScaleDown,
        Fit::Contain,
        Fit::Cover,
        Fit::Crop,
        Fit::Pad,
        Fit::Squeeze,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fit::ScaleDown => "scale-down",
            Fit::Contain => "contain",
            Fit::Cover => "cover",
            Fit::Crop => "crop",
            Fit::Pad => "pad",
            Fit::Squeeze => "squeeze",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gravity {
    Auto,
    Center,
    Left,
    Right,
    Top,
    Bottom,
    /// A focal point as fractions of width and height, in thousandths.
    Point(Milli, Milli),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutputFormat {
    /// The best the client accepts (`Accept`): AVIF, then WebP, then JPEG.
    Auto,
    Avif,
    Webp,
    Jpeg,
    Png,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Auto,
        OutputFormat::Avif,
        OutputFormat::Webp,
        OutputFormat::Jpeg,
        OutputFormat::Png,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Auto => "auto",
            OutputFormat::Avif => "avif",
            OutputFormat::Webp => "webp",
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
        }
    }

    /// From a file extension (`.jpg`), as on `/{W}x{H}/slug.webp`.
    pub fn from_extension(ext: &str) -> Option<OutputFormat> {
        match ext.to_ascii_lowercase().as_str() {
            "avif" => Some(OutputFormat::Avif),
            "webp" => Some(OutputFormat::Webp),
            "jpg" | "jpeg" => Some(OutputFormat::Jpeg),
            "png" => Some(OutputFormat::Png),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Flip {
    Horizontal,
    Vertical,
    Both,
}

/// Edges to cut off before anything else, in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Trim {
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
    pub left: u32,
}

/// An sRGB colour with alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgba(pub u8, pub u8, pub u8, pub u8);

/// A decimal with three places, stored exactly, so a printed value parses back to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Milli(pub u32);

impl Milli {
    pub const ONE: Milli = Milli(1000);

    pub fn as_f32(self) -> f32 {
        self.0 as f32 / 1000.0
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Every option; `None` means "not given" (the default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransformOptions {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// 1 to 3.
    pub dpr: Option<Milli>,
    pub fit: Option<Fit>,
    pub gravity: Option<Gravity>,
    /// 1 to 100.
    pub quality: Option<u8>,
    pub format: Option<OutputFormat>,
    /// 1 to 250.
    pub blur: Option<u8>,
    /// 0 to 10.
    pub sharpen: Option<Milli>,
    /// Factors, 1 = unchanged: 0 to 10 (gamma above 0).
    pub brightness: Option<Milli>,
    pub contrast: Option<Milli>,
    pub gamma: Option<Milli>,
    pub saturation: Option<Milli>,
    /// 90, 180 or 270 degrees clockwise.
    pub rotate: Option<u16>,
    pub flip: Option<Flip>,
    pub background: Option<Rgba>,
    pub trim: Option<Trim>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown option `{name}`; options are: {}", OPTION_NAMES.map(|(n, _)| n).join(", "))]
    Unknown { name: String },
    #[error("option `{0}` has no value: write {0}=…")]
    MissingValue(String),
    #[error("option `{0}` is given twice")]
    Repeated(&'static str),
    #[error("{name}: `{value}` is not valid; allowed: {allowed}")]
    Invalid {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
}

const QUALITY_WORDS: [(&str, u8); 4] = [
    ("high", 90),
    ("medium-high", 80),
    ("medium-low", 65),
    ("low", 50),
];

impl TransformOptions {
    /// Whether these options set nothing but a size and a format.
    pub fn is_plain_size(&self) -> bool {
        let size_and_format = TransformOptions {
            width: self.width,
            height: self.height,
            format: self.format,
            ..TransformOptions::default()
        };
        *self == size_and_format
    }

    /// Parses `name=value` pairs separated by commas (a comma inside parentheses belongs to the value, as
    /// in `background=rgb(0,0,0)`). Accepts aliases, any order, defaults; rejects unknown or repeated
    /// options and bad values with an error naming the option and what is allowed.
    pub fn parse(input: &str) -> Result<Self, OptionError> {
        let mut options = TransformOptions::default();
        for pair in pairs(input) {
            let (name, value) = pair?;
            options.set(name, value)?;
        }
        Ok(options)
    }

    /// Sets one option from its textual form (query parameters use this too).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        let lower = name.to_ascii_lowercase();
        let canonical = OPTION_NAMES
            .iter()
            .find(|(full, aliases)| *full == lower || aliases.contains(&lower.as_str()))
            .map(|(full, _)| *full)
            .ok_or_else(|| OptionError::Unknown {
                name: name.to_owned(),
            })?;
        let invalid = |allowed: &'static str| OptionError::Invalid {
            name: canonical,
            value: value.to_owned(),
            allowed,
        };
        fn put<T>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), OptionError> {
            if slot.is_some() {
                return Err(OptionError::Repeated(name));
            }
            *slot = Some(value);
            Ok(())
        }
        match canonical {
            "width" => put(&mut self.width, canonical, dimension(value).ok_or_else(|| invalid("a whole number of pixels from 1 to 12000"))?),
            "height" => put(&mut self.height, canonical, dimension(value).ok_or_else(|| invalid("a whole number of pixels from 1 to 12000"))?),
            "dpr" => put(&mut self.dpr, canonical, milli(value, 1000, 3000).ok_or_else(|| invalid("a number from 1 to 3"))?),
            "fit" => put(
                &mut self.fit,
                canonical,
                Fit::ALL
                    .into_iter()
                    .find(|f| f.as_str() == value.to_ascii_lowercase())
                    .ok_or_else(|| invalid("scale-down, contain, cover, crop, pad, squeeze"))?,
            ),
            "gravity" => put(&mut self.gravity, canonical, gravity(value).ok_or_else(|| invalid("auto, center, left, right, top, bottom, or XxY fractions like 0.5x0.3"))?),
            "quality" => put(&mut self.quality, canonical, quality(value).ok_or_else(|| invalid("1 to 100, or high, medium-high, medium-low, low"))?),
            "format" => put(
                &mut self.format,
                canonical,
                match value.to_ascii_lowercase().as_str() {
                    "jpg" => Some(OutputFormat::Jpeg),
                    v => OutputFormat::ALL.into_iter().find(|f| f.as_str() == v),
                }
                .ok_or_else(|| invalid("auto, avif, webp, jpeg, png"))?,
            ),
            "blur" => put(
                &mut self.blur,
                canonical,
                value.parse::<u8>().ok().filter(|b| *b <= 250).ok_or_else(|| invalid("a whole number from 0 to 250"))?,
            ),
            "sharpen" => put(&mut self.sharpen, canonical, milli(value, 0, 10_000).ok_or_else(|| invalid("a number from 0 to 10"))?),
            "brightness" => put(&mut self.brightness, canonical, milli(value, 0, 10_000).ok_or_else(|| invalid("a factor from 0 to 10 (1 = unchanged)"))?),
            "contrast" => put(&mut self.contrast, canonical, milli(value, 0, 10_000).ok_or_else(|| invalid("a factor from 0 to 10 (1 = unchanged)"))?),
            "gamma" => put(&mut self.gamma, canonical, milli(value, 1, 10_000).ok_or_else(|| invalid("a factor above 0 up to 10 (1 = unchanged)"))?),
            "saturation" => put(&mut self.saturation, canonical, milli(value, 0, 10_000).ok_or_else(|| invalid("a factor from 0 to 10 (0 = greyscale, 1 = unchanged)"))?),
            "rotate" => put(
                &mut self.rotate,
                canonical,
                value.parse::<u16>().ok().filter(|r| matches!(r, 0 | 90 | 180 | 270)).ok_or_else(|| invalid("0, 90, 180 or 270"))?,
            ),
            "flip" => put(
                &mut self.flip,
                canonical,
                match value.to_ascii_lowercase().as_str() {
                    "h" => Some(Flip::Horizontal),
                    "v" => Some(Flip::Vertical),
                    "hv" | "vh" => Some(Flip::Both),
                    _ => None,
                }
                .ok_or_else(|| invalid("h, v or hv"))?,
            ),
            "background" => put(&mut self.background, canonical, colour(value).ok_or_else(|| invalid("a CSS colour: a name like white, #rgb, #rrggbb, #rrggbbaa, rgb(), hsl() or hwb()"))?),
            "trim" => put(&mut self.trim, canonical, trim(value).ok_or_else(|| invalid("top;right;bottom;left in whole pixels, e.g. 10;0;10;0"))?),
            _ => unreachable!("every canonical name is matched"),
        }
    }

    /// The same options with every value equal to its default removed.
    pub fn normalized(&self) -> Self {
        let not = |v: Option<Milli>, default: Milli| v.filter(|v| *v != default);
        Self {
            dpr: not(self.dpr, Milli::ONE),
            gravity: self.gravity.filter(|g| *g != Gravity::Center),
            sharpen: not(self.sharpen, Milli(0)),
            brightness: not(self.brightness, Milli::ONE),
            contrast: not(self.contrast, Milli::ONE),
            gamma: not(self.gamma, Milli::ONE),
            saturation: not(self.saturation, Milli::ONE),
            rotate: self.rotate.filter(|r| *r != 0),
            blur: self.blur.filter(|b| *b != 0),
            quality: self.quality.filter(|q| *q != DEFAULT_QUALITY),
            trim: self.trim.filter(|t| *t != Trim::default()),
            ..self.clone()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.normalized() == TransformOptions::default()
    }
}

/// Canonical form: fixed order, full names, defaults dropped.
impl fmt::Display for TransformOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.normalized();
        let mut parts: Vec<String> = Vec::new();
        let mut push = |name: &str, value: String| parts.push(format!("{name}={value}"));
        if let Some(v) = o.width {
            push("width", v.to_string());
        }
        if let Some(v) = o.height {
            push("height", v.to_string());
        }
        if let Some(v) = o.dpr {
            push("dpr", v.to_string());
        }
        if let Some(v) = o.fit {
            push("fit", v.as_str().into());
        }
        if let Some(v) = o.gravity {
            push(
                "gravity",
                match v {
                    Gravity::Auto => "auto".into(),
                    Gravity::Center => "center".into(),
                    Gravity::Left => "left".into(),
                    Gravity::Right => "right".into(),
                    Gravity::Top => "top".into(),
                    Gravity::Bottom => "bottom".into(),
                    Gravity::Point(x, y) => format!("{x}x{y}"),
                },
            );
        }
        if let Some(v) = o.quality {
            push("quality", v.to_string());
        }
        if let Some(v) = o.format {
            push("format", v.as_str().into());
        }
        if let Some(v) = o.blur {
            push("blur", v.to_string());
        }
        for (name, value) in [
            ("sharpen", o.sharpen),
            ("brightness", o.brightness),
            ("contrast", o.contrast),
            ("gamma", o.gamma),
            ("saturation", o.saturation),
        ] {
            if let Some(v) = value {
                push(name, v.to_string());
            }
        }
        if let Some(v) = o.rotate {
            push("rotate", v.to_string());
        }
        if let Some(v) = o.flip {
            push(
                "flip",
                match v {
                    Flip::Horizontal => "h",
                    Flip::Vertical => "v",
                    Flip::Both => "hv",
                }
                .into(),
            );
        }
        if let Some(Rgba(r, g, b, a)) = o.background {
            let mut hex = format!("%23{r:02x}{g:02x}{b:02x}");
            if a != 255 {
                let _ = write!(hex, "{a:02x}");
            }
            push("background", hex);
        }
        if let Some(t) = o.trim {
            push(
                "trim",
                format!("{};{};{};{}", t.top, t.right, t.bottom, t.left),
            );
        }
        f.write_str(&parts.join(","))
    }
}

/// The trimmed `name=value` pairs of an option string, empty entries skipped.
pub fn pairs(input: &str) -> impl Iterator<Item = Result<(&str, &str), OptionError>> {
    split_top_level(input)
        .into_iter()
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.trim(), value.trim()))
                .ok_or_else(|| OptionError::MissingValue(pair.to_owned()))
        })
}

/// Splits on commas outside parentheses.
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

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
    Some(match value.to_ascii_lowercase().as_str() {
        "auto" => Gravity::Auto,
        "center" | "centre" => Gravity::Center,
        "left" => Gravity::Left,
        "right" => Gravity::Right,
        "top" => Gravity::Top,
        "bottom" => Gravity::Bottom,
        other => {
            let (x, y) = other.split_once('x')?;
            Gravity::Point(milli(x, 0, 1000)?, milli(y, 0, 1000)?)
        }
    })
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
    use super::*;

    fn parse(s: &str) -> TransformOptions {
        TransformOptions::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn aliases_order_and_defaults_print_canonically() {
        let options = parse("f=webp,h=300,w=400,fit=cover,q=high,dpr=1,brightness=1.0,g=0.5x0.25");
        assert_eq!(
            options.to_string(),
            "width=400,height=300,fit=cover,gravity=0.5x0.25,quality=90,format=webp"
        );
        assert_eq!(parse(&options.to_string()), options.normalized());
        assert_eq!(parse("").to_string(), "");
        assert!(parse("rotate=0,trim=0;0;0;0,sharpen=0,blur=0,quality=85").is_empty());
        assert_eq!(
            parse("width=200,q=85").to_string(),
            parse("width=200").to_string()
        );
        assert_eq!(parse("format=jpg").format, Some(OutputFormat::Jpeg));
    }

    #[test]
    fn every_option_parses() {
        let all = parse(
            "width=1,height=12000,dpr=2.5,fit=pad,gravity=left,quality=medium-low,format=avif,blur=250,\
             sharpen=10,brightness=0.5,contrast=2,gamma=0.8,saturation=0,rotate=270,flip=hv,\
             background=rgba(255,0,0,0.5),trim=1;2;3;4",
        );
        assert_eq!(all.background, Some(Rgba(255, 0, 0, 128)));
        for (css, rgba) in [
            ("navy", Rgba(0, 0, 128, 255)),
            ("RebeccaPurple", Rgba(102, 51, 153, 255)),
            ("%23ff8000", Rgba(255, 128, 0, 255)),
            ("hsl(120,100%,50%)", Rgba(0, 255, 0, 255)),
            ("transparent", Rgba(0, 0, 0, 0)),
        ] {
            assert_eq!(
                parse(&format!("background={css}")).background,
                Some(rgba),
                "{css}"
            );
        }
        assert_eq!(
            all.trim,
            Some(Trim {
                top: 1,
                right: 2,
                bottom: 3,
                left: 4
            })
        );
        assert_eq!(
            all.to_string(),
            "width=1,height=12000,dpr=2.5,fit=pad,gravity=left,quality=65,format=avif,blur=250,sharpen=10,\
             brightness=0.5,contrast=2,gamma=0.8,saturation=0,rotate=270,flip=hv,background=%23ff000080,trim=1;2;3;4"
        );
        assert_eq!(parse(&all.to_string()), all);
        for colour in ["#f00", "%23ff0000", "red", "rgb(255, 0, 0)", "#FF0000FF"] {
            assert_eq!(
                parse(&format!("background={colour}")).background,
                Some(Rgba(255, 0, 0, 255)),
                "{colour}"
            );
        }
    }

    #[test]
    fn bad_options_name_the_option_and_what_is_allowed() {
        let cases = [
            ("width=0", "width", "1 to 12000"),
            ("width=12001", "width", "12000"),
            ("w=abc", "width", "whole number"),
            ("dpr=4", "dpr", "1 to 3"),
            ("fit=stretch", "fit", "scale-down, contain, cover"),
            ("gravity=middle", "gravity", "XxY"),
            ("quality=101", "quality", "1 to 100"),
            ("format=gif", "format", "avif, webp"),
            ("blur=251", "blur", "0 to 250"),
            ("sharpen=11", "sharpen", "0 to 10"),
            ("gamma=0", "gamma", "above 0"),
            ("rotate=45", "rotate", "90, 180 or 270"),
            ("flip=x", "flip", "h, v or hv"),
            ("background=nope", "background", "CSS colour"),
            ("trim=1;2;3", "trim", "top;right;bottom;left"),
            ("brightness=-1", "brightness", "0 to 10"),
            ("brightness=1.2345", "brightness", "0 to 10"),
        ];
        for (input, name, allowed) in cases {
            let message = TransformOptions::parse(input).unwrap_err().to_string();
            assert!(
                message.starts_with(name) && message.contains(allowed),
                "{input}: {message}"
            );
        }
        assert!(TransformOptions::parse("zoom=2")
            .unwrap_err()
            .to_string()
            .contains("unknown option `zoom`"));
        assert_eq!(
            TransformOptions::parse("w=1,width=2"),
            Err(OptionError::Repeated("width"))
        );
        assert_eq!(
            TransformOptions::parse("width"),
            Err(OptionError::MissingValue("width".into()))
        );
    }

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
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn milli_in(min: u32, max: u32) -> impl Strategy<Value = Milli> {
        (min..=max).prop_map(Milli)
    }

    fn options() -> impl Strategy<Value = TransformOptions> {
        let geometry = (
            proptest::option::of(1..=MAX_DIMENSION),
            proptest::option::of(1..=MAX_DIMENSION),
            proptest::option::of(milli_in(1000, 3000)),
            proptest::option::of(proptest::sample::select(Fit::ALL.to_vec())),
            proptest::option::of(prop_oneof![
                Just(Gravity::Auto),
                Just(Gravity::Center),
                Just(Gravity::Left),
                Just(Gravity::Right),
                Just(Gravity::Top),
                Just(Gravity::Bottom),
                (milli_in(0, 1000), milli_in(0, 1000)).prop_map(|(x, y)| Gravity::Point(x, y)),
            ]),
            proptest::option::of(1u8..=100),
            proptest::option::of(proptest::sample::select(OutputFormat::ALL.to_vec())),
        );
        let filters = (
            proptest::option::of(1u8..=250),
            proptest::option::of(milli_in(0, 10_000)),
            proptest::option::of(milli_in(0, 10_000)),
            proptest::option::of(milli_in(0, 10_000)),
            proptest::option::of(milli_in(1, 10_000)),
            proptest::option::of(milli_in(0, 10_000)),
            proptest::option::of(proptest::sample::select(vec![0u16, 90, 180, 270])),
            proptest::option::of(proptest::sample::select(vec![
                Flip::Horizontal,
                Flip::Vertical,
                Flip::Both,
            ])),
            proptest::option::of(
                any::<(u8, u8, u8, u8)>().prop_map(|(r, g, b, a)| Rgba(r, g, b, a)),
            ),
            proptest::option::of(
                (
                    0..=MAX_DIMENSION,
                    0..=MAX_DIMENSION,
                    0..=MAX_DIMENSION,
                    0..=MAX_DIMENSION,
                )
                    .prop_map(|(top, right, bottom, left)| Trim {
                        top,
                        right,
                        bottom,
                        left,
                    }),
            ),
        );
        (geometry, filters).prop_map(
            |(
                (width, height, dpr, fit, gravity, quality, format),
                (
                    blur,
                    sharpen,
                    brightness,
                    contrast,
                    gamma,
                    saturation,
                    rotate,
                    flip,
                    background,
                    trim,
                ),
            )| TransformOptions {
                width,
                height,
                dpr,
                fit,
                gravity,
                quality,
                format,
                blur,
                sharpen,
                brightness,
                contrast,
                gamma,
                saturation,
                rotate,
                flip,
                background,
                trim,
            },
        )
    }

    proptest! {
        #[test]
        fn print_then_parse_is_the_identity_on_canonical_strings(options in options()) {
            let canonical = options.to_string();
            let parsed = TransformOptions::parse(&canonical).expect("canonical strings parse");
            prop_assert_eq!(&parsed, &options.normalized());
            prop_assert_eq!(parsed.to_string(), canonical);
        }

        #[test]
        fn parse_never_panics(input in ".{0,200}") {
            let _ = TransformOptions::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_option_shaped_input(
            pairs in proptest::collection::vec(("[a-z]{1,10}", "[-0-9a-z.;#%(),x]{0,12}"), 0..8)
        ) {
            let input = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(",");
            let _ = TransformOptions::parse(&input);
        }
    }
}
