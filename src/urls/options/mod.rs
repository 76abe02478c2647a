//! Transform options in Cloudflare's image-transformation syntax: `width=400,height=300,fit=cover`.
//!
//! Shared by the server (which parses URLs and applies them) and the browser (whose URL builder prints
//! them), so every URL the builder prints parses. Printing is canonical: a fixed order, full names,
//! defaults dropped, numbers in one spelling. The canonical string keys the memory cache, so two URLs
//! that spell the same transform share one response; the stored derivative goes further and is keyed
//! by what is made from the image's size (`server::engine::derive`).
//!
//! Each option is one row of [`OPTIONS`] (`table.rs`): its names, how its value is read and printed,
//! its default, and how the URL builder offers it. Parsing, normalising, printing and the builder all
//! follow the table, so a new option is a field here, a row there and a step in the pipeline.

mod table;

#[cfg(test)]
pub(crate) mod strategy;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use table::OPTIONS;

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
    /// In declaration order, as [`Fit::NAMES`] spells them.
    pub const ALL: [Fit; 6] = [
        Fit::ScaleDown,
        Fit::Contain,
        Fit::Cover,
        Fit::Crop,
        Fit::Pad,
        Fit::Squeeze,
    ];

    pub const NAMES: [&'static str; 6] =
        ["scale-down", "contain", "cover", "crop", "pad", "squeeze"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
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

impl Gravity {
    /// The gravities with a name, as [`Gravity::NAMES`] spells them (a point is spelled `XxY`).
    pub const NAMED: [Gravity; 6] = [
        Gravity::Auto,
        Gravity::Center,
        Gravity::Left,
        Gravity::Right,
        Gravity::Top,
        Gravity::Bottom,
    ];

    pub const NAMES: [&'static str; 6] = ["auto", "center", "left", "right", "top", "bottom"];
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
    /// In declaration order, as [`OutputFormat::NAMES`] spells them.
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Auto,
        OutputFormat::Avif,
        OutputFormat::Webp,
        OutputFormat::Jpeg,
        OutputFormat::Png,
    ];

    pub const NAMES: [&'static str; 5] = ["auto", "avif", "webp", "jpeg", "png"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
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

impl Flip {
    /// In declaration order, as [`Flip::NAMES`] spells them.
    pub const ALL: [Flip; 3] = [Flip::Horizontal, Flip::Vertical, Flip::Both];

    pub const NAMES: [&'static str; 3] = ["h", "v", "hv"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
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

/// One option: a row of [`OPTIONS`].
pub struct TransformOption {
    /// The full name, as printed.
    pub name: &'static str,
    /// Other names it is read by.
    pub aliases: &'static [&'static str],
    /// What a value may be: in the error for one that is not, and the URL builder's hint.
    pub allowed: &'static str,
    /// The value that does what leaving the option out does, as printed; dropped from the canonical
    /// form.
    pub default: Option<&'static str>,
    /// The URL builder's label.
    pub label: &'static str,
    /// How the URL builder offers it.
    pub control: Control,
    /// Reads a value into the option's field.
    set: fn(&mut TransformOptions, &str) -> Result<(), Refusal>,
    /// The field's value as printed, when it is set (to its default or not).
    print: fn(&TransformOptions) -> Option<String>,
    /// Sets the field to its value in the second options.
    copy: fn(&mut TransformOptions, &TransformOptions),
}

/// What the URL builder shows for an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// A number field stepping by this much.
    Number { step: &'static str },
    /// A list of these values, after an empty one for the default.
    Choice(&'static [&'static str]),
    /// A colour picker (`#rrggbb`).
    Colour,
    /// A text field showing this example while empty.
    Text { placeholder: &'static str },
}

/// Why a row's `set` turned a value down.
enum Refusal {
    Invalid,
    Repeated,
}

impl TransformOption {
    /// The option as the canonical form prints it: `None` when it is not set or set to its default.
    fn canonical(&self, options: &TransformOptions) -> Option<String> {
        (self.print)(options).filter(|value| Some(value.as_str()) != self.default)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown option `{name}`; options are: {}", names())]
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

/// Every option's name, in order.
fn names() -> String {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .collect::<Vec<_>>()
        .join(", ")
}

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
        let option = OPTIONS
            .iter()
            .find(|o| o.name == lower || o.aliases.contains(&lower.as_str()))
            .ok_or_else(|| OptionError::Unknown {
                name: name.to_owned(),
            })?;
        (option.set)(self, value).map_err(|refusal| match refusal {
            Refusal::Invalid => OptionError::Invalid {
                name: option.name,
                value: value.to_owned(),
                allowed: option.allowed,
            },
            Refusal::Repeated => OptionError::Repeated(option.name),
        })
    }

    /// The same options with every value equal to its default removed.
    pub fn normalized(&self) -> Self {
        let mut normalized = self.clone();
        for option in &OPTIONS {
            if option.default.is_some() && (option.print)(self).as_deref() == option.default {
                (option.copy)(&mut normalized, &TransformOptions::default());
            }
        }
        normalized
    }

    pub fn is_empty(&self) -> bool {
        self.normalized() == TransformOptions::default()
    }
}

/// Canonical form: fixed order, full names, defaults dropped.
impl fmt::Display for TransformOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for option in &OPTIONS {
            if let Some(value) = option.canonical(self) {
                write!(f, "{separator}{}={value}", option.name)?;
                separator = ",";
            }
        }
        Ok(())
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
    fn every_field_has_a_row() {
        // Every field named: a new field does not compile here until it is counted, and the count
        // is the table's, so it cannot be left without a row (parsed, printed, offered, drawn).
        let TransformOptions {
            width: _,
            height: _,
            dpr: _,
            fit: _,
            gravity: _,
            quality: _,
            format: _,
            blur: _,
            sharpen: _,
            brightness: _,
            contrast: _,
            gamma: _,
            saturation: _,
            rotate: _,
            flip: _,
            background: _,
            trim: _,
        } = TransformOptions::default();
        const FIELDS: usize = 17;
        assert_eq!(OPTIONS.len(), FIELDS);
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
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::strategy::transform_options;
    use super::*;

    proptest! {
        #[test]
        fn print_then_parse_is_the_identity_on_canonical_strings(options in transform_options()) {
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
