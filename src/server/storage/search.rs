//! What both SQL catalogs share about search: a search is matched literally, anywhere in the prompt or
//! the final prompt, as `LIKE` (SQLite) and `ILIKE` (PostgreSQL) match it. Each backend finds the
//! candidates through its trigram index: PostgreSQL's `pg_trgm` answers `ILIKE` itself; SQLite plans
//! each search from its FTS5 index's statistics (`sqlite/search.rs`).

/// `search` as a LIKE pattern matching it anywhere, literally: `%`, `_` and `\` escaped (with
/// `ESCAPE '\'`).
pub fn like_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
