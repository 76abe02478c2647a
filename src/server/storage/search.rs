//! What both SQL catalogs share about search: a search is matched literally, anywhere in the prompt or
//! the final prompt, as `LIKE` (SQLite) and `ILIKE` (PostgreSQL) match it. Each backend finds the
//! candidates through its trigram index, asking it for the search's rarest trigrams rather than all
//! of them (an index reads every trigram it is asked for, and " at" is in most prompts), then tests
//! the exact match on what it finds: SQLite guesses rarity from English letter frequencies
//! ([`rarest_trigrams`], `sqlite/search.rs`); PostgreSQL counts it in a [`Sample`] of recent prompts
//! (`postgres/search.rs`), since English misjudges prompts ("igh" is rare in English and in every
//! "highly detailed") and pg_trgm's index then reads the long lists of what is common in them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `search` as a LIKE pattern matching it anywhere, literally: `%`, `_` and `\` escaped (with
/// `ESCAPE '\'`).
pub fn like_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The `n` trigrams of an ASCII `search` (lowercased) least likely to be common, rarest first; `None`
/// for other scripts,
/// whose case folding is the database's to do. Every text that contains the search contains these,
/// so asking an index for them finds a superset of the matches, and the rarer they are, the fewer it
/// reads (measured at a million images: "fox at dusk" as a phrase of nine trigrams, 30 ms in SQLite's
/// index; its two rarest, "fox" and "usk", 2 ms). Rarity is guessed from English letter frequencies.
pub fn rarest_trigrams(search: &str, n: usize) -> Option<Vec<String>> {
    if !search.is_ascii() {
        return None;
    }
    let chars: Vec<char> = search.to_ascii_lowercase().chars().collect();
    let mut trigrams: Vec<(f64, String)> = chars
        .windows(3)
        .map(|w| {
            (
                w.iter().map(|&c| frequency(c)).product(),
                w.iter().collect(),
            )
        })
        .collect();
    trigrams.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    trigrams.dedup_by(|a, b| a.1 == b.1);
    Some(trigrams.into_iter().take(n).map(|(_, t)| t).collect())
}

/// Recent prompts (each with its final prompt), ASCII-lowercased: how often a search, or each of its
/// trigrams, appears in what people really ask for. A guide for the query's plan only; matches are
/// always tested exactly.
#[derive(Debug, Default)]
pub struct Sample {
    texts: Vec<String>,
    /// In how many texts each word trigram (three ASCII letters or digits) appears, counted once when
    /// the sample is taken, so ranking a search costs its length rather than its trigrams times the
    /// sample.
    trigram_texts: HashMap<[u8; 3], u32>,
}

impl Sample {
    /// Counts each text's word trigrams: a few milliseconds for the default sample, once per
    /// `Tuning::sample_age` (`HeldSample` does it off the runtime's threads).
    pub fn new(texts: impl IntoIterator<Item = String>) -> Self {
        let texts: Vec<String> = texts.into_iter().map(|t| t.to_ascii_lowercase()).collect();
        let mut trigram_texts: HashMap<[u8; 3], u32> = HashMap::new();
        let mut in_text = Vec::new();
        for text in &texts {
            in_text.clear();
            in_text.extend(word_trigrams(text));
            in_text.sort_unstable();
            in_text.dedup();
            for trigram in &in_text {
                *trigram_texts.entry(*trigram).or_default() += 1;
            }
        }
        Self {
            texts,
            trigram_texts,
        }
    }

    /// The share of the sampled texts that contain `search`, ASCII case folded (0 when the sample is
    /// empty).
    pub fn share(&self, search: &str) -> f64 {
        if self.texts.is_empty() {
            return 0.0;
        }
        let search = search.to_ascii_lowercase();
        let hits = self.texts.iter().filter(|t| t.contains(&search)).count();
        hits as f64 / self.texts.len() as f64
    }

