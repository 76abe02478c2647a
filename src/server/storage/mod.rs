//! The two storage seams: blobs (bytes, content-addressed, through `object_store`) and the catalog
//! (what each image is), split by concern into traits so that a backend implements them all and each
//! user holds only the part it needs. [`open`] is the one place either is built from configuration.
//!
//! Invariants every backend keeps (checked by `conformance.rs`):
//! - a catalog row is written only after its blob is durable, so every row points at a blob that exists
//!   (blobs are checked against the row's hash when read, and one that does not match is missing);
//! - the first image recorded under a generation key wins, later ones get the winner back;
//! - the first prompt-cache answer wins;
//! - a derivative cannot be recorded for an image that no longer exists.

pub mod blobs;
mod catalog;
#[cfg(test)]
pub(crate) mod conformance;
pub mod coordination;
mod error;
pub mod postgres;
mod records;
mod rows;
mod search;
pub mod sqlite;
// Test support, shared by unit and integration tests (which cannot see `cfg(test)` items).
#[doc(hidden)]
pub mod testing;

use std::sync::Arc;

pub use blobs::{BlobError, BlobStore};
pub use catalog::{Catalog, Derivatives, Images, PromptCache, Sessions, Usage};
pub use coordination::{
    Claim, Claimed, Coordination, Failure, FailureKind, ImageNews, SharedCounters,
};
pub use error::{BackendError, CatalogError};
pub use records::{
    cursor_after, parse_cursor, CachedPrompt, DerivativeRecord, ImageRecord, Orphan, PageQuery,
};

use crate::server::config::{BlobLocation, CatalogLocation, StorageConfig};

/// Storage as configured.
#[derive(Clone)]
pub struct Storage {
    pub catalog: Arc<dyn Catalog>,
    pub blobs: BlobStore,
    /// How this instance works with others on the same catalog.
    pub coordination: Arc<dyn Coordination>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Opens the configured catalog (brought up to date with its migrations) and blob store.
pub async fn open(config: &StorageConfig) -> Result<Storage, StorageError> {
    let (catalog, coordination): (Arc<dyn Catalog>, Arc<dyn Coordination>) =
        match config.catalog().map_err(CatalogError::Location)? {
            CatalogLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| BlobError::CreateDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                let catalog = sqlite::SqliteCatalog::open(&path).await?;
                (Arc::new(catalog), Arc::new(coordination::Solo::default()))
            }
            CatalogLocation::Postgres(url) => {
                let catalog = postgres::PgCatalog::open(url.expose()).await?;
                let expiry = std::time::Duration::from_secs(config.claim_expiry_secs);
                let coordination =
                    postgres::PgCoordination::start(catalog.pool().clone(), expiry).await?;
                (Arc::new(catalog), Arc::new(coordination))
            }
        };
    let blobs = match config.blobs().map_err(BlobError::Location)? {
        BlobLocation::Local(dir) => BlobStore::local(&dir)?,
        BlobLocation::S3 { bucket, prefix } => BlobStore::s3(&bucket, &prefix)?,
    };
    Ok(Storage {
        catalog,
        blobs,
        coordination,
    })
}
