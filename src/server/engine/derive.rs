//! Derivatives: a stored image transformed by options (`/img/{id}/{options}`, and the exact size behind
//! `/{W}x{H}/…`). Each is made once, on a bounded CPU pool, single-flight per key, and stored (blob
//! first, then its row), so the next request is a read.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{Admission, CacheStatus, Engine, EngineError, Inner};
use crate::domain::format::ImageFormat;
use crate::server::storage::blobs::content_hash;
use crate::server::storage::{DerivativeRecord, ImageRecord, Orphan};
use crate::server::transform::geometry::layout;
use crate::server::transform::inspect::InspectError;
use crate::server::transform::pipeline::{transform, Settings, TransformError, PIPELINE_VERSION};
use crate::urls::options::{Fit, TransformOptions};
use crate::urls::placeholder::Size;

/// Stored derivatives within `storage.derivatives_max_bytes`. Reads from disk are remembered and
/// written to the catalog in a batch when eviction runs or [`SERVED_BATCH`] have gathered, so a hit
/// costs no write and what is remembered stays small; eviction runs on its
/// own task once the estimate of what is stored passes the budget, and removes the least recently
/// served down to nine tenths of it.
pub struct Budget {
    max_bytes: u64,
    /// What is stored, estimated: counted up on each new derivative, set exactly by each eviction;
    /// `u64::MAX` until first read from the catalog.
    stored: AtomicU64,
    served: Mutex<HashSet<String>>,
    evicting: AtomicBool,
    flushing: AtomicBool,
}

/// Reads remembered before they are written to the catalog without waiting for an eviction.
const SERVED_BATCH: usize = 10_000;

impl Budget {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            stored: AtomicU64::new(u64::MAX),
            served: Mutex::default(),
            evicting: AtomicBool::new(false),
            flushing: AtomicBool::new(false),
        }
    }

    /// Remembers a read; true when a batch has gathered.
    fn served(&self, key: &str) -> bool {
        if self.max_bytes == 0 {
            return false;
        }
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        served.insert(key.to_owned());
        served.len() >= SERVED_BATCH
    }
}

impl Inner {
    /// Remembers that derivative `key` was read and, once a batch has gathered, writes it out.
    fn served_derivative(self: &Arc<Self>, key: &str) {
        let budget = &self.derivative_budget;
        if budget.served(key) && !budget.flushing.swap(true, Ordering::AcqRel) {
            let inner = self.clone();
            tokio::spawn(async move {
                if let Err(err) = inner.flush_served().await {
                    tracing::warn!(error = %err, "recording when derivatives were served failed");
                }
                inner
                    .derivative_budget
                    .flushing
                    .store(false, Ordering::Release);
            });
        }
    }

    /// Writes the remembered reads to the catalog, for eviction's least-recently-served order.
    async fn flush_served(&self) -> Result<(), EngineError> {
        let served: Vec<String> = std::mem::take(
            &mut *self
                .derivative_budget
                .served
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
        .into_iter()
        .collect();
        if !served.is_empty() {
            self.catalog
                .touch_derivatives(&served, crate::server::clock::now_millis())
                .await?;
        }
        Ok(())
    }

    /// Counts a new derivative and, past the budget, starts an eviction unless one is running.
    fn stored_derivative(self: &Arc<Self>, bytes: u64) {
        let budget = &self.derivative_budget;
        if budget.max_bytes == 0 {
            return;
        }
        let stored = budget.stored.fetch_add(bytes, Ordering::Relaxed);
        let over = stored == u64::MAX || stored.saturating_add(bytes) > budget.max_bytes;
        if over && !budget.evicting.swap(true, Ordering::AcqRel) {
            let inner = self.clone();
            tokio::spawn(async move {
                // Derivatives stored while this ran are counted in the total it ends with: go again
                // until what is stored fits.
                for _ in 0..8 {
                    match inner.evict_derivatives().await {
                        Ok(stored) if stored > inner.derivative_budget.max_bytes => continue,
                        Ok(_) => break,
                        Err(err) => {
                            tracing::warn!(error = %err, "evicting derivatives failed");
                            break;
                        }
                    }
                }
                inner
                    .derivative_budget
                    .evicting
                    .store(false, Ordering::Release);
            });
        }
    }

    /// Removes the least recently served derivatives (rows, then blobs) down to nine tenths of the
    /// budget; returns what is stored then.
    async fn evict_derivatives(&self) -> Result<u64, EngineError> {
        let budget = &self.derivative_budget;
        self.flush_served().await?;
        let stored = self.catalog.derivative_bytes().await?;
        if stored > budget.max_bytes {
            let evicted = self
                .catalog
                .evict_derivatives(budget.max_bytes / 10 * 9)
                .await?;
            metrics::counter!("pixzoo_derivatives_evicted_total").increment(evicted.len() as u64);
            for orphan in &evicted {
                if let Orphan::Derivative { key, .. } = orphan {
                    self.memory.forget_derivative(key);
                }
                self.remove_orphan(orphan).await?;
            }
        }
        let stored = self.catalog.derivative_bytes().await?;
        budget.stored.store(stored, Ordering::Relaxed);
        Ok(stored)
    }
}

/// A transformed image, ready to send.
#[derive(Debug, Clone)]
pub struct Derived {
    pub bytes: Bytes,
    pub format: ImageFormat,
    /// Quoted strong validator, computable before any work (see [`etag`]).
    pub etag: String,
    /// Whether it was stored already (by any instance) or made for this request.
    pub cache: CacheStatus,
    /// The stored derivative's key; `None` when the original is the answer.
    pub stored_key: Option<String>,
}

/// What to make from a stored image.
#[derive(Debug, Clone)]
pub struct DeriveRequest {
    pub options: TransformOptions,
    pub format: ImageFormat,
    pub default_fit: Fit,
    /// How far a new one may enlarge the image. Not part of the key: a derivative once made is served
    /// to any URL.
    pub enlarge: Enlarge,
}

/// How far a new derivative may enlarge its source, per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enlarge {
    /// Up to `limits.max_upscale`.
    Limited,
    /// Up to `limits.max_upscale` beyond a `fit=cover` of the source to this size, which may itself
    /// enlarge at any factor: a placeholder URL's W×H is part of generating it, its options are not.
    BeyondCover(Size),
    /// As far as the options say: a signed URL or the API key asks.
    Unlimited,
}

