//! Pages of images in PostgreSQL, searched in steps (measured by `benches/catalog.rs` at a million
//! images).
//!
//! A search tests `search_text`, both prompts lowercased in one column, with `LIKE` (what `ILIKE` on
//! each prompt means, without lowercasing every row it tests), and pg_trgm's GIN index on that column
//! finds candidates for any substring of three characters or more. The index reads every trigram it
//! is asked for, though, and a search made of common words ("fox at dusk": " at", "  a", " du") reads
//! most of it however few images match (40 ms). So an ASCII search asks the index only for its two
//! rarest word trigrams, rarity counted in a [`Sample`] of recent prompts, and the whole search is
//! tested on what the index finds, outside it (12 ms). A search the sample finds common needs no
//! index and would find too many candidates to sort: its page fills from the newest
//! `Tuning::window` candidates, walked in order; only what they leave is asked of the index, for
//! older ones. Other scripts and searches without a run of three letters go to the planner whole (a
//! Chinese substring's trigrams are rare). Every step tests the same match, so a page does not
//! depend on which step found it.

use std::sync::Arc;

use sqlx::{Postgres, QueryBuilder};

use super::PgCatalog;
use crate::server::storage::rows::{ImageRow, IMAGE_COLUMNS};
use crate::server::storage::search::{like_pattern, Sample};
use crate::server::storage::{CatalogError, ImageRecord, PageQuery};

/// Which images a query considers, and how it finds its search's matches among them.
enum Scan {
    /// Every candidate, the search (if any) as one `LIKE` the planner may answer from the index.
    Planned,
    /// The newest this many candidates, tested one by one.
    Newest(u32),
    /// Candidates holding these trigrams in the index, created before this time (if any).
    Indexed(Vec<String>, Option<i64>),
}

impl PgCatalog {
    pub(super) async fn search_page(
        &self,
        query: &PageQuery<'_>,
    ) -> Result<Vec<ImageRecord>, CatalogError> {
        let Some(search) = query.search else {
            return self.select(query, Scan::Planned).await;
        };
        let sample = self.sample().await?;
        let trigrams = sample.rarest_word_trigrams(search, 2);
        if trigrams.is_empty() {
            return self.select(query, Scan::Planned).await;
        }
        let window = self.search.window.max(1);
        if !self.search.fills_from_window(&sample, search, query.limit) {
            return self.select(query, Scan::Indexed(trigrams, None)).await;
        }
        let mut found = self.select(query, Scan::Newest(window)).await?;
        if found.len() < query.limit as usize {
            if let Some(oldest) = self.window_end(query, window).await? {
                let rest = PageQuery {
                    limit: query.limit - found.len() as u32,
                    ..*query
                };
                let older = Scan::Indexed(trigrams, Some(oldest));
                found.extend(self.select(&rest, older).await?);
            }
        }
        Ok(found)
    }

    /// This instance's sample of recent prompts, taken again once it is `sample_age` old.
    async fn sample(&self) -> Result<Arc<Sample>, CatalogError> {
        let take = sqlx::query_scalar(
            "SELECT search_text FROM images ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(self.search.sample))
        .fetch_all(&self.pool);
        self.sample
            .get(self.search.sample_age, async { Ok(take.await?) })
            .await
    }

    /// A page of images newest first, after the query's cursor, of its model and kind, matching its
    /// search (as ILIKE does) if it has one, among the images `scan` says.
    async fn select(
        &self,
        query: &PageQuery<'_>,
        scan: Scan,
    ) -> Result<Vec<ImageRecord>, CatalogError> {
        let mut sql = QueryBuilder::new(format!("SELECT {IMAGE_COLUMNS} FROM "));
        if let (Scan::Newest(window), Some(_)) = (&scan, query.search) {
            // A subquery with a limit is planned on its own: the newest candidates, walked in order
            // until the page is full, never the index.
            sql.push("(SELECT * FROM images WHERE TRUE");
            filters(&mut sql, query);
            sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                .push_bind(i64::from(*window))
                .push(") AS newest WHERE TRUE");
        } else {
            sql.push("images WHERE TRUE");
            filters(&mut sql, query);
        }
        if let Some(search) = query.search {
            match scan {
                Scan::Planned | Scan::Newest(_) => {
                    sql.push(" AND");
                    matches(&mut sql, search);
                }
                Scan::Indexed(trigrams, before) => {
                    if let Some(before) = before {
                        sql.push(" AND created_at < ").push_bind(before);
                    }
                    for trigram in trigrams {
                        sql.push(" AND search_text LIKE ")
                            .push_bind(format!("%{trigram}%"));
                    }
                    // `IS TRUE` keeps the whole search out of the index's reach, which would read
                    // every one of its trigrams, common or not.
                    sql.push(" AND (");
                    matches(&mut sql, search);
                    sql.push(") IS TRUE");
                }
            }
        }
        sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        sql.build_query_as::<ImageRow>()
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
        let mut sql = QueryBuilder::new("SELECT created_at FROM images WHERE TRUE");
        filters(&mut sql, query);
        sql.push(" ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ")
            .push_bind(i64::from(window) - 1);
        Ok(sql
            .build_query_scalar::<i64>()
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// `search` in the prompt or the final prompt, as `ILIKE` matches it: `lower()` of both sides and a
/// `LIKE`, on the lowercased copy of both prompts (`migrations/postgres/0007_search_text.sql`). A
/// search with a newline could span the two there, so it tests each prompt.
fn matches<'a>(sql: &mut QueryBuilder<'a, Postgres>, search: &str) {
    let pattern = like_pattern(search);
    if search.contains('\n') {
        sql.push(" (prompt ILIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR final_prompt ILIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    } else {
        sql.push(" search_text LIKE lower(")
            .push_bind(pattern)
            .push(") ESCAPE '\\'");
    }
}

/// The cursor, model and kind that every page and window applies.
fn filters<'a>(sql: &mut QueryBuilder<'a, Postgres>, query: &PageQuery<'a>) {
    if let Some((created_at, id)) = query.after {
        sql.push(" AND (created_at < ")
            .push_bind(created_at)
            .push(" OR (created_at = ")
            .push_bind(created_at)
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    if let Some(model) = query.model {
        sql.push(" AND model = ").push_bind(model);
    }
    if let Some(kind) = query.kind {
        sql.push(" AND kind = ").push_bind(kind.as_str());
    }
}
