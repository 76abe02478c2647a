//! One page of the catalog, newest first, after a cursor: what `GET /api/images` and the studio's
//! gallery both ask for, read one way. A page is asked for with one row more than it shows, which
//! tells whether another follows.

use crate::domain::kind::ImageKind;
use crate::server::engine::{Engine, EngineError};
use crate::server::storage::{cursor_after, parse_cursor, ImageRecord, PageQuery};

/// Images per page unless asked otherwise, and the most a page holds.
pub const DEFAULT_LIMIT: u32 = 24;
pub const MAX_LIMIT: u32 = 100;

/// What a face asks for, as it was given.
#[derive(Debug, Clone, Copy)]
pub struct PageAsk<'a> {
    pub limit: u32,
    /// `next_cursor` of the page before.
    pub cursor: Option<&'a str>,
    /// Words in the prompt or the final prompt; blank is none.
    pub search: Option<&'a str>,
    /// One model's images; empty is all.
    pub model: Option<&'a str>,
    pub kind: Option<ImageKind>,
    /// `limits.max_search_chars`: the longest search taken.
    pub max_search_chars: usize,
}

/// A page and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub records: Vec<ImageRecord>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("limit {0} must be between 1 and {MAX_LIMIT}")]
    Limit(u32),
    #[error("cursor `{0}` is not one this server gave out")]
    Cursor(String),
    /// The search's text is not repeated: it is what was too long.
    #[error("search `q` is longer than {max} characters (limits.max_search_chars)")]
    SearchTooLong { max: usize },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

pub async fn page(engine: &Engine, ask: PageAsk<'_>) -> Result<Page, PageError> {
    let limit = ask.limit;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(PageError::Limit(limit));
    }
    let search = ask.search.map(str::trim).filter(|q| !q.is_empty());
    // `nth` stops counting at the limit, however long the search.
    if search.is_some_and(|q| q.chars().nth(ask.max_search_chars).is_some()) {
        return Err(PageError::SearchTooLong {
            max: ask.max_search_chars,
        });
    }
    let after = ask
        .cursor
        .map(|c| parse_cursor(c).ok_or_else(|| PageError::Cursor(c.to_owned())))
        .transpose()?;
    let mut records = engine
        .page(&PageQuery {
            limit: limit + 1,
            after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
            search,
            model: ask.model.filter(|m| !m.is_empty()),
            kind: ask.kind,
        })
        .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = more.then(|| records.last().map(cursor_after)).flatten();
    Ok(Page {
        records,
        next_cursor,
    })
}