impl Enlarge {
    /// The factor per side a `source`-sized image may be enlarged by under `max_upscale` (0 = no
    /// limit); `None`: any.
    fn limit(self, max_upscale: f64, source: (u32, u32)) -> Option<f64> {
        if max_upscale <= 0.0 {
            return None;
        }
        match self {
            Enlarge::Limited => Some(max_upscale),
            Enlarge::Unlimited => None,
            Enlarge::BeyondCover(size) => {
                let cover = TransformOptions {
                    width: Some(size.width),
                    height: Some(size.height),
                    ..TransformOptions::default()
                };
                let plan = layout(source, &cover, Fit::Cover);
                let factor = (f64::from(plan.scaled.0) / plan.crop.width)
                    .max(f64::from(plan.scaled.1) / plan.crop.height);
                Some(max_upscale * factor.max(1.0))
            }
        }
    }
}

/// `[limits]` for new derivatives.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest output, in pixels.
    pub max_pixels: u64,
    /// How far a source may be enlarged per side; 0 = no limit.
    pub max_upscale: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 4096 * 4096,
            max_upscale: 2.0,
        }
    }
}

/// The options with what the output ignores dropped, so that they cannot split the cache (or fill the
/// disk with copies): quality for PNG, which is lossless, a background without `fit=pad`, and a gravity
/// where nothing is cropped or padded.
fn effective_options(request: &DeriveRequest) -> TransformOptions {
    without_ignored(&request.options, Some(request.format), request.default_fit)
}

/// `options` without what an output in `format` ignores; with the format not known yet (it will be
/// the source's), only what every format ignores is dropped. The memory cache keys by this too.
pub fn without_ignored(
    options: &TransformOptions,
    format: Option<ImageFormat>,
    default_fit: Fit,
) -> TransformOptions {
    let mut options = options.normalized();
    if format == Some(ImageFormat::Png) {
        options.quality = None;
    }
    let fit = options.fit.unwrap_or(default_fit);
    if fit != Fit::Pad {
        options.background = None;
    }
    // Gravity places a crop or a padded image, which needs both sides (`geometry::layout`).
    let both_sides = options.width.is_some() && options.height.is_some();
    if !(both_sides && matches!(fit, Fit::Cover | Fit::Crop | Fit::Pad)) {
        options.gravity = None;
    }
    options
}

/// The derivative's identity: the source content, the canonical options that change the output, the
/// format and the pipeline version. Also its ETag, so a conditional request is answered without
/// reading a byte.
pub fn derivative_key(content_hash: &str, request: &DeriveRequest) -> String {
    let digest = Sha256::new()
        .chain_update(format!("pixzoo-derivative-v{PIPELINE_VERSION}\0"))
        .chain_update(content_hash)
        .chain_update(b"\0")
        .chain_update(effective_options(request).to_string())
        .chain_update(b"\0")
        .chain_update(request.format.as_str())
        .chain_update(b"\0")
        .chain_update(request.default_fit.as_str())
        .finalize();
    hex::encode(digest)
}

