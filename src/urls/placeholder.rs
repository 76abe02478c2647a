//! The Placeholder Zoo grammar: `/{W}x{H}/{slug}`, where the slug is the prompt.

use serde::{Deserialize, Serialize};

/// Bounds on what a URL may ask for; the server fills them from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlLimits {
    pub max_width: u32,
    pub max_height: u32,
    /// Longest prompt a slug may carry, in characters (after URL-decoding).
    pub max_slug_chars: usize,
}

impl Default for UrlLimits {
    fn default() -> Self {
        Self {
            max_width: 4096,
            max_height: 4096,
            max_slug_chars: 200,
        }
    }
}

/// A requested output size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// The segment is not trying to be a size at all (`/about/team`): the path belongs to someone else.
    #[error("`{0}` is not a size")]
    NotASize(String),
    #[error("size `{0}` must be WIDTHxHEIGHT, for example 800x600")]
    Malformed(String),
    #[error("{dimension} `{value}` is not a whole number of pixels")]
    NotAnInteger {
        dimension: &'static str,
        value: String,
    },
    #[error("{dimension} {value} is out of range: it must be between 1 and {max}")]
    OutOfRange {
        dimension: &'static str,
        value: String,
        max: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("the prompt in the URL is empty: put words after the size, for example /800x600/sunglasses-sloth")]
    Empty,
    #[error("the prompt in the URL is {len} characters long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("the prompt in the URL contains a control character")]
    ControlCharacter,
}

/// Parses the size segment, any case of `x`. A segment that does not start like a number is
/// [`SizeError::NotASize`], so the router can answer 404 instead of 400 for unrelated paths.
pub fn parse_size(segment: &str, limits: &UrlLimits) -> Result<Size, SizeError> {
    let starts_numeric = segment
        .trim_start_matches(['+', '-'])
        .starts_with(|c: char| c.is_ascii_digit());
    if !starts_numeric {
        return Err(SizeError::NotASize(segment.to_owned()));
    }
    let (w, h) = segment
        .split_once(['x', 'X'])
        .ok_or_else(|| SizeError::Malformed(segment.to_owned()))?;
    Ok(Size {
        width: parse_dimension("width", w, limits.max_width)?,
        height: parse_dimension("height", h, limits.max_height)?,
    })
}

fn parse_dimension(dimension: &'static str, value: &str, max: u32) -> Result<u32, SizeError> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    let out_of_range = || SizeError::OutOfRange {
        dimension,
        value: value.to_owned(),
        max,
    };
    if let Some(rest) = digits.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(out_of_range());
        }
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeError::NotAnInteger {
            dimension,
            value: value.to_owned(),
        });
    }
    // All digits: the only parse failure left is overflow, which is out of range too.
    match digits.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(out_of_range()),
    }
}

/// Turns a URL-decoded slug into the prompt: `-` and `_` become spaces, runs of whitespace collapse.
pub fn prompt_from_slug(slug: &str, limits: &UrlLimits) -> Result<String, SlugError> {
    if slug.chars().any(char::is_control) {
        return Err(SlugError::ControlCharacter);
    }
    let prompt = slug
        .split(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let len = prompt.chars().count();
    if len == 0 {
        Err(SlugError::Empty)
    } else if len > limits.max_slug_chars {
        Err(SlugError::TooLong {
            len,
            max: limits.max_slug_chars,
        })
    } else {
        Ok(prompt)
    }
}

/// The slug for free text: lower case, letters and digits of any script kept, everything else a `-`.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().filter(|c| !matches!(c, '\'' | '’')) {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(slug.trim_end_matches('-').len());
    slug
}

/// The Placeholder Zoo path for a size and free-text prompt, e.g. `/800x600/sunglasses-sloth`.
pub fn placeholder_path(size: Size, prompt: &str) -> String {
    format!("/{size}/{}", slugify(prompt))
}

