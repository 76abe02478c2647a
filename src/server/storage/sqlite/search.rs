//! Search in SQLite, in two steps (measured by `benches/catalog.rs` at a million images).
//!
//! FTS5's trigram index finds any substring of three characters or more, but a search is slow to find
//! there when its trigrams are common (" at" and "igh" are in most prompts), however few images it
//! matches, and a common search finds many images, all of which are then sorted. Walking the newest
//! images and testing each fills a page of a common search after a few thousand. So a search common in
//! the sample of recent prompts (`storage::search::Sample`) tests the newest `Tuning::window`
//! candidates one by one first; only what they leave, or a rare search at once, is asked of the index
//! (a rare search's matches are few to sort). Both steps test the same `LIKE`, so a page does not
//! depend on which step found it.

use super::SqliteCatalog;
use crate::server::storage::rows::{ImageRow as Row, IMAGE_COLUMNS as COLUMNS};
use crate::server::storage::search::{like_pattern, rarest_trigrams, Sample};
use crate::server::storage::{CatalogError, ImageRecord, PageQuery};
use std::sync::Arc;

/// Which images a query considers, by creation time.
enum Scan {
    All,
    /// Those created at or after this time (the window's oldest).
    Since(i64),
    /// Those the index finds for the search, created before this time (if any).
    IndexedBefore(Option<i64>),
}

impl SqliteCatalog {
    pub(super) async fn search_page(
        &self,
        query: &PageQuery<'_>,
    ) -> Result<Vec<ImageRecord>, CatalogError> {
        let Some(search) = query.search else {
            return self.select(query, &Scan::All).await;
        };
        if search.chars().count() < 3 {
            // Too short for a trigram: tested one by one.
            return self.select(query, &Scan::All).await;
        }
        let window = self.search.window.max(1);
        let sample = self.sample().await?;
        if !self.search.fills_from_window(&sample, search, query.limit) {
            // Rare among recent prompts: the window would not fill the page, so it is not walked.
            return self.select(query, &Scan::IndexedBefore(None)).await;
        }
        let Some(oldest) = self.window_end(query, window).await? else {
            // No more candidates than the window: test them all.
            return self.select(query, &Scan::All).await;
        };
        let mut found = self.select(query, &Scan::Since(oldest)).await?;
        if found.len() < query.limit as usize {
            let rest = PageQuery {
                limit: query.limit - found.len() as u32,
                ..*query
            };
            found.extend(
                self.select(&rest, &Scan::IndexedBefore(Some(oldest)))
                    .await?,
            );
        }
        Ok(found)
    }

    /// This instance's sample of recent prompts, taken again once it is `sample_age` old.
    async fn sample(&self) -> Result<Arc<Sample>, CatalogError> {
        let take = sqlx::query_scalar(
            "SELECT prompt || char(10) || final_prompt FROM images \
             ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(i64::from(self.search.sample))
        .fetch_all(&self.pool);
        self.sample
            .get(self.search.sample_age, async { Ok(take.await?) })
            .await
    }

    /// A page of images newest first, after the query's cursor, of its model, matching its search (as
    /// LIKE does) if it has one, among the images `scan` says.
    async fn select(
        &self,
        query: &PageQuery<'_>,
        scan: &Scan,
    ) -> Result<Vec<ImageRecord>, CatalogError> {
        let pattern = query.search.map(like_pattern);
        let mut sql = format!("SELECT {COLUMNS} FROM images WHERE 1 = 1");
        if query.after.is_some() {
            sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        }
        if query.model.is_some() {
            sql.push_str(" AND model = ?");
        }
        if query.kind.is_some() {
            sql.push_str(" AND kind = ?");
        }
        match scan {
            Scan::All => {}
            Scan::Since(_) => sql.push_str(" AND created_at >= ?"),
            Scan::IndexedBefore(before) => {
                if before.is_some() {
                    sql.push_str(" AND created_at < ?");
                }
                sql.push_str(
                    " AND rowid IN (SELECT rowid FROM images_search WHERE images_search MATCH ?)",
                );
            }
        }
        if pattern.is_some() {
            sql.push_str(" AND (prompt LIKE ? ESCAPE '\\' OR final_prompt LIKE ? ESCAPE '\\')");
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        let mut q = sqlx::query_as::<_, Row>(&sql);
        if let Some((created_at, id)) = query.after {
            q = q.bind(created_at).bind(created_at).bind(id);
        }
        if let Some(model) = query.model {
            q = q.bind(model);
        }
        if let Some(kind) = query.kind {
            q = q.bind(kind.as_str());
        }
        match scan {
            Scan::All => {}
            Scan::Since(since) => q = q.bind(since),
            Scan::IndexedBefore(before) => {
                if let Some(before) = before {
                    q = q.bind(before);
                }
                q = q.bind(fts_query(query.search.unwrap_or_default()));
            }
        }
        if let Some(pattern) = &pattern {
            q = q.bind(pattern).bind(pattern);
        }
        q.bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(ImageRecord::try_from)
            .collect()
    }

    /// When the `window`-th newest candidate was created, or `None` when there are no more than that.
    async fn window_end(
        &self,
        query: &PageQuery<'_>,
        window: u32,
    ) -> Result<Option<i64>, CatalogError> {
        let mut sql = String::from("SELECT created_at FROM images WHERE 1 = 1");
        if query.after.is_some() {
            sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        }
        if query.model.is_some() {
            sql.push_str(" AND model = ?");
        }
        if query.kind.is_some() {
            sql.push_str(" AND kind = ?");
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET {}",
            window.max(1) - 1
        ));
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        if let Some((created_at, id)) = query.after {
            q = q.bind(created_at).bind(created_at).bind(id);
        }
        if let Some(model) = query.model {
            q = q.bind(model);
        }
        if let Some(kind) = query.kind {
            q = q.bind(kind.as_str());
        }
        Ok(q.fetch_optional(&self.pool).await?)
    }
}

/// `text` as one FTS5 string (a phrase, which the trigram tokenizer matches as a substring), a
/// double quote inside doubled.
fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// What the index is asked for a search: its two rarest trigrams, or the whole phrase for other
/// scripts (which the tokenizer splits itself).
fn fts_query(search: &str) -> String {
    match rarest_trigrams(search, 2) {
        Some(trigrams) if !trigrams.is_empty() => trigrams
            .iter()
            .map(|t| fts_string(t))
            .collect::<Vec<_>>()
            .join(" "),
        _ => fts_string(search),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_in_a_search_stay_literal() {
        assert_eq!(fts_string("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(fts_query("a \"q\""), "\"\"\"q\"\"\" \" \"\"q\"");
    }

    #[test]
    fn the_index_is_asked_for_the_rarest_trigrams() {
        assert_eq!(fts_query("Fox at dusk"), "\"fox\" \"usk\"");
        assert_eq!(fts_query("zebra crossing"), "\"zeb\" \"bra\"");
        // Other scripts: the phrase, tokenized by SQLite itself.
        assert_eq!(fts_query("城市霓虹"), "\"城市霓虹\"");
    }
}
