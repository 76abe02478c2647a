//! What both SQL catalogs share about search: a search is matched literally, anywhere in the prompt or
//! the final prompt, as `LIKE` (SQLite) and `ILIKE` (PostgreSQL) match it. Each backend finds the
//! candidates through its trigram index: PostgreSQL's `pg_trgm` answers `ILIKE` itself; SQLite walks
//! the newest images first, then asks its FTS5 index for the search's rarest trigrams
//! ([`rarest_trigrams`]) and tests the exact match on what it finds (`sqlite/search.rs`). Asking
//! pg_trgm for rare trigrams the same way was measured and dropped: its planner then chose bitmap
//! scans of trigrams that are rare in English but common in prompts ("igh" of "highly": "lighthouse"
//! took 535 ms instead of 2).

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
}