/// The quoted ETag for this request on this image.
pub fn etag(record: &ImageRecord, request: &DeriveRequest) -> String {
    if is_passthrough(record, request) {
        format!("\"{}\"", record.content_hash)
    } else {
        format!("\"{}\"", derivative_key(&record.content_hash, request))
    }
}

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

/// Whether the original already is the answer: same format, and the options change nothing.
fn is_passthrough(record: &ImageRecord, request: &DeriveRequest) -> bool {
    if request.format != record.format {
        return false;
    }
    let o = request.options.normalized();
    let geometry_only = TransformOptions {
        width: o.width,
        height: o.height,
        dpr: o.dpr,
        fit: o.fit,
        gravity: o.gravity,
        ..TransformOptions::default()
    };
    o == geometry_only
        && layout((record.width, record.height), &o, request.default_fit)
            .is_identity((record.width, record.height))
}

impl Engine {
    /// A derivative answered from memory counts as served, as one read from the store does.
    pub fn served_from_memory(&self, hot: &crate::server::memory::HotImage) {
        if let Some(key) = hot.due_for_note() {
            self.inner.served_derivative(key);
        }
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
        let key = derivative_key(&record.content_hash, &request);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_output_ignores_is_dropped_once_the_format_is_known() {
        let parse = |text: &str| TransformOptions::parse(text).unwrap();
        let png =
            |text: &str| without_ignored(&parse(text), Some(ImageFormat::Png), Fit::ScaleDown);
        assert_eq!(png("width=40,quality=10"), png("width=40,quality=90"));
        assert_eq!(png("width=40,background=red"), png("width=40"));
        let webp =
            |text: &str| without_ignored(&parse(text), Some(ImageFormat::Webp), Fit::ScaleDown);
        assert_ne!(webp("width=40,quality=10"), webp("width=40,quality=90"));
        let unknown = |text: &str| without_ignored(&parse(text), None, Fit::ScaleDown);
        assert_ne!(
            unknown("width=40,quality=10"),
            unknown("width=40,quality=90")
        );
        assert_eq!(unknown("width=40,background=red"), unknown("width=40"));
        assert_ne!(
            unknown("width=40,fit=pad,background=red"),
            unknown("width=40,fit=pad")
        );
        // Gravity only where something is cropped or padded.
        assert_eq!(unknown("width=40,gravity=left"), unknown("width=40"));
        assert_eq!(
            unknown("width=40,height=40,fit=contain,gravity=left"),
            unknown("width=40,height=40,fit=contain")
        );
        assert_ne!(
            unknown("width=40,height=40,fit=cover,gravity=left"),
            unknown("width=40,height=40,fit=cover")
        );
        let cover = |text: &str| without_ignored(&parse(text), None, Fit::Cover);
        assert_ne!(
            cover("width=40,height=40,gravity=left"),
            cover("width=40,height=40"),
            "the placeholder's default fit crops"
        );
    }

    #[test]
    fn a_placeholder_may_enlarge_past_its_own_crop_only_within_the_limit() {
        let source = (512, 384);
        assert_eq!(Enlarge::Limited.limit(2.0, source), Some(2.0));
        assert_eq!(Enlarge::Unlimited.limit(2.0, source), None);
        assert_eq!(Enlarge::Limited.limit(0.0, source), None, "0: no limit");
        let size = |width, height| Enlarge::BeyondCover(Size { width, height });
        // 2048×1536 covered from 512×384 is 4×: the options may go 2× beyond that.
        assert_eq!(size(2048, 1536).limit(2.0, source), Some(8.0));
        // A crop that shrinks leaves the limit as it is for the original.
        assert_eq!(size(256, 256).limit(2.0, source), Some(2.0));
        // Cover fills both sides: the wider factor counts.
        assert_eq!(size(2048, 384).limit(2.0, source), Some(8.0));
    }

    #[test]
    fn reads_are_remembered_in_batches_and_only_under_a_budget() {
        let budget = Budget::new(1 << 20);
        for n in 1..SERVED_BATCH {
            assert!(!budget.served(&format!("key-{n}")));
        }
        assert!(!budget.served("key-1"), "a key read twice is one");
        assert!(budget.served("one-more"), "a batch has gathered");
        let unbounded = Budget::new(0);
        assert!(!unbounded.served("key"));
        assert!(unbounded.served.lock().unwrap().is_empty());
    }
}
