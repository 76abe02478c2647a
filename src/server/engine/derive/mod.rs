//! Derivatives: a stored image transformed by options (`/img/{id}/{options}`, and the exact size behind
//! `/{W}x{H}/…`). Each is made once, on a bounded CPU pool, single-flight per key, and stored (blob
//! first, then its row), so the next request is a read.
//!
//! This file is that flow: [`Engine::derive`] (the original, a stored derivative, or one made now),
//! the cold-hit shortcuts beside it ([`Engine::stored_now`], [`Engine::served_from_memory`]), and
//! making and reading a stored one. What is asked is `request.rs`; the derivative's identity (key,
//! ETag) is `key.rs`; the byte budget is `budget.rs`, kept by `evict.rs`.

pub(super) mod budget;
mod evict;
mod key;
mod request;

use std::sync::Arc;

use bytes::Bytes;

use super::admission::Admission;
use super::answers::{CacheStatus, Derived};
use super::errors::EngineError;
use super::{Engine, Inner};
use crate::server::storage::blobs::content_hash;
use crate::server::storage::{DerivativeRecord, ImageRecord, Orphan};
use crate::server::transform::inspect::InspectError;
use crate::server::transform::pipeline::{transform, Settings, TransformError};
use key::{derivative_key, is_passthrough, keyed_as_made};
pub use key::{etag, without_ignored};
pub use request::{DeriveRequest, Enlarge};

/// `pixzoo_cache_total` for stored derivatives, registered once: the labelled macro hashes its key
/// into the registry on every call, a share of each cold hit.
fn stored_derivatives(hit: bool) -> &'static metrics::Counter {
    static HIT: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    static MISS: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    let result = if hit { "hit" } else { "miss" };
    (if hit { &HIT } else { &MISS }).get_or_init(
        || metrics::counter!("pixzoo_cache_total", "kind" => "derivative", "result" => result),
    )
}

impl Engine {
    /// A derivative answered from memory counts as served, as one read from the store does.
    pub fn served_from_memory(&self, hot: &crate::server::memory::HotImage) {
        if let Some(key) = hot.due_for_note() {
            self.inner.served_derivative(key);
        }
    }

    /// The bytes of the stored derivative behind `hot` (a response kept without them) when they can
    /// be had at once: its row is in memory and its file in the page cache. Counted as `derive`
    /// counts a stored one read. `None` leaves the request to `derive`, which reads it however it must
    /// or makes it again, and says what was wrong.
    pub fn stored_now(&self, hot: &crate::server::memory::HotImage) -> Option<Bytes> {
        let key = hot.derivative.as_deref()?;
        let row = self.inner.memory.derivative_row(key)?;
        let bytes = self
            .inner
            .blobs
            .get_if_cached(&row.blob_key(), row.content_hash.as_deref(), row.bytes)?
            .ok()?;
        stored_derivatives(true).increment(1);
        self.inner.served_derivative(key);
        Some(bytes)
    }

    /// The stored image transformed as asked: the original when nothing changes, a stored derivative when
    /// one exists, else made now (joined with identical requests in flight) and stored.
    pub async fn derive(
        &self,
        record: &ImageRecord,
        original: Option<Bytes>,
        request: DeriveRequest,
        admission: &dyn Admission,
    ) -> Result<Derived, Arc<EngineError>> {
        let inner = &self.inner;
        if is_passthrough(record, &request) {
            let bytes = match original {
                Some(bytes) => bytes,
                None => inner.original_bytes(record).await.map_err(Arc::new)?,
            };
            return Ok(Derived {
                bytes,
                format: record.format,
                etag: etag(record, &request),
                cache: CacheStatus::Hit,
                stored_key: None,
            });
        }
        let key = derivative_key(record, &request);
        if let Some(stored) = inner.read_derivative(&key).await.map_err(Arc::new)? {
            stored_derivatives(true).increment(1);
            inner.served_derivative(&key);
            return Ok(stored);
        }
        stored_derivatives(false).increment(1);
        if !inner.derivatives.is_running(&key) {
            admission.admit_derivative().await.map_err(Arc::new)?;
        }
        let inner = self.inner.clone();
        let record = record.clone();
        let job_key = key.clone();
        self.inner
            .derivatives
            .join_or_start(key, move |_progress| async move {
                inner
                    .derive_once(job_key, record, original, request)
                    .await
                    .map_err(Arc::new)
            })
            .result
            .await
    }
}

