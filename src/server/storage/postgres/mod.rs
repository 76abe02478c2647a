//! The shared catalog: PostgreSQL through sqlx, for several instances on one database. The schema lives
//! in `migrations/postgres/`, applied on open; sqlx's migrator holds an advisory lock meanwhile, so
//! instances starting together migrate once. PostgreSQL-only SQL stays in this module.

mod coordination;
mod derivatives;
mod images;
mod prompts;
mod search;
mod sessions;

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::catalog::Catalog;
use super::error::CatalogError;
use super::search::{HeldSample, Tuning};
pub use coordination::PgCoordination;

#[derive(Clone, Debug)]
pub struct PgCatalog {
    pool: PgPool,
    search: Tuning,
    sample: std::sync::Arc<HeldSample>,
}

impl PgCatalog {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A request waits this long for a connection before the catalog counts as unavailable
            // (503 and Retry-After) rather than queueing without end while the database restarts.
            .acquire_timeout(Duration::from_secs(2))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|err| CatalogError::Migrate(Box::new(err)))?;
        Ok(Self {
            pool,
            search: Tuning::default(),
            sample: Default::default(),
        })
    }

    /// The same catalog walking only the newest `n` images and sampling as many prompts afresh for
    /// each search, so a test reaches every step of `search.rs` with a few images.
    pub fn with_search_steps(mut self, n: u32) -> Self {
        self.search = Tuning::small(n);
        self
    }

    /// The pool, for the parts of the server that coordinate instances through the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait::async_trait]
impl Catalog for PgCatalog {
    async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::storage::{conformance, testing};

    /// A catalog on a new database of the test server; searching in steps of `steps` images if given.
    async fn fresh(steps: Option<u32>) -> (PgCatalog, ()) {
        let url = testing::postgres_database().await;
        let catalog = PgCatalog::open(&url).await.unwrap();
        let catalog = match steps {
            Some(steps) => catalog.with_search_steps(steps),
            None => catalog,
        };
        (catalog, ())
    }

    mod conformance_suite {
        crate::server::storage::conformance::conformance_tests!(super::fresh(None));
    }

    mod conformance_suite_searching_in_small_steps {
        crate::server::storage::conformance::conformance_tests!(super::fresh(Some(2)));
    }

    #[tokio::test]
    async fn a_search_pages_alike_whichever_steps_find_it() {
        use crate::server::storage::{Images, PageQuery};
        let url = testing::postgres_database().await;
        // A window of the newest four, and a sample of them.
        let catalog = PgCatalog::open(&url).await.unwrap().with_search_steps(4);
        for i in 0..12 {
            let id = format!("s{i:02}");
            let mut r = conformance::record(&id, &format!("key-{id}"), 1000 + i);
            r.prompt = if i >= 8 || i % 4 == 0 {
                format!("a Walrus number {i}")
            } else {
                format!("a seal number {i}")
            };
            catalog.insert(&r).await.unwrap();
        }
        let page = |search, limit| {
            let catalog = catalog.clone();
            async move {
                let query = PageQuery {
                    limit,
                    search: Some(search),
                    ..PageQuery::default()
                };
                let found = catalog.page(&query).await.unwrap();
                found.into_iter().map(|r| r.id).collect::<Vec<_>>()
            }
        };
        // Common in the sample: the walk fills the page.
        assert_eq!(page("walrus", 3).await, ["s11", "s10", "s09"]);
        // The walk, then the index for what is older than the window.
        assert_eq!(
            page("walrus", 10).await,
            ["s11", "s10", "s09", "s08", "s04", "s00"]
        );
        // Not in the sample: the index alone.
        assert_eq!(page("SEAL", 4).await, ["s07", "s06", "s05", "s03"]);
        assert_eq!(page("seal number 1", 4).await, ["s01"]);
        // No run of three letters: the planner's own way.
        assert_eq!(page("r 1", 9).await, ["s11", "s10", "s01"]);
        // A newline does not reach from one prompt into the other.
        assert_eq!(page("11\na sloth", 9).await, Vec::<String>::new());
        assert_eq!(page("NUMBER 11", 9).await, ["s11"]);
    }

    /// Two instances' coordination on one database.
    async fn two_instances(expiry: Duration) -> (PgCoordination, PgCoordination) {
        let url = testing::postgres_database().await;
        let (a, b) = (
            PgCatalog::open(&url).await.unwrap(),
            PgCatalog::open(&url).await.unwrap(),
        );
        (
            PgCoordination::start(a.pool().clone(), expiry)
                .await
                .unwrap(),
            PgCoordination::start(b.pool().clone(), expiry)
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn a_waiter_hears_how_the_claimed_work_went() {
        use crate::server::storage::{Claimed, Coordination, Failure, FailureKind};
        let (a, b) = two_instances(Duration::from_secs(30)).await;
        let Claimed::Won(claim) = a.claim("done").await.unwrap() else {
            panic!("nobody held it")
        };
        let waiter = tokio::spawn(async move {
            let told = b.claim("done").await.unwrap();
            (told, b)
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !waiter.is_finished(),
            "the waiter waits while the claim is held"
        );
        a.release("done", claim, Ok(())).await;
        let (told, b) = waiter.await.unwrap();
        assert!(matches!(told, Claimed::Done));

        let Claimed::Won(claim) = a.claim("fails").await.unwrap() else {
            panic!("nobody held it")
        };
        let waiter = tokio::spawn(async move { b.claim("fails").await.unwrap() });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let failure = Failure {
            kind: FailureKind::Upstream,
            message: "the provider said no".into(),
        };
        a.release("fails", claim, Err(failure.clone())).await;
        assert!(matches!(waiter.await.unwrap(), Claimed::Failed(f) if f == failure));
        // Released: the next claim wins at once.
        assert!(matches!(a.claim("fails").await.unwrap(), Claimed::Won(_)));
    }

    #[tokio::test]
    async fn a_claim_whose_heartbeat_stops_is_taken_over() {
        use crate::server::storage::{Claimed, Coordination};
        let (a, b) = two_instances(Duration::from_secs(1)).await;
        let Claimed::Won(claim) = a.claim("k").await.unwrap() else {
            panic!("nobody held it")
        };
        // Beating, the claim outlives its expiry.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = std::time::Instant::now();
        let waiter = tokio::spawn(async move { b.claim("k").await.unwrap() });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiter.is_finished(), "a live claim is not taken over");
        // The instance dies: its heartbeat stops, the claim is never released.
        drop(claim);
        drop(a);
        assert!(matches!(waiter.await.unwrap(), Claimed::Won(_)));
        assert!(started.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn instances_starting_together_migrate_once() {
        let url = testing::postgres_database().await;
        let opened = futures::future::join_all((0..4).map(|_| PgCatalog::open(&url))).await;
        for catalog in opened {
            catalog.unwrap().ping().await.unwrap();
        }
    }
}
