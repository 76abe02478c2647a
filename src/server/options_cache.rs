//! A parse cache for options strings as URLs spell them: a hit on `/img/{id}/{options}` needs its
//! options parsed, presets expanded and the canonical spelling printed to find its response in memory,
//! and measured with callgrind that was a sixth of a 304's instructions, the same work for the same
//! string on every request. Reading is a pure function of the string (presets are fixed at start-up),
//! so what it gives is kept by the string, within a byte budget; a string that does not read is not
//! kept, and its error is made again each time.

use std::sync::{Arc, OnceLock};

use moka::sync::Cache;

use crate::domain::format::ImageFormat;
use crate::server::presets::{Expanded, PresetError, Presets};

/// Bytes of options strings and their readings kept: tens of thousands of typical ones.
const BUDGET: u64 = 8 << 20;

/// What one options string reads as.
#[derive(Debug)]
pub struct ReadOptions {
    pub expanded: Expanded,
    /// The canonical spelling for the memory key, by the output format known before the source is
    /// read (see [`ReadOptions::canonical`]); filled as each is first asked for.
    canonical: [OnceLock<Box<str>>; 1 + ImageFormat::ALL.len()],
}

impl ReadOptions {
    /// The canonical spelling when the output's format is `known` (`None` when it will be the
    /// source's), printed by `print` the first time.
    pub fn canonical(&self, known: Option<ImageFormat>, print: impl FnOnce() -> String) -> &str {
        let slot = known.map_or(0, |format| {
            1 + ImageFormat::ALL
                .iter()
                .position(|f| *f == format)
                .unwrap_or_default()
        });
        self.canonical[slot].get_or_init(|| print().into_boxed_str())
    }
}

#[derive(Clone)]
pub struct OptionsCache {
    read: Cache<String, Arc<ReadOptions>>,
}

impl Default for OptionsCache {
    fn default() -> Self {
        Self {
            read: Cache::builder()
                .max_capacity(BUDGET)
                // The string, and its canonical spellings at most as long again several times over.
                .weigher(|raw: &String, _| u32::try_from(raw.len() * 4 + 512).unwrap_or(u32::MAX))
                .build(),
        }
    }
}

impl OptionsCache {
    /// `raw` read with `presets`, from memory when it was read before.
    pub fn read(&self, presets: &Presets, raw: &str) -> Result<Arc<ReadOptions>, PresetError> {
        if let Some(known) = self.read.get(raw) {
            return Ok(known);
        }
        let spelling = Arc::new(ReadOptions {
            expanded: presets.expand(raw)?,
            canonical: Default::default(),
        });
        self.read.insert(raw.to_owned(), spelling.clone());
        Ok(spelling)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_string_reads_as_presets_expand_it_and_is_kept_only_when_it_reads() {
        let presets = Presets::new(&BTreeMap::from([(
            "thumb".to_owned(),
            "width=64,height=64,fit=cover".to_owned(),
        )]))
        .unwrap();
        let spellings = OptionsCache::default();
        for raw in [
            "width=400,format=webp",
            "preset=thumb",
            "preset=thumb,quality=50",
        ] {
            let first = spellings.read(&presets, raw).unwrap();
            let again = spellings.read(&presets, raw).unwrap();
            assert!(Arc::ptr_eq(&first, &again), "{raw} is read once");
            let fresh = presets.expand(raw).unwrap();
            assert_eq!(first.expanded.options, fresh.options, "{raw}");
            assert_eq!(first.expanded.presets_only, fresh.presets_only, "{raw}");
        }
        for bad in ["width=-1", "preset=none", "nonsense"] {
            assert!(spellings.read(&presets, bad).is_err(), "{bad}");
            spellings.read.run_pending_tasks();
            assert!(spellings.read.get(bad).is_none(), "{bad} is not kept");
        }
    }

    #[test]
    fn each_known_format_has_its_own_canonical_spelling() {
        let spellings = OptionsCache::default();
        let spelling = spellings
            .read(&Presets::default(), "width=400,format=auto")
            .unwrap();
        let mut printed = 0;
        for known in [None, Some(ImageFormat::Webp), Some(ImageFormat::Avif)] {
            for _ in 0..2 {
                let canonical = spelling.canonical(known, || {
                    printed += 1;
                    format!("{known:?}")
                });
                assert_eq!(canonical, format!("{known:?}"));
            }
        }
        assert_eq!(printed, 3, "printed once per format");
    }
}