    /// The `n` trigrams inside the words of an ASCII `search` (three letters or digits in a row, the
    /// trigrams an index answers `%abc%` from exactly), lowercased, in the fewest sampled texts first
    /// (ties: the rarer in English). Empty when the search has no such run or is not ASCII.
    pub fn rarest_word_trigrams(&self, search: &str, n: usize) -> Vec<String> {
        if !search.is_ascii() {
            return Vec::new();
        }
        let search = search.to_ascii_lowercase();
        let mut trigrams: Vec<[u8; 3]> = word_trigrams(&search).collect();
        trigrams.sort_unstable();
        trigrams.dedup();
        let mut ranked: Vec<(u32, f64, [u8; 3])> = trigrams
            .into_iter()
            .map(|t| {
                let seen = self.trigram_texts.get(&t).copied().unwrap_or(0);
                (
                    seen,
                    t.iter().map(|&b| frequency(char::from(b))).product(),
                    t,
                )
            })
            .collect();
        ranked.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then_with(|| a.2.cmp(&b.2))
        });
        ranked
            .into_iter()
            .take(n)
            .map(|(_, _, t)| t.iter().map(|&b| char::from(b)).collect())
            .collect()
    }
}

/// The runs of three ASCII letters or digits in `text`, as bytes: in UTF-8 an ASCII byte is always a
/// character of its own, so these are exactly the trigrams `text.contains` would find.
fn word_trigrams(text: &str) -> impl Iterator<Item = [u8; 3]> + '_ {
    text.as_bytes()
        .windows(3)
        .filter(|w| w.iter().all(u8::is_ascii_alphanumeric))
        .map(|w| [w[0], w[1], w[2]])
}

/// How a catalog makes a search's page in steps; tests shrink it to reach every step with a few
/// images.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Newest candidates tested one by one before the index is asked.
    pub window: u32,
    /// Recent prompts counted to tell common searches and trigrams from rare ones.
    pub sample: u32,
    /// How long a sample is used before it is taken again.
    pub sample_age: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            // About 8 ms of tests at a million images; a search in one image in two hundred fills
            // a page there.
            window: 10_000,
            // A few milliseconds to read, once per `sample_age` per instance; enough to see a
            // trigram in one prompt in a few hundred.
            sample: 2_000,
            sample_age: Duration::from_secs(600),
        }
    }
}

impl Tuning {
    /// A window and a sample of `n`, the sample taken afresh for every search.
    pub fn small(n: u32) -> Self {
        Self {
            window: n.max(1),
            sample: n.max(1),
            sample_age: Duration::ZERO,
        }
    }

    /// Whether `search` is common enough in `sample` to fill a page of `limit` from the window:
    /// else walking the window is time lost, and the index is asked at once.
    pub fn fills_from_window(&self, sample: &Sample, search: &str, limit: u32) -> bool {
        sample.share(search) * f64::from(self.window.max(1)) >= f64::from(limit)
    }
}

/// A [`Sample`] an instance keeps, taken again once it is older than it may be.
#[derive(Debug, Default)]
pub struct HeldSample {
    held: Mutex<Option<(Instant, Arc<Sample>)>>,
}

impl HeldSample {
    /// The sample, from `take` (recent prompts, each with its final prompt) when there is none yet
    /// or it is `max_age` old. Searches at once may each take one; the last kept wins.
    pub async fn get<E, F>(&self, max_age: Duration, take: F) -> Result<Arc<Sample>, E>
    where
        F: Future<Output = Result<Vec<String>, E>>,
    {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((taken, sample)) = held {
            if taken.elapsed() < max_age {
                return Ok(sample);
            }
        }
        let texts = take.await?;
        // Counting the sample's trigrams is CPU work that grows with the sample: off the runtime.
        let sample = match tokio::task::spawn_blocking(|| Sample::new(texts)).await {
            Ok(sample) => Arc::new(sample),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        };
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), sample.clone()));
        Ok(sample)
    }
}

