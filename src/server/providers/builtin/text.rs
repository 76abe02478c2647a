//! Text as vector paths: glyph outlines from an embedded font (DejaVu Sans Bold, Bitstream Vera licence,
//! see `assets/fonts/LICENSE-DejaVu.txt`), laid out left to right and filled by tiny-skia with
//! anti-aliasing like any other shape.
//!
//! Layout is deliberately simple (no shaping, kerning or bidi): a placeholder label needs legibility,
//! not typography. Characters the font lacks (CJK, for one) are transliterated with deunicode, so
//! `戴墨镜的树懒` reads "Dai Mo Jing De Shu Lan" rather than six boxes: a CJK font would make the binary
//! several megabytes larger for a label.

use std::borrow::Cow;
use std::sync::OnceLock;

use tiny_skia::{Path, PathBuilder};
use ttf_parser::{Face, GlyphId, OutlineBuilder};

static FONT_DATA: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans-Bold.ttf");

pub struct Font {
    face: Face<'static>,
    units_per_em: f32,
}

/// The embedded font, parsed once.
pub fn font() -> &'static Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| {
        // The bytes are compiled in; a test proves they parse.
        let face = Face::parse(FONT_DATA, 0).expect("the embedded font is a valid TrueType file");
        let units_per_em = f32::from(face.units_per_em());
        Font { face, units_per_em }
    })
}

impl Font {
    fn glyph(&self, c: char) -> GlyphId {
        self.face.glyph_index(c).unwrap_or(GlyphId(0))
    }

