//! Derivatives: a stored image transformed by options (`/img/{id}/{options}`, and the exact size behind
//! `/{W}x{H}/…`). Each is made once, on a bounded CPU pool, single-flight per key, and stored (blob
//! first, then its row), so the next request is a read.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{Admission, CacheStatus, Engine, EngineError, Inner};
use crate::domain::format::ImageFormat;
use crate::server::storage::blobs::content_hash;
use crate::server::storage::{DerivativeRecord, ImageRecord, Orphan};
use crate::server::transform::encode::{uses_quality, written_as};
use crate::server::transform::geometry::{layout, Layout, Region};
use crate::server::transform::inspect::InspectError;
use crate::server::transform::pipeline::{
    oriented_size, transform, Output, Settings, TransformError, DEFAULT_BACKGROUND,
    PIPELINE_VERSION,
};
use crate::urls::options::{Fit, Gravity, TransformOptions};
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
    /// How far a new one may enlarge the image. Not part of the key: it refuses enlargements, never
    /// changes what is made, and a derivative once made is served to any URL.
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

/// `options` without what an output in `format` ignores; with the format not known yet (it will be
/// the source's), only what every format ignores is dropped. The memory cache keys by this (it cannot
/// see the source's size); the derivative key goes further, by [`Resolved`].
pub fn without_ignored(
    options: &TransformOptions,
    format: Option<ImageFormat>,
    default_fit: Fit,
) -> TransformOptions {
    let mut options = options.normalized();
    if format.is_some_and(|format| !uses_quality(format)) {
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

/// What a derivative will be, worked out from its source's size as the pipeline will: two requests
/// that resolve alike make the same bytes, so they are one derivative (one key, one ETag) however
/// their options are spelled. Width, height, dpr, fit, the default fit and gravity become the
/// layout; only what acts on pixels stays an option.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    /// What is written: the format chosen, or WebP for an AVIF too large to encode as one.
    format: ImageFormat,
    /// Crop, scale and canvas, on the source after trim and rotation; no canvas where nothing is
    /// padded and nothing could show through.
    layout: Layout,
    /// The rest, canonical: trim, flip and rotate (they decide which pixels the layout is of), the
    /// filters, quality where the format uses it, the background where there is a canvas, and
    /// `gravity=auto` where it moves a crop (found on the pixels, so the layout cannot say where).
    effects: TransformOptions,
}

impl Resolved {
    /// `None` when a trim leaves nothing: the pipeline refuses it.
    fn of(record: &ImageRecord, request: &DeriveRequest) -> Option<Self> {
        let o = request.options.normalized();
        let oriented = oriented_size((record.width, record.height), &o).ok()?;
        let mut layout = layout(oriented, &o, request.default_fit);
        let background = o.background.unwrap_or(DEFAULT_BACKGROUND);
        // A canvas the image covers shows its background only through transparency: none in a
        // JPEG source, so with an opaque background that is no padding at all.
        let covered = layout
            .canvas
            .is_some_and(|c| (c.width, c.height) == layout.scaled);
        if covered && background.3 == u8::MAX && record.format == ImageFormat::Jpeg {
            layout.canvas = None;
        }
        let crops = layout.crop != Region::whole(oriented);
        let format = written_as(request.format, layout.output());
        // Whatever the layout does not resolve stays as spelled, a new option too.
        let effects = TransformOptions {
            width: None,
            height: None,
            dpr: None,
            fit: None,
            format: None,
            gravity: o.gravity.filter(|g| *g == Gravity::Auto && crops),
            quality: o.quality.filter(|_| uses_quality(format)),
            background: layout.canvas.map(|_| background),
            ..o
        };
        Some(Self {
            format,
            layout,
            effects,
        })
    }

    /// Whether this is the source as it is (`source` being its size and format).
    fn changes_nothing(&self, source: (u32, u32), format: ImageFormat) -> bool {
        self.format == format && self.effects.is_empty() && self.layout.is_identity(source)
    }

    /// The canonical text hashed into the key. Floats print as the shortest text that reads back
    /// to the same value, so equal layouts print alike.
    fn describe(&self) -> String {
        let Layout {
            crop,
            scaled,
            canvas,
        } = self.layout;
        let mut text = format!(
            "{}\0{}\0crop={},{},{},{};scaled={}x{}",
            self.format.as_str(),
            self.effects,
            crop.left,
            crop.top,
            crop.width,
            crop.height,
            scaled.0,
            scaled.1
        );
        if let Some(c) = canvas {
            let _ = write!(text, ";canvas={}x{}+{}+{}", c.width, c.height, c.x, c.y);
        }
        text
    }
}

/// The key's own version, beside the pipeline's: bumped when what is hashed changes. Rows under older
/// keys are simply never asked for again; derivatives are a cache within a byte budget that removes
/// the least recently served first ([`Budget`]), so they age out and nothing needs migrating.
/// (2: what is made, [`Resolved`], rather than the options as spelled.)
const KEY_VERSION: u32 = 2;

/// The derivative's identity: the source content, what will be made of it ([`Resolved`]) and the
/// pipeline version. Also its ETag, so a conditional request is answered without reading a byte.
pub fn derivative_key(record: &ImageRecord, request: &DeriveRequest) -> String {
    let made = match Resolved::of(record, request) {
        Some(resolved) => resolved.describe(),
        // Refused when made; keyed by the spelling meanwhile.
        None => format!(
            "unresolved\0{}\0{}\0{}",
            request.format.as_str(),
            without_ignored(&request.options, Some(request.format), request.default_fit),
            request.default_fit.as_str()
        ),
    };
    let digest = Sha256::new()
        .chain_update(format!(
            "pixzoo-derivative-k{KEY_VERSION}-v{PIPELINE_VERSION}\0"
        ))
        .chain_update(&record.content_hash)
        .chain_update(b"\0")
        .chain_update(made)
        .finalize();
    hex::encode(digest)
}

/// The quoted ETag for this request on this image.
pub fn etag(record: &ImageRecord, request: &DeriveRequest) -> String {
    if is_passthrough(record, request) {
        format!("\"{}\"", record.content_hash)
    } else {
        format!("\"{}\"", derivative_key(record, request))
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
    Resolved::of(record, request)
        .is_some_and(|made| made.changes_nothing((record.width, record.height), record.format))
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

/// The key trusts the row's size (read from the same bytes' header when they were stored); an output
/// of another size means the row is wrong, and storing it would answer other requests with it.
fn keyed_as_made(
    record: &ImageRecord,
    request: &DeriveRequest,
    output: &Output,
) -> Result<(), EngineError> {
    let expected = Resolved::of(record, request).map(|made| made.layout.output());
    match expected {
        Some(size) if size != (output.width, output.height) => Err(EngineError::Internal(format!(
            "image {} is recorded as {}x{}, yet made {}x{} where {}x{} was expected",
            record.id, record.width, record.height, output.width, output.height, size.0, size.1
        ))),
        _ => Ok(()),
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

    /// A stored image as the engine sees it: its bytes and its row.
    pub(super) struct Source {
        pub(super) bytes: Vec<u8>,
        pub(super) record: ImageRecord,
    }

    /// Left half red, right half a blue gradient; with `alpha`, a transparent band across the top.
    pub(super) fn source(width: u32, height: u32, format: ImageFormat, alpha: bool) -> Source {
        let image = image::RgbaImage::from_fn(width, height, |x, y| {
            let a = if alpha && y < height / 4 { 0 } else { 255 };
            if x < width / 2 {
                image::Rgba([220, 30, 30, a])
            } else {
                image::Rgba([0, (y * 255 / height) as u8, 200, a])
            }
        });
        let (image, encoded) = match format {
            ImageFormat::Jpeg => (
                image::DynamicImage::ImageRgb8(image::DynamicImage::ImageRgba8(image).to_rgb8()),
                image::ImageFormat::Jpeg,
            ),
            _ => (
                image::DynamicImage::ImageRgba8(image),
                image::ImageFormat::Png,
            ),
        };
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, encoded).unwrap();
        let bytes = out.into_inner();
        let record = ImageRecord {
            width,
            height,
            format,
            bytes: bytes.len() as u64,
            content_hash: content_hash(&bytes),
            ..crate::server::storage::conformance::record("source", "key", 0)
        };
        Source { bytes, record }
    }

    fn request(options: &str, format: ImageFormat, default_fit: Fit) -> DeriveRequest {
        DeriveRequest {
            options: TransformOptions::parse(options).unwrap(),
            format,
            default_fit,
            enlarge: Enlarge::Unlimited,
        }
    }

    /// What a request is answered with: its ETag, and the original or the pipeline's output (or why
    /// not), made the way [`Engine::derive`] makes it.
    pub(super) fn served(
        source: &Source,
        request: &DeriveRequest,
    ) -> (String, Result<Vec<u8>, String>) {
        let tag = etag(&source.record, request);
        if is_passthrough(&source.record, request) {
            return (tag, Ok(source.bytes.clone()));
        }
        let settings = Settings {
            default_fit: request.default_fit,
            max_pixels: 50_000_000,
            max_output_pixels: 50_000_000,
            max_upscale: None,
            format: request.format,
        };
        let made = transform(&source.bytes, &request.options, settings);
        if let Ok(output) = &made {
            keyed_as_made(&source.record, request, output).unwrap();
        }
        (tag, made.map(|o| o.bytes).map_err(|e| e.to_string()))
    }

    const WEBP: ImageFormat = ImageFormat::Webp;
    const JPEG: ImageFormat = ImageFormat::Jpeg;
    const PNG: ImageFormat = ImageFormat::Png;

    /// Options that make the same bytes in a format, on a 128x96 JPEG under scale-down.
    const SAME: &[(&str, &str, ImageFormat)] = &[
        // Scale-down never enlarges: every width past the source is the source's size.
        ("width=129", "width=12000", WEBP),
        ("width=129,format=webp", "format=webp", WEBP),
        ("height=97", "width=4000,height=3000", WEBP),
        ("width=50,dpr=2", "width=100", JPEG),
        ("width=100,fit=scale-down", "width=100", JPEG),
        // One side smaller than the source: every fit scales proportionally.
        ("width=100,fit=contain", "width=100", JPEG),
        ("width=100,fit=cover", "width=100,fit=crop", JPEG),
        ("height=60,fit=squeeze", "width=80", JPEG),
        // The format is the one chosen, however it was asked for; quality where it is used.
        ("width=100,format=auto", "width=100,format=webp", WEBP),
        ("width=100,format=jpeg", "width=100", JPEG),
        ("width=100,quality=10", "width=100,format=png", PNG),
        ("width=100,quality=85", "width=100", WEBP),
        // Gravity where nothing is cropped, `auto` where the crop is the whole image.
        ("width=100,gravity=left", "width=100", JPEG),
        (
            "width=50,height=50,fit=contain,gravity=left",
            "width=50",
            JPEG,
        ),
        (
            "width=64,height=48,fit=cover,gravity=auto",
            "width=64",
            JPEG,
        ),
        (
            "width=64,height=64,fit=cover,gravity=0.5x0.5",
            "width=64,height=64,fit=cover",
            JPEG,
        ),
        // A JPEG has no transparency: a canvas the image covers is no padding.
        (
            "width=64,height=48,fit=pad,background=red",
            "width=64",
            JPEG,
        ),
        (
            "width=64,height=64,fit=pad,background=white",
            "width=64,height=64,fit=pad",
            WEBP,
        ),
        ("width=64,background=red", "width=64", WEBP),
        // Nothing changes: the original.
        ("dpr=2", "", JPEG),
        (
            "format=jpeg",
            "width=128,height=96,fit=cover,gravity=left",
            JPEG,
        ),
        ("width=128,height=96,fit=pad", "width=300,height=96", JPEG),
        // Trim and rotation change the size the layout starts from.
        ("trim=8;0;8;0,width=200", "trim=8;0;8;0,width=128", WEBP),
        ("rotate=90,width=200", "rotate=90,width=96", WEBP),
        ("trim=0;0;0;0,rotate=0,blur=0,width=100", "width=100", JPEG),
    ];

    /// Options whose bytes differ in a format, on the same JPEG.
    const DIFFERENT: &[(&str, &str, ImageFormat)] = &[
        ("width=100", "width=101", JPEG),
        ("width=129,fit=contain", "width=128", JPEG),
        ("width=100,fit=cover", "width=200,fit=cover", JPEG),
        (
            "width=64,height=64,fit=cover,gravity=left",
            "width=64,height=64,fit=cover",
            JPEG,
        ),
        (
            "width=64,height=64,fit=cover,gravity=auto",
            "width=64,height=64,fit=cover",
            JPEG,
        ),
        (
            "width=64,height=64,fit=pad,background=red",
            "width=64,height=64,fit=pad",
            JPEG,
        ),
        (
            "width=64,height=64,fit=pad,gravity=top",
            "width=64,height=64,fit=pad",
            JPEG,
        ),
        ("width=100,quality=50", "width=100,quality=60", WEBP),
        ("width=100,quality=50", "width=100", JPEG),
        ("width=100,blur=3", "width=100", JPEG),
        ("width=100,saturation=0", "width=100", JPEG),
        ("width=100,flip=h", "width=100", JPEG),
        ("rotate=90", "rotate=270", JPEG),
        ("trim=1;0;0;0", "", JPEG),
        ("quality=50", "", JPEG),
    ];

    #[test]
    fn requests_that_make_the_same_bytes_share_a_key_and_others_do_not() {
        let jpeg = source(128, 96, ImageFormat::Jpeg, false);
        let serve = |options: &str, format, fit| served(&jpeg, &request(options, format, fit));
        let same = |a: (&str, ImageFormat, Fit), b: (&str, ImageFormat, Fit)| {
            let ((a_tag, a_bytes), (b_tag, b_bytes)) = (serve(a.0, a.1, a.2), serve(b.0, b.1, b.2));
            assert_eq!(a_bytes, b_bytes, "{a:?} and {b:?} make the same bytes");
            assert_eq!(a_tag, b_tag, "{a:?} and {b:?} share a key");
        };
        let different = |a: (&str, ImageFormat, Fit), b: (&str, ImageFormat, Fit)| {
            let ((a_tag, a_bytes), (b_tag, b_bytes)) = (serve(a.0, a.1, a.2), serve(b.0, b.1, b.2));
            assert_ne!(a_bytes, b_bytes, "{a:?} and {b:?} make different bytes");
            assert_ne!(a_tag, b_tag, "{a:?} and {b:?} have keys of their own");
        };
        for (a, b, format) in SAME {
            same((*a, *format, Fit::ScaleDown), (*b, *format, Fit::ScaleDown));
        }
        for (a, b, format) in DIFFERENT {
            different((*a, *format, Fit::ScaleDown), (*b, *format, Fit::ScaleDown));
        }
        // The default fit is resolved too (the placeholder's is cover).
        same(
            ("width=100", JPEG, Fit::Cover),
            ("width=100", JPEG, Fit::ScaleDown),
        );
        different(
            ("width=200", JPEG, Fit::Cover),
            ("width=200", JPEG, Fit::ScaleDown),
        );
        different(
            ("width=64,height=64", JPEG, Fit::Cover),
            ("width=64,height=64", JPEG, Fit::ScaleDown),
        );
        // And the format.
        different(
            ("width=100", WEBP, Fit::ScaleDown),
            ("width=100", JPEG, Fit::ScaleDown),
        );
        different(
            ("width=100", ImageFormat::Avif, Fit::ScaleDown),
            ("width=100", WEBP, Fit::ScaleDown),
        );
    }

    #[test]
    fn what_shows_through_transparency_and_what_avif_cannot_hold_are_keyed_as_made() {
        // A source that may be transparent: the background of a covered canvas shows through it.
        let png = source(128, 96, ImageFormat::Png, true);
        let serve = |options: &str| served(&png, &request(options, PNG, Fit::ScaleDown));
        let red = serve("width=64,height=48,fit=pad,background=red");
        let blue = serve("width=64,height=48,fit=pad,background=blue");
        assert_ne!(red.1, blue.1);
        assert_ne!(red.0, blue.0);
        assert_ne!(red.0, serve("width=64").0);
        // AVIF over its pixel limit is written as WebP: the same bytes as WebP asked for.
        let jpeg = source(128, 96, ImageFormat::Jpeg, false);
        let big = |format: ImageFormat| {
            let options = format!(
                "width=2400,height=1800,fit=contain,format={}",
                format.as_str()
            );
            etag(&jpeg.record, &request(&options, format, Fit::ScaleDown))
        };
        assert_eq!(big(ImageFormat::Avif), big(WEBP));
        let small = |format| etag(&jpeg.record, &request("width=100", format, Fit::ScaleDown));
        assert_ne!(small(ImageFormat::Avif), small(WEBP));
    }

    #[test]
    fn a_trim_that_leaves_nothing_is_keyed_by_its_spelling() {
        let jpeg = source(128, 96, ImageFormat::Jpeg, false);
        let key =
            |options: &str| derivative_key(&jpeg.record, &request(options, JPEG, Fit::ScaleDown));
        assert_ne!(key("trim=0;128;0;0"), key("trim=0;200;0;0"));
        assert_eq!(key("trim=0;128;0;0"), key("trim=0;128;0;0,gravity=left"));
        let (_, made) = served(&jpeg, &request("trim=0;128;0;0", JPEG, Fit::ScaleDown));
        assert!(made.unwrap_err().contains("trim removes"));
    }

    #[test]
    fn a_row_whose_size_is_not_its_bytes_stores_nothing() {
        let mut jpeg = source(128, 96, ImageFormat::Jpeg, false);
        jpeg.record.width = 256;
        let asked = request("width=200", JPEG, Fit::ScaleDown);
        let settings = Settings {
            default_fit: Fit::ScaleDown,
            max_pixels: 50_000_000,
            max_output_pixels: 50_000_000,
            max_upscale: None,
            format: JPEG,
        };
        let output = transform(&jpeg.bytes, &asked.options, settings).unwrap();
        let refused = keyed_as_made(&jpeg.record, &asked, &output).unwrap_err();
        assert!(
            refused.to_string().contains("recorded as 256x96"),
            "{refused}"
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

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::tests::{served, source, Source};
    use super::*;
    use crate::urls::options::{Flip, Milli, OutputFormat, Rgba, Trim};

    /// Options around a 48x36 source, drawn from few values so that two requests often make the same
    /// bytes by different routes.
    fn options() -> impl Strategy<Value = TransformOptions> {
        let side = || {
            proptest::option::of(proptest::sample::select(vec![
                12u32, 24, 36, 47, 48, 49, 60, 96,
            ]))
        };
        let geometry = (
            side(),
            side(),
            proptest::option::of(proptest::sample::select(vec![
                Milli(1000),
                Milli(1500),
                Milli(2000),
            ])),
            proptest::option::of(proptest::sample::select(Fit::ALL.to_vec())),
            proptest::option::of(proptest::sample::select(vec![
                Gravity::Auto,
                Gravity::Center,
                Gravity::Left,
                Gravity::Bottom,
                Gravity::Point(Milli(200), Milli(700)),
            ])),
        );
        let rest = (
            proptest::option::of(proptest::sample::select(vec![50u8, 85, 90])),
            proptest::option::of(proptest::sample::select(vec![
                OutputFormat::Auto,
                OutputFormat::Jpeg,
            ])),
            proptest::option::of(proptest::sample::select(vec![0u8, 3])),
            proptest::option::of(proptest::sample::select(vec![0u16, 90])),
            proptest::option::of(Just(Flip::Horizontal)),
            proptest::option::of(proptest::sample::select(vec![
                Rgba(255, 255, 255, 255),
                Rgba(255, 0, 0, 255),
                Rgba(0, 0, 255, 128),
            ])),
            proptest::option::of(proptest::sample::select(vec![
                Trim::default(),
                Trim {
                    top: 2,
                    right: 3,
                    bottom: 4,
                    left: 5,
                },
            ])),
        );
        (geometry, rest).prop_map(
            |(
                (width, height, dpr, fit, gravity),
                (quality, format, blur, rotate, flip, background, trim),
            )| {
                TransformOptions {
                    width,
                    height,
                    dpr,
                    fit,
                    gravity,
                    quality,
                    format,
                    blur,
                    rotate,
                    flip,
                    background,
                    trim,
                    ..TransformOptions::default()
                }
            },
        )
    }

    /// `options` with the fields whose bit is set in `mask` taken from `other`.
    fn mixed(options: &TransformOptions, other: &TransformOptions, mask: u16) -> TransformOptions {
        let pick = |bit: u16| mask & (1 << bit) != 0;
        let mut mixed = options.clone();
        macro_rules! take {
            ($($bit:literal => $field:ident),*) => {
                $(if pick($bit) { mixed.$field = other.$field; })*
            };
        }
        take!(0 => width, 1 => height, 2 => dpr, 3 => fit, 4 => gravity, 5 => quality, 6 => format,
              7 => blur, 8 => rotate, 9 => flip, 10 => background, 11 => trim);
        mixed
    }

    fn request(options: TransformOptions, format: ImageFormat, default_fit: Fit) -> DeriveRequest {
        DeriveRequest {
            options,
            format,
            default_fit,
            enlarge: Enlarge::Unlimited,
        }
    }

    fn sources() -> &'static [Source; 2] {
        static SOURCES: std::sync::OnceLock<[Source; 2]> = std::sync::OnceLock::new();
        SOURCES.get_or_init(|| {
            [
                source(48, 36, ImageFormat::Jpeg, false),
                source(48, 36, ImageFormat::Png, true),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(160))]

        /// One key is one output: requests that share an ETag are answered with the same bytes, so
        /// requests whose bytes differ never share one.
        #[test]
        fn a_shared_key_is_the_same_bytes(
            a in options(),
            other in options(),
            mask in prop_oneof![(0u16..12).prop_map(|b| 1 << b), 0u16..4096],
            which in 0usize..2,
            format in proptest::sample::select(ImageFormat::ALL.to_vec()),
            fits in proptest::sample::select(vec![
                (Fit::ScaleDown, Fit::ScaleDown),
                (Fit::Cover, Fit::Cover),
                (Fit::ScaleDown, Fit::Cover),
            ]),
        ) {
            let source = &sources()[which];
            let b = mixed(&a, &other, mask);
            let first = served(source, &request(a.clone(), format, fits.0));
            let second = served(source, &request(b.clone(), format, fits.1));
            if first.0 == second.0 {
                prop_assert_eq!(&first.1, &second.1, "{} and {} share {}", a, b, first.0);
            }
        }
    }
}