/// How often a character appears in English text: a space between words, letters by their usual
/// frequency, punctuation and digits rarely.
fn frequency(c: char) -> f64 {
    const LETTERS: [f64; 26] = [
        0.082, 0.015, 0.028, 0.043, 0.127, 0.022, 0.020, 0.061, 0.070, 0.0015, 0.0077, 0.040,
        0.024, 0.067, 0.075, 0.019, 0.00095, 0.060, 0.063, 0.091, 0.028, 0.0098, 0.024, 0.0015,
        0.020, 0.00074,
    ];
    match c {
        ' ' => 0.18,
        'a'..='z' => LETTERS[c as usize - 'a' as usize],
        _ => 0.01,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rarest_trigrams_of_a_search() {
        assert_eq!(
            rarest_trigrams("Fox at dusk", 2),
            Some(vec!["fox".into(), "usk".into()])
        );
        assert_eq!(
            rarest_trigrams("zebra crossing", 2),
            Some(vec!["zeb".into(), "bra".into()])
        );
        assert_eq!(rarest_trigrams("ab", 2), Some(vec![]));
        assert_eq!(rarest_trigrams("城市霓虹", 2), None);
    }

    #[test]
    fn a_sample_ranks_trigrams_by_how_prompts_are_written() {
        let sample = Sample::new(
            [
                "a lighthouse at night, highly detailed",
                "a red fox at dusk, studio lighting, highly Detailed",
                "an owl in fog at night",
                "a castle at dusk",
            ]
            .map(String::from),
        );
        // "lig" and "ght", the rarest in English, are in most of these; of those in one, the rarer
        // in English come first.
        assert_eq!(
            sample.rarest_word_trigrams("Lighthouse", 2),
            vec!["hou".to_owned(), "ous".to_owned()]
        );
        // Only runs of letters and digits count, and each once.
        assert_eq!(sample.rarest_word_trigrams("fox at dusk", 9).len(), 3);
        assert_eq!(
            sample.rarest_word_trigrams("a b c", 2),
            Vec::<String>::new()
        );
        assert_eq!(
            sample.rarest_word_trigrams("城市霓虹", 2),
            Vec::<String>::new()
        );
        assert_eq!(sample.share("AT DUSK"), 0.5);
        assert_eq!(sample.share("highly detailed"), 0.5);
        assert_eq!(Sample::default().share("fox"), 0.0);
    }

    /// The counts taken with the sample rank trigrams as scanning every text for each one did.
    #[test]
    fn counted_trigrams_rank_as_a_scan_of_the_sample_does() {
        let texts = [
            "a lighthouse at night, highly detailed",
            "A red fox at dusk, studio lighting, highly Detailed fox",
            "城市霓虹 at night, neon-lit café",
            "an owl in fog at night 4k",
            "x",
            "",
        ]
        .map(String::from);
        let sample = Sample::new(texts.clone());
        let lowered: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
        let scanned = |search: &str, n: usize| {
            if !search.is_ascii() {
                return Vec::new();
            }
            let search = search.to_ascii_lowercase();
            let chars: Vec<char> = search.chars().collect();
            let mut trigrams: Vec<String> = chars
                .windows(3)
                .filter(|w| w.iter().all(char::is_ascii_alphanumeric))
                .map(|w| w.iter().collect())
                .collect();
            trigrams.sort();
            trigrams.dedup();
            let mut ranked: Vec<(usize, f64, String)> = trigrams
                .into_iter()
                .map(|t| {
                    let seen = lowered.iter().filter(|text| text.contains(&t)).count();
                    (seen, t.chars().map(frequency).product(), t)
                })
                .collect();
            ranked.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then_with(|| a.2.cmp(&b.2))
            });
            ranked
                .into_iter()
                .take(n)
                .map(|(_, _, t)| t)
                .collect::<Vec<_>>()
        };
        for search in [
            "Lighthouse",
            "fox at dusk",
            "highly detailed fox",
            "NEON-lit 4k owl",
            "café",
            "zzz qqq",
            "ab",
        ] {
            for n in [1, 2, 50] {
                assert_eq!(
                    sample.rarest_word_trigrams(search, n),
                    scanned(search, n),
                    "{search} {n}"
                );
            }
        }
        // A trigram counts once per text, however often the text repeats it.
        assert_eq!(sample.trigram_texts[b"fox"], 1);
        assert_eq!(sample.trigram_texts[b"igh"], 4);
        assert!(!sample.trigram_texts.contains_key(b"t, "));
    }
}
