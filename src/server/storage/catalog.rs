//! The catalog's traits, split by concern ([`Images`], [`Derivatives`], [`PromptCache`], [`Usage`],
//! [`Sessions`]) so that a backend implements them all as a [`Catalog`] and each user holds only the
//! part it needs.

use super::error::CatalogError;
use super::records::{CachedPrompt, DerivativeRecord, ImageRecord, Orphan, PageQuery};

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