impl Inner {
    /// The stored derivative under `key`, if its row exists and its blob matches it. A missing or
    /// torn blob is no error: a derivative can always be made again.
    async fn read_derivative(&self, key: &str) -> Result<Option<Derived>, EngineError> {
        let stored = match self.memory.derivative_row(key) {
            Some(kept) => (*kept).clone(),
            None => match self.catalog.derivative(key).await? {
                Some(row) => {
                    self.memory.keep_derivative_row(&row);
                    row
                }
                None => return Ok(None),
            },
        };
        let read = self
            .blobs
            .get_verified(
                &stored.blob_key(),
                stored.content_hash.as_deref(),
                stored.bytes,
            )
            .await;
        match read {
            Ok(bytes) => Ok(Some(Derived {
                bytes,
                format: stored.format,
                etag: format!("\"{key}\""),
                cache: CacheStatus::Hit,
                stored_key: Some(key.to_owned()),
            })),
            Err(err) => {
                self.memory.forget_derivative(key);
                tracing::warn!(key = %key, error = %err, "stored derivative unreadable; making it again");
                Ok(None)
            }
        }
    }

    /// Makes the derivative once across instances: the one that claims its key makes it (unless it
    /// was stored between the lookup and the claim); the others wait and read it.
    async fn derive_once(
        self: &Arc<Self>,
        key: String,
        record: ImageRecord,
        original: Option<Bytes>,
        request: DeriveRequest,
    ) -> Result<Derived, EngineError> {
        let claim_key = format!("derivative:{key}");
        let gave_up = "identical transforms on other instances kept ending without a derivative";
        let wanted = key.clone();
        self.once(
            &claim_key,
            gave_up,
            || self.read_derivative(&wanted),
            || async move {
                // Stored between the lookup and the claim: nothing to make.
                match self.read_derivative(&key).await? {
                    Some(stored) => Ok(stored),
                    None => self.make_derivative(key, record, original, request).await,
                }
            },
        )
        .await
    }

    async fn make_derivative(
        self: &Arc<Self>,
        key: String,
        record: ImageRecord,
        original: Option<Bytes>,
        request: DeriveRequest,
    ) -> Result<Derived, EngineError> {
        let source = match original {
            Some(bytes) => bytes,
            None => self.original_bytes(&record).await?,
        };
        let limits = self.derivative_limits;
        let settings = Settings {
            default_fit: request.default_fit,
            max_pixels: self.max_output_pixels,
            max_output_pixels: limits.max_pixels.min(self.max_output_pixels),
            max_upscale: request
                .enlarge
                .limit(limits.max_upscale, (record.width, record.height)),
            format: request.format,
        };
        let options = request.options.clone();
        let output = self
            .cpu
            .try_run(move || {
                transform(&source, &options, settings).map(|output| {
                    let hash = content_hash(&output.bytes);
                    (output, hash)
                })
            })
            .await?
            .map_err(|err| match err {
                TransformError::TrimTooLarge { .. }
                | TransformError::OutputTooLarge { .. }
                | TransformError::EnlargesTooMuch { .. }
                | TransformError::Source(InspectError::TooLarge { .. }) => {
                    EngineError::BadRequest(err.to_string())
                }
                other => {
                    EngineError::Internal(format!("transforming image {}: {other}", record.id))
                }
            })?;
        let (output, hash) = output;
        keyed_as_made(&record, &request, &output)?;
        let bytes = Bytes::from(output.bytes);
        let derivative = DerivativeRecord {
            key: key.clone(),
            image_id: record.id.clone(),
            format: output.format,
            width: output.width,
            height: output.height,
            bytes: bytes.len() as u64,
            content_hash: Some(hash),
        };
        let blob = derivative.blob_key();
        self.blobs.put(&blob, bytes.clone()).await?;
        match self
            .catalog
            .insert_derivative(&derivative, &request.options.to_string())
            .await
        {
            Ok(()) => {
                // A row made again (after a torn blob) replaces the one that may be kept.
                self.memory.forget_derivative(&key);
                self.ensure_blob(&blob, &bytes).await?;
                self.stored_derivative(bytes.len() as u64);
            }
            Err(err) => {
                // The image was deleted while this was being made: answer the request that asked
                // while it existed, but keep nothing of it.
                if self.catalog.by_id(&record.id).await?.is_some() {
                    return Err(err.into());
                }
                self.remove_orphan(&Orphan::Derivative {
                    key: key.clone(),
                    format: output.format,
                })
                .await?;
            }
        }
        Ok(Derived {
            bytes,
            format: output.format,
            etag: format!("\"{key}\""),
            cache: CacheStatus::Miss,
            stored_key: Some(key),
        })
    }
}
