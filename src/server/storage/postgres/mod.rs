//! The shared catalog: PostgreSQL through sqlx, for several instances on one database. The schema lives
//! in `migrations/postgres/`, applied on open; sqlx's migrator holds an advisory lock meanwhile, so
//! instances starting together migrate once. PostgreSQL-only SQL stays in this module.

mod derivatives;
mod images;
mod prompts;
mod sessions;

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Catalog, CatalogError};

#[derive(Clone, Debug)]
pub struct PgCatalog {
    pool: PgPool,
}

impl PgCatalog {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A request waits this long for a connection before the catalog counts as unavailable
            // (503 and Retry-After) rather than queueing without end while the database restarts.
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|err| CatalogError::Migrate(Box::new(err)))?;
        Ok(Self { pool })
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
    use std::sync::Arc;

    use super::*;
    use crate::server::storage::{conformance, testing};

    #[tokio::test]
    async fn postgres_passes_the_conformance_suite() {
        let url = testing::postgres_database().await;
        conformance::run(Arc::new(PgCatalog::open(&url).await.unwrap())).await;
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