/// The Placeholder Zoo URL with its query (`model`, `seed`, an edit's `image`…): the one place such
/// a URL is put together, so the studio's "Copy URL by prompt" and the URL maker print the same.
pub fn placeholder_url(size: Size, prompt: &str, query: &[(&str, &str)]) -> String {
    super::with_query(&placeholder_path(size, prompt), query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> Result<Size, SizeError> {
        parse_size(s, &UrlLimits::default())
    }

    #[test]
    fn sizes_in_either_case_parse_to_the_same_value() {
        let expected = Size {
            width: 800,
            height: 600,
        };
        assert_eq!(size("800x600"), Ok(expected));
        assert_eq!(size("800X600"), Ok(expected));
        assert_eq!(size("1x1").unwrap().to_string(), "1x1");
        assert_eq!(size("4096x4096").unwrap().width, 4096);
    }

    #[test]
    fn non_sizes_are_not_sizes() {
        for s in ["about", "gallery", "pkg", "x600", "NaNx600", "", "img"] {
            assert!(matches!(size(s), Err(SizeError::NotASize(_))), "{s}");
        }
    }

    #[test]
    fn bad_sizes_say_what_is_wrong() {
        assert!(matches!(size("800"), Err(SizeError::Malformed(_))));
        assert!(matches!(
            size("800x"),
            Err(SizeError::NotAnInteger {
                dimension: "height",
                ..
            })
        ));
        assert!(matches!(
            size("800xabc"),
            Err(SizeError::NotAnInteger {
                dimension: "height",
                ..
            })
        ));
        assert!(matches!(
            size("1.5x600"),
            Err(SizeError::NotAnInteger {
                dimension: "width",
                ..
            })
        ));
        assert!(matches!(
            size("800x600x2"),
            Err(SizeError::NotAnInteger { .. })
        ));
        assert!(matches!(
            size("800x 600"),
            Err(SizeError::NotAnInteger { .. })
        ));
        assert!(matches!(
            size("0x600"),
            Err(SizeError::OutOfRange {
                dimension: "width",
                ..
            })
        ));
        assert!(matches!(
            size("800x0"),
            Err(SizeError::OutOfRange {
                dimension: "height",
                ..
            })
        ));
        assert!(matches!(
            size("-5x600"),
            Err(SizeError::OutOfRange {
                dimension: "width",
                ..
            })
        ));
        assert!(matches!(
            size("4097x600"),
            Err(SizeError::OutOfRange { max: 4096, .. })
        ));
        assert!(matches!(
            size("800x99999999999999999999"),
            Err(SizeError::OutOfRange { .. })
        ));
        let message = size("800x0").unwrap_err().to_string();
        assert!(
            message.contains("height") && message.contains("4096"),
            "{message}"
        );
    }

    #[test]
    fn limits_come_from_configuration() {
        let limits = UrlLimits {
            max_width: 100,
            max_height: 50,
            max_slug_chars: 5,
        };
        assert!(parse_size("100x50", &limits).is_ok());
        assert!(parse_size("101x50", &limits).is_err());
        assert!(parse_size("100x51", &limits).is_err());
        assert_eq!(prompt_from_slug("abcde", &limits).as_deref(), Ok("abcde"));
        assert_eq!(
            prompt_from_slug("abcdef", &limits),
            Err(SlugError::TooLong { len: 6, max: 5 })
        );
    }

    #[test]
    fn slugs_become_prompts() {
        let limits = UrlLimits::default();
        let prompt = |s| prompt_from_slug(s, &limits);
        assert_eq!(
            prompt("sunglasses-sloth").as_deref(),
            Ok("sunglasses sloth")
        );
        assert_eq!(prompt("a__red--panda_").as_deref(), Ok("a red panda"));
        assert_eq!(prompt("café au lait").as_deref(), Ok("café au lait"));
        assert_eq!(prompt("戴墨镜的树懒").as_deref(), Ok("戴墨镜的树懒"));
        assert_eq!(prompt(""), Err(SlugError::Empty));
        assert_eq!(prompt("-_- _"), Err(SlugError::Empty));
        assert_eq!(prompt("bad\nslug"), Err(SlugError::ControlCharacter));
        assert!(matches!(
            prompt(&"a".repeat(201)),
            Err(SlugError::TooLong { len: 201, .. })
        ));
    }

    #[test]
    fn slugify_round_trips_through_the_parser() {
        assert_eq!(slugify("Sunglasses Sloth!"), "sunglasses-sloth");
        assert_eq!(slugify("  Don't panic -- 42  "), "dont-panic-42");
        assert_eq!(slugify("Ünïcödé 猫"), "ünïcödé-猫");
        assert_eq!(slugify("!!!"), "");
        let size = Size {
            width: 640,
            height: 480,
        };
        assert_eq!(placeholder_path(size, "A red fox"), "/640x480/a-red-fox");
        let limits = UrlLimits::default();
        assert_eq!(
            prompt_from_slug(&slugify("A red fox"), &limits).as_deref(),
            Ok("a red fox")
        );
    }

    proptest::proptest! {
        #[test]
        fn sizes_print_and_parse_back(width in 1u32..=4096, height in 1u32..=4096) {
            let size = Size { width, height };
            proptest::prop_assert_eq!(parse_size(&size.to_string(), &UrlLimits::default()), Ok(size));
        }

        #[test]
        fn parsers_never_panic(segment in ".{0,40}", slug in ".{0,300}") {
            let limits = UrlLimits::default();
            let _ = parse_size(&segment, &limits);
            if let Ok(prompt) = prompt_from_slug(&slug, &limits) {
                proptest::prop_assert!(prompt.chars().count() <= limits.max_slug_chars);
                proptest::prop_assert!(!prompt.trim().is_empty());
            }
        }

        #[test]
        fn a_slug_made_from_words_reads_back_as_those_words(words in "[a-z0-9]{1,8}( [a-z0-9]{1,8}){0,6}") {
            let slug = slugify(&words);
            proptest::prop_assert_eq!(prompt_from_slug(&slug, &UrlLimits::default()), Ok(words));
        }
    }
}
