//! Named option strings (`[presets]` in Leptos.toml): `/img/{id}/preset=thumb` is the options the
//! preset names, and `security.derivatives = "presets"` lets only such URLs make new derivatives, as
//! imgproxy's presets-only mode does. A preset may be combined with other options that it does not
//! set (`preset=thumb,format=webp`).

use std::collections::BTreeMap;

use crate::urls::options::{pairs, OptionError, TransformOptions};

#[derive(Debug, Clone, Default)]
pub struct Presets {
    by_name: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("no preset is named `{name}`; presets: {known}")]
    Unknown { name: String, known: String },
    #[error("preset `{name}`: {source}")]
    Invalid { name: String, source: OptionError },
    #[error("preset name `{0}` must be letters, digits, `-` or `_`")]
    BadName(String),
    #[error(transparent)]
    Option(#[from] OptionError),
}

/// Options as a URL asked for them, presets expanded.
#[derive(Debug)]
pub struct Expanded {
    pub options: TransformOptions,
    /// Every option came from a named preset.
    pub presets_only: bool,
}

impl Presets {
    /// Checks every preset parses, so a typo fails at start-up rather than on a request.
    pub fn new(by_name: &BTreeMap<String, String>) -> Result<Self, PresetError> {
        for (name, options) in by_name {
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                return Err(PresetError::BadName(name.clone()));
            }
            TransformOptions::parse(options).map_err(|source| PresetError::Invalid {
                name: name.clone(),
                source,
            })?;
        }
        Ok(Self {
            by_name: by_name.clone(),
        })
    }

    pub fn expand(&self, raw: &str) -> Result<Expanded, PresetError> {
        let mut options = TransformOptions::default();
        let (mut named, mut other) = (0, 0);
        for pair in pairs(raw) {
            let (name, value) = pair?;
            if name.eq_ignore_ascii_case("preset") {
                let preset = self
                    .by_name
                    .get(value)
                    .ok_or_else(|| PresetError::Unknown {
                        name: value.to_owned(),
                        known: self.known(),
                    })?;
                // Checked when loaded: every pair of a preset parses.
                for (name, value) in pairs(preset).flatten() {
                    options.set(name, value)?;
                }
                named += 1;
            } else {
                options.set(name, value)?;
                other += 1;
            }
        }
        Ok(Expanded {
            options,
            presets_only: named > 0 && other == 0,
        })
    }

    fn known(&self) -> String {
        if self.by_name.is_empty() {
            return "none are defined".into();
        }
        self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presets() -> Presets {
        Presets::new(&BTreeMap::from([
            (
                "thumb".to_owned(),
                "width=200,height=200,fit=cover".to_owned(),
            ),
            ("webp".to_owned(), "format=webp".to_owned()),
        ]))
        .unwrap()
    }

    #[test]
    fn presets_expand_to_their_options_and_combine_with_others() {
        let presets = presets();
        let thumb = presets.expand("preset=thumb").unwrap();
        assert!(thumb.presets_only);
        assert_eq!(
            thumb.options,
            TransformOptions::parse("width=200,height=200,fit=cover").unwrap()
        );
        let both = presets.expand("preset=thumb,preset=webp").unwrap();
        assert!(both.presets_only);
        let mixed = presets.expand("preset=thumb,blur=5").unwrap();
        assert!(!mixed.presets_only);
        assert_eq!(
            mixed.options,
            TransformOptions::parse("width=200,height=200,fit=cover,blur=5").unwrap()
        );
        let plain = presets.expand("width=10").unwrap();
        assert!(!plain.presets_only);
        assert!(!presets.expand("").unwrap().presets_only);
    }

    #[test]
    fn unknown_presets_and_overlaps_are_named() {
        let presets = presets();
        let unknown = presets.expand("preset=huge").unwrap_err().to_string();
        assert!(
            unknown.contains("`huge`") && unknown.contains("thumb, webp"),
            "{unknown}"
        );
        let twice = presets
            .expand("preset=thumb,width=10")
            .unwrap_err()
            .to_string();
        assert!(twice.contains("width"), "{twice}");
        let bad = Presets::new(&BTreeMap::from([("x".to_owned(), "wdth=1".to_owned())]));
        assert!(bad.unwrap_err().to_string().contains("preset `x`"));
        let name = Presets::new(&BTreeMap::from([("a b".to_owned(), "width=1".to_owned())]));
        assert!(matches!(name, Err(PresetError::BadName(_))));
    }
}