    /// `text` with every character the font lacks replaced by its ASCII transliteration (or `?`).
    pub fn drawable<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let has = |c: char| c.is_whitespace() || self.face.glyph_index(c).is_some();
        if text.chars().all(has) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if has(c) {
                out.push(c);
                continue;
            }
            // Transliterations of ideographs end in a space; words already apart need no second one.
            let ascii = deunicode::deunicode_char(c).unwrap_or("?");
            if out.ends_with(|p: char| p.is_alphanumeric())
                && ascii.starts_with(char::is_alphanumeric)
            {
                out.push(' ');
            }
            out.push_str(ascii.trim_end());
        }
        Cow::Owned(out.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    fn advance(&self, glyph: GlyphId, px: f32) -> f32 {
        f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)) * px / self.units_per_em
    }

    /// Distance from the baseline to the top of the tallest glyphs.
    pub fn ascent(&self, px: f32) -> f32 {
        f32::from(self.face.ascender()) * px / self.units_per_em
    }

    /// Distance from the baseline to the bottom of descenders (positive).
    pub fn descent(&self, px: f32) -> f32 {
        -f32::from(self.face.descender()) * px / self.units_per_em
    }

    pub fn line_height(&self, px: f32) -> f32 {
        (self.ascent(px) + self.descent(px)) * 1.05
    }

    pub fn width(&self, text: &str, px: f32) -> f32 {
        text.chars().map(|c| self.advance(self.glyph(c), px)).sum()
    }

    /// Greedy word wrap to `max_width`; a word wider than a line is broken between characters.
    /// Linear in the text: each line's width is kept as it grows, summed in the same order as
    /// [`Font::width`] would sum it, so the lines are the ones measuring each candidate would give.
    pub fn wrap(&self, text: &str, px: f32, max_width: f32) -> Vec<String> {
        let space = self.width(" ", px);
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut line_width = 0.0_f32;
        for word in text.split_whitespace() {
            let mut candidate_width = if line.is_empty() {
                0.0
            } else {
                line_width + space
            };
            for c in word.chars() {
                candidate_width += self.advance(self.glyph(c), px);
            }
            if candidate_width <= max_width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                line_width = candidate_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            for c in word.chars() {
                let advance = self.advance(self.glyph(c), px);
                if line_width + advance > max_width && !line.is_empty() {
                    lines.push(std::mem::replace(&mut line, c.to_string()));
                    line_width = advance;
                } else {
                    line.push(c);
                    line_width += advance;
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Shortens `text` with an ellipsis until it fits `max_width`: the longest prefix, without its
    /// trailing whitespace, that fits with the ellipsis after it. Linear in the text: the prefixes'
    /// widths are summed once.
    pub fn ellipsize(&self, text: &str, px: f32, max_width: f32) -> String {
        if self.width(text, px) <= max_width {
            return text.to_owned();
        }
        let ellipsis = self.width("…", px);
        // For each prefix length: the byte length and width of that prefix with trailing
        // whitespace trimmed.
        let mut kept = Vec::with_capacity(text.len());
        let (mut bytes, mut width) = (0, 0.0_f32);
        let (mut trimmed_bytes, mut trimmed_width) = (0, 0.0_f32);
        kept.push((0, 0.0_f32));
        for c in text.chars() {
            bytes += c.len_utf8();
            width += self.advance(self.glyph(c), px);
            if !c.is_whitespace() {
                (trimmed_bytes, trimmed_width) = (bytes, width);
            }
            kept.push((trimmed_bytes, trimmed_width));
        }
        // Every prefix shorter than the whole text, longest first.
        kept.pop();
        kept.iter()
            .rev()
            .find(|(_, width)| width + ellipsis <= max_width)
            .map_or_else(|| "…".into(), |&(bytes, _)| format!("{}…", &text[..bytes]))
    }

    /// The outline of `text` at `px`, its baseline starting at (`x`, `baseline`).
    pub fn path(&self, text: &str, px: f32, x: f32, baseline: f32) -> Option<Path> {
        let scale = px / self.units_per_em;
        let mut sink = Sink {
            builder: PathBuilder::new(),
            x,
            y: baseline,
            scale,
        };
        for c in text.chars() {
            let glyph = self.glyph(c);
            self.face.outline_glyph(glyph, &mut sink);
            sink.x += self.advance(glyph, px);
        }
        sink.builder.finish()
    }
}

/// Receives glyph outlines in font units (y up) and writes them in pixels (y down).
struct Sink {
    builder: PathBuilder,
    x: f32,
    y: f32,
    scale: f32,
}

impl Sink {
    fn at(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.y - y * self.scale)
    }
}

impl OutlineBuilder for Sink {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.builder.move_to(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.builder.line_to(x, y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x1, y1) = self.at(x1, y1);
        let (x, y) = self.at(x, y);
        self.builder.quad_to(x1, y1, x, y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x1, y1) = self.at(x1, y1);
        let (x2, y2) = self.at(x2, y2);
        let (x, y) = self.at(x, y);
        self.builder.cubic_to(x1, y1, x2, y2, x, y);
    }

    fn close(&mut self) {
        self.builder.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_measures_and_outlines() {
        let font = font();
        assert!(font.width("Pixzoo", 32.0) > font.width("Pix", 32.0));
        assert!((font.width("ab", 20.0) * 2.0 - font.width("ab", 40.0)).abs() < 0.01);
        let path = font
            .path("Hi", 32.0, 10.0, 40.0)
            .expect("glyphs have outlines");
        let bounds = path.bounds();
        assert!(
            bounds.left() >= 10.0 && bounds.bottom() <= 40.5 && bounds.top() > 10.0,
            "{bounds:?}"
        );
        assert!(
            font.path(" ", 32.0, 0.0, 0.0).is_none(),
            "a space has no outline"
        );
    }

    #[test]
    fn characters_the_font_lacks_are_transliterated() {
        let font = font();
        assert!(matches!(
            font.drawable("a café, 1024×768"),
            Cow::Borrowed(_)
        ));
        assert_eq!(font.drawable("戴墨镜的树懒"), "Dai Mo Jing De Shu Lan");
        assert_eq!(font.drawable("sloth 戴墨镜"), "sloth Dai Mo Jing");
        let drawn = font.drawable("東京の猫");
        assert!(
            drawn
                .chars()
                .all(|c| c == ' ' || font.face.glyph_index(c).is_some()),
            "{drawn}"
        );
    }

    #[test]
    fn wrapping_keeps_every_line_within_width() {
        let font = font();
        let text =
            "a sloth wearing sunglasses on a beach at sunset, extraordinarilylongwordthatmustbreak";
        let lines = font.wrap(text, 20.0, 150.0);
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(font.width(line, 20.0) <= 150.0, "{line}");
        }
        let rejoined: String = lines
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let original: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(rejoined, original, "no character is lost");
        let short = font.ellipsize(text, 20.0, 100.0);
        assert!(
            short.ends_with('…') && font.width(&short, 20.0) <= 100.0,
            "{short}"
        );
    }

    /// The measure-every-candidate definitions the linear `wrap` and `ellipsize` must agree with,
    /// line for line and character for character (they were the implementation until a long prompt
    /// showed their cost: 16,000 characters took 7 s).
    fn wrap_by_measuring(font: &Font, text: &str, px: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if font.width(&candidate, px) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                line.push(c);
                if font.width(&line, px) > max_width && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::replace(&mut line, c.to_string()));
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn ellipsize_by_measuring(font: &Font, text: &str, px: f32, max_width: f32) -> String {
        if font.width(text, px) <= max_width {
            return text.to_owned();
        }
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty() {
            chars.pop();
            let candidate = chars.iter().collect::<String>().trim_end().to_owned() + "…";
            if font.width(&candidate, px) <= max_width {
                return candidate;
            }
        }
        "…".into()
    }

    proptest::proptest! {
        #[test]
        fn linear_wrapping_and_ellipsis_agree_with_measuring_each_candidate(
            text in "([a-z]{1,12}|[ ]{1,3}|[é×.,!]|W{1,30}|\u{3000}){0,40}",
            px in 6.0f32..60.0,
            max_width in 0.0f32..400.0,
        ) {
            let font = font();
            proptest::prop_assert_eq!(
                font.wrap(&text, px, max_width),
                wrap_by_measuring(font, &text, px, max_width)
            );
            proptest::prop_assert_eq!(
                font.ellipsize(&text, px, max_width),
                ellipsize_by_measuring(font, &text, px, max_width)
            );
        }
    }
}
