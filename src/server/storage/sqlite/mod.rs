//! The embedded catalog: one SQLite file through sqlx, in WAL mode with `synchronous = FULL` (an
//! acknowledged image survives power loss, not only a process crash). The schema lives in
//! `migrations/sqlite/`, applied on open. SQLite-only SQL (`BEGIN IMMEDIATE`, `PRAGMA`) stays in this module.

mod derivatives;
mod images;
mod prompts;
mod search;
mod sessions;

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::catalog::Catalog;
use super::error::CatalogError;
use super::search::{HeldSample, Tuning};

/// How much of the catalog file SQLite maps into memory (address space, not memory: pages are the OS's
/// cache, shared by every connection). A million images take about 1.1 GB.
const MMAP_BYTES: u64 = 1 << 30;

#[derive(Clone, Debug)]
pub struct SqliteCatalog {
    search: Tuning,
    sample: std::sync::Arc<HeldSample>,
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// The same catalog testing only the newest `window` images one by one before a search asks the
    /// index, and sampling as many prompts afresh for each search, so a test reaches every step of
    /// `search.rs` with a few images.
    pub fn with_search_window(mut self, window: u32) -> Self {
        self.search = Tuning::small(window);
        self
    }

    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Reads through the page cache without a read() per page: the search index's candidates
            // are fetched at random (measured at a million images: a fifth less time per search).
            .pragma("mmap_size", MMAP_BYTES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|err| CatalogError::Migrate(Box::new(err)))?;
        Ok(Self {
            pool,
            search: Tuning::default(),
            sample: Default::default(),
        })
    }
}

#[async_trait::async_trait]
impl Catalog for SqliteCatalog {
    async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Checkpoints the WAL into the database (leaving it empty), then waits for open connections to
    /// finish and closes them. SQLite would checkpoint on the last close too, but connections closing
    /// at the same moment can each leave that to another.
    async fn close(&self) {
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %err, "could not checkpoint the catalog on close");
        }
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::storage::conformance;
    use crate::server::storage::{Images, PageQuery};

    /// A new catalog in a temporary directory, which lives as long as it; searching in steps of
    /// `window` images if given.
    async fn fresh(window: Option<u32>) -> (SqliteCatalog, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = SqliteCatalog::open(&dir.path().join("catalog.db"))
            .await
            .unwrap();
        let catalog = match window {
            Some(window) => catalog.with_search_window(window),
            None => catalog,
        };
        (catalog, dir)
    }

    mod conformance_suite {
        crate::server::storage::conformance::conformance_tests!(super::fresh(None));
    }

    mod conformance_suite_searching_in_small_steps {
        crate::server::storage::conformance::conformance_tests!(super::fresh(Some(2)));
    }

    #[tokio::test]
    async fn rows_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let catalog = SqliteCatalog::open(&path).await.unwrap();
        let first = conformance::record("01", "key-a", 10);
        let second = conformance::record("03", "key-b", 20);
        catalog.insert(&first).await.unwrap();
        catalog.insert(&second).await.unwrap();
        catalog.close().await;

        let reopened = SqliteCatalog::open(&path).await.unwrap();
        let newest = PageQuery {
            limit: 1,
            ..PageQuery::default()
        };
        assert_eq!(reopened.page(&newest).await.unwrap(), vec![second]);
    }
}
