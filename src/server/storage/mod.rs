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
#[cfg(test)]
pub(crate) mod conformance;
pub mod coordination;
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
pub use coordination::{
    Claim, Claimed, Coordination, Failure, FailureKind, ImageNews, SharedCounters,
};
pub use records::{
    cursor_after, parse_cursor, CachedPrompt, DerivativeRecord, ImageRecord, Orphan, PageQuery,
};

use crate::server::config::{BlobLocation, CatalogLocation, StorageConfig};

/// A backend's own error, boxed so no backend's types appear in these signatures.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database cannot be reached right now (restarting, network, pool exhausted): worth a retry.
    #[error("catalog database unavailable: {0}")]
    Unavailable(#[source] BackendError),
    #[error("catalog database: {0}")]
    Database(#[source] BackendError),
    #[error("catalog migration: {0}")]
    Migrate(#[source] BackendError),
    #[error("`storage.catalog_url` {0}")]
    Location(String),
    #[error("catalog row {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
}

/// Both SQL backends speak through sqlx; its errors stay boxed behind [`CatalogError`].
impl From<sqlx::Error> for CatalogError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::Error as E;
        let unavailable = match &err {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
            // 57P01..03: the server is shutting down or starting up; 53300: too many connections.
            E::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("57P") || code == "53300"),
            _ => false,
        };
        if unavailable {
            CatalogError::Unavailable(Box::new(err))
        } else {
            CatalogError::Database(Box::new(err))
        }
    }
}

/// The stored images.
#[async_trait::async_trait]
pub trait Images: Send + Sync {
    async fn by_id(&self, id: &str) -> Result<Option<ImageRecord>, CatalogError>;

    async fn by_gen_key(&self, gen_key: &str) -> Result<Option<ImageRecord>, CatalogError>;

    /// Records an image whose blob is already stored. If another request recorded the same generation
    /// key first, that row wins and is returned.
    async fn insert(&self, record: &ImageRecord) -> Result<ImageRecord, CatalogError>;

    /// Records a regenerated image in place of the one stored for the same generation key. The old row
    /// keeps its id (its URL by id still works) under a retired key, atomically.
    async fn replace(&self, record: &ImageRecord) -> Result<ImageRecord, CatalogError>;

    /// A page of images, newest first (by `created_at`, then id), after `query.after`.
    async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, CatalogError>;

    /// Removes an image's row and its derivatives' rows; returns `None` when there was no such image,
    /// else the blobs no other image still needs (content-addressed blobs may be shared).
    async fn delete(&self, id: &str) -> Result<Option<Vec<Orphan>>, CatalogError>;

    /// The newest `limit` images edited from `source_id`, newest first.
    async fn edits_of(&self, source_id: &str, limit: u32)
        -> Result<Vec<ImageRecord>, CatalogError>;

    /// Whether any image's original has this content.
    async fn content_in_use(&self, content_hash: &str) -> Result<bool, CatalogError>;
}

/// Stored transforms of images.
#[async_trait::async_trait]
pub trait Derivatives: Send + Sync {
    async fn derivative(&self, key: &str) -> Result<Option<DerivativeRecord>, CatalogError>;

    /// Records a derivative whose blob is already stored. A second record under the same key is not an
    /// error: it was made again (its blob was missing or torn), so its length and hash replace the
    /// stored ones. Fails when the image is gone.
    async fn insert_derivative(
        &self,
        record: &DerivativeRecord,
        options: &str,
    ) -> Result<(), CatalogError>;

    /// Image `image_id`'s derivatives with their canonical options, for copying them elsewhere.
    async fn derivatives_of(
        &self,
        image_id: &str,
    ) -> Result<Vec<(DerivativeRecord, String)>, CatalogError>;

    /// Marks derivatives as served at `at` (Unix ms), for eviction by age of last use.
    async fn touch_derivatives(&self, keys: &[String], at: i64) -> Result<(), CatalogError>;

    /// The bytes all stored derivatives take.
    async fn derivative_bytes(&self) -> Result<u64, CatalogError>;

    /// Removes the rows of the least recently served derivatives until at most `keep` bytes remain,
    /// and returns their blobs.
    async fn evict_derivatives(&self, keep: u64) -> Result<Vec<Orphan>, CatalogError>;
}

/// LLM answers by (pipeline, model family, prompt).
#[async_trait::async_trait]
pub trait PromptCache: Send + Sync {
    async fn cached_prompt(
        &self,
        pipeline: &str,
        family: &str,
        prompt: &str,
    ) -> Result<Option<String>, CatalogError>;

    /// Up to `limit` cached answers after `after`, in key order, for copying them elsewhere.
    async fn cached_prompts(
        &self,
        after: Option<&CachedPrompt>,
        limit: u32,
    ) -> Result<Vec<CachedPrompt>, CatalogError>;

    /// Keeps the first answer: later ones for the same prompt would change what a URL means.
    async fn cache_prompt(
        &self,
        pipeline: &str,
        family: &str,
        prompt: &str,
        final_prompt: &str,
    ) -> Result<(), CatalogError>;
}

/// What budgets count.
#[async_trait::async_trait]
pub trait Usage: Send + Sync {
    /// Images from `provider` recorded since `since_ms` (Unix milliseconds).
    async fn count_since(&self, provider: &str, since_ms: i64) -> Result<u32, CatalogError>;
}

/// Studio sign-ins, by the hash of their token.
#[async_trait::async_trait]
pub trait Sessions: Send + Sync {
    /// Records a sign-in, and forgets the ones that have expired.
    async fn insert_session(&self, token_hash: &str, expires_at: i64) -> Result<(), CatalogError>;

    /// Whether a sign-in exists and has not expired.
    async fn session_valid(&self, token_hash: &str) -> Result<bool, CatalogError>;

    async fn delete_session(&self, token_hash: &str) -> Result<(), CatalogError>;
}

/// A whole catalog backend.
#[async_trait::async_trait]
pub trait Catalog: Images + Derivatives + PromptCache + Usage + Sessions {
    async fn ping(&self) -> Result<(), CatalogError>;

    /// Flushes and closes; called once the server has stopped taking requests.
    async fn close(&self);
}

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
