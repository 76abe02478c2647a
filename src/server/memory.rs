//! The hot path's memory: the responses for stored images and derivatives, by what the request names
//! (`/img/{id}`, `/img/{id}/{options}` or `/{W}x{H}/{slug}`), weighted by their bytes within
//! `storage.memory_cache_bytes`;
//! and the catalog rows that serving reads (images by id, derivatives by key), so that a response no
//! longer in memory costs a file read, not a query.
//! moka admits by frequency (TinyLFU) and evicts the least recently used, so what is asked for often
//! stays. A hit is answered without a catalog query or a file read. A deleted image's entries go with
//! it (and placeholder URLs that edit it), a `?redo` takes its URL's entries away from the image it
//! replaced, and a response still on its way in then does not stay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use bytes::Bytes;
use moka::sync::Cache;

use crate::domain::format::ImageFormat;
use crate::server::purge::Tags;
use crate::server::storage::{DerivativeRecord, ImageRecord};

/// Rows kept of each kind: a few kilobytes each at most, so a few tens of megabytes in all.
const ROWS: u64 = 10_000;

/// What a stored image's response needs, ready to send again: its headers as values, so a hit
/// formats and validates nothing.
#[derive(Debug)]
pub struct HotImage {
    /// The image it shows (a derivative's source).
    pub id: String,
    /// `id` as the `x-image-id` header.
    pub id_header: HeaderValue,
    /// `id`'s `Cache-Tag` and `Surrogate-Key`.
    pub tags: Tags,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub last_modified_ms: i64,
    pub format: ImageFormat,
    pub bytes: Bytes,
    pub vary_accept: bool,
    /// Sent with `x-cache: HIT`: a derivative, made before, as `/img/{id}/{options}` says of a stored
    /// one read from disk. Originals send no `x-cache` either way.
    pub cache_hit: bool,
    /// The stored derivative behind it, if any: hits from memory count as served for the derivative
    /// budget's eviction order, or the hottest derivatives would look the coldest on disk.
    pub derivative: Option<String>,
    /// When a hit was last counted as served: seconds since the process's first one, 0 for never.
    pub noted: AtomicU64,
    /// A placeholder URL's response: sent with a day's lifetime and `x-cache: HIT`, and dropped when a
    /// `?redo` moves the URL to another image.
    pub placeholder: bool,
    /// Images the URL takes as sources (a placeholder edit's source and mask): it is refused once
    /// they are gone, so its response goes with them.
    pub sources: Vec<String>,
}

/// How often a derivative answered from memory is counted as served again: eviction orders by
/// minutes, and a hit should cost no lock.
const NOTE_EVERY: Duration = Duration::from_secs(60);

impl HotImage {
    /// The stored derivative to count as served for this hit: on the first hit, then at most once
    /// every [`NOTE_EVERY`].
    pub fn due_for_note(&self) -> Option<&str> {
        static START: OnceLock<Instant> = OnceLock::new();
        let derivative = self.derivative.as_deref()?;
        // From 1, so 0 keeps meaning "never".
        let now = START.get_or_init(Instant::now).elapsed().as_secs() + 1;
        let last = self.noted.load(Ordering::Relaxed);
        let due = last == 0 || now >= last + NOTE_EVERY.as_secs();
        (due && self
            .noted
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok())
        .then_some(derivative)
    }
}

#[derive(Clone)]
pub struct MemoryCache {
    responses: Option<Cache<String, Arc<HotImage>>>,
    /// Responses of derivatives stored on disk, without their bytes, by the same keys: a cold hit
    /// reads the file and is answered as a hot one (`Engine::stored_now`), with no route, catalog
    /// or digest on its way. Counted like rows, so kept whatever `responses` may hold.
    on_disk: Cache<String, Arc<HotImage>>,
    /// Registered once: a labelled `counter!` per hit would hash its key into the registry each time.
    hits: metrics::Counter,
    records: Cache<String, Arc<ImageRecord>>,
    derivative_rows: Cache<String, Arc<DerivativeRecord>>,
    /// Images deleted lately: a response made before its image's delete is not kept.
    deleted: Cache<String, ()>,
    /// Images a `?redo` replaced lately: a placeholder response made before is not kept.
    replaced: Cache<String, ()>,
}

/// A response's key: the image, the canonical options (empty for the original) and, for
/// `format=auto`, the format chosen from `Accept`. Image keys start with `i`, placeholder keys with
/// `p`, so that no URL's key is another's.
pub fn key(id: &str, options: &str, chosen: Option<ImageFormat>) -> String {
    // Built by hand: `format!` cost a hit more than the rest of its key.
    let chosen = chosen.map(ImageFormat::as_str);
    let mut key = String::with_capacity(3 + id.len() + options.len() + chosen.map_or(0, str::len));
    key.push('i');
    key.push_str(id);
    key.push('/');
    key.push_str(options);
    if let Some(chosen) = chosen {
        key.push('#');
        key.push_str(chosen);
    }
    key
}

/// A placeholder URL's key: what it asks for, spelled canonically, and for `format=auto` the format
/// chosen from `Accept`.
pub fn placeholder_key(canonical: &str, chosen: Option<ImageFormat>) -> String {
    match chosen {
        Some(format) => format!("p{canonical}#{}", format.as_str()),
        None => format!("p{canonical}"),
    }
}

/// Lately deleted or replaced images, remembered for as long as a request may still be answering.
fn marks() -> Cache<String, ()> {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(Duration::from_secs(600))
        .build()
}

impl MemoryCache {
    pub fn new(max_bytes: u64) -> Self {
        let responses = (max_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(max_bytes)
                // The bytes, the key and the rest of the entry.
                .weigher(|key: &String, image: &Arc<HotImage>| {
                    u32::try_from(image.bytes.len() + key.len() + image.etag.len() + 128)
                        .unwrap_or(u32::MAX)
                })
                .support_invalidation_closures()
                .build()
        });
        Self {
            responses,
            on_disk: Cache::builder()
                .max_capacity(ROWS)
                .support_invalidation_closures()
                .build(),
            hits: metrics::counter!("pixzoo_cache_total", "kind" => "memory", "result" => "hit"),
            records: Cache::new(ROWS),
            derivative_rows: Cache::builder()
                .max_capacity(ROWS)
                .support_invalidation_closures()
                .build(),
            deleted: marks(),
            replaced: marks(),
        }
    }

    /// Whether responses are kept at all (`storage.memory_cache_bytes` above 0).
    pub fn keeps_responses(&self) -> bool {
        self.responses.is_some()
    }

    pub fn get(&self, key: &str) -> Option<Arc<HotImage>> {
        let hit = self.responses.as_ref()?.get(key);
        if hit.is_some() {
            self.hits.increment(1);
        }
        hit
    }

    /// Keeps the response `make` builds under `key`; with no memory budget, nothing is built.
    pub fn keep(&self, key: String, make: impl FnOnce() -> Option<HotImage>) {
        if self.keeps_responses() {
            if let Some(image) = make() {
                self.insert(key, image);
            }
        }
    }

    pub fn insert(&self, key: String, image: HotImage) {
        if let Some(responses) = &self.responses {
            self.insert_into(responses, key, image);
        }
    }

    /// The response of a derivative on disk under `key`, without its bytes.
    pub fn on_disk(&self, key: &str) -> Option<Arc<HotImage>> {
        self.on_disk.get(key)
    }

    /// Keeps a stored derivative's response under `key`: its headers (not its bytes) whatever the
    /// budget, and all of it within the budget.
    pub fn keep_derivative(&self, key: String, image: HotImage) {
        if image.derivative.is_some() {
            let headers = HotImage {
                id: image.id.clone(),
                id_header: image.id_header.clone(),
                tags: image.tags.clone(),
                etag: image.etag.clone(),
                last_modified: image.last_modified.clone(),
                bytes: Bytes::new(),
                derivative: image.derivative.clone(),
                noted: AtomicU64::new(0),
                sources: image.sources.clone(),
                ..image
            };
            self.insert_into(&self.on_disk, key.clone(), headers);
        }
        self.insert(key, image);
    }

    fn insert_into(&self, cache: &Cache<String, Arc<HotImage>>, key: String, image: HotImage) {
        let image = Arc::new(image);
        cache.insert(key.clone(), image.clone());
        // Checked after the insert: a delete or a redo marks first and purges second, so either the
        // purge saw this entry or this check sees the mark.
        let deleted = |id: &String| self.deleted.contains_key(id);
        let gone = deleted(&image.id)
            || image.sources.iter().any(deleted)
            || (image.placeholder && self.replaced.contains_key(&image.id));
        if gone {
            cache.invalidate(&key);
        }
    }

    /// Both caches of responses.
    fn response_caches(&self) -> impl Iterator<Item = &Cache<String, Arc<HotImage>>> {
        self.responses.iter().chain(std::iter::once(&self.on_disk))
    }

    /// Image `id`'s row, if it was read lately.
    pub fn record(&self, id: &str) -> Option<Arc<ImageRecord>> {
        self.records.get(id)
    }

    pub fn keep_record(&self, record: &ImageRecord) {
        self.records
            .insert(record.id.clone(), Arc::new(record.clone()));
        if self.deleted.contains_key(&record.id) {
            self.records.invalidate(&record.id);
        }
    }

    /// A regeneration moved a generation key to another row: rows are read again.
    pub fn forget_records(&self) {
        self.records.invalidate_all();
    }

    /// Derivative `key`'s row, if it was read lately.
    pub fn derivative_row(&self, key: &str) -> Option<Arc<DerivativeRecord>> {
        self.derivative_rows.get(key)
    }

    pub fn keep_derivative_row(&self, row: &DerivativeRecord) {
        self.derivative_rows
            .insert(row.key.clone(), Arc::new(row.clone()));
        if self.deleted.contains_key(&row.image_id) {
            self.derivative_rows.invalidate(&row.key);
        }
    }

    /// An evicted derivative's row.
    pub fn forget_derivative(&self, key: &str) {
        self.derivative_rows.invalidate(key);
    }

    /// Drops everything kept (news of deletes was missed).
    pub fn clear(&self) {
        self.records.invalidate_all();
        self.derivative_rows.invalidate_all();
        for responses in self.response_caches() {
            responses.invalidate_all();
        }
    }

    /// Drops every response and row of image `id`.
    pub fn forget_image(&self, id: &str) {
        self.deleted.insert(id.to_owned(), ());
        self.records.invalidate(id);
        {
            let id = id.to_owned();
            let _ = self
                .derivative_rows
                .invalidate_entries_if(move |_, row| row.image_id == id);
        }
        for responses in self.response_caches() {
            let id = id.to_owned();
            // Only fails when invalidation closures are off, which `new` turns on.
            let _ = responses.invalidate_entries_if(move |_, image| {
                image.id == id || image.sources.contains(&id)
            });
        }
    }

    /// Drops the placeholder responses of image `id`, which a `?redo` replaced: its URLs answer
    /// another image now, while `/img/{id}…` still answer it.
    pub fn forget_placeholders(&self, id: &str) {
        self.replaced.insert(id.to_owned(), ());
        for responses in self.response_caches() {
            let id = id.to_owned();
            let _ = responses
                .invalidate_entries_if(move |_, image| image.placeholder && image.id == id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, len: usize) -> HotImage {
        HotImage {
            id: id.into(),
            id_header: HeaderValue::from_str(id).unwrap(),
            tags: Tags::of(id).unwrap(),
            etag: HeaderValue::from_static("\"e\""),
            last_modified: HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
            last_modified_ms: 0,
            format: ImageFormat::Png,
            bytes: Bytes::from(vec![7u8; len]),
            vary_accept: false,
            cache_hit: true,
            derivative: Some(format!("{id}-derivative")),
            noted: AtomicU64::new(0),
            placeholder: false,
            sources: Vec::new(),
        }
    }

    #[test]
    fn a_derivative_hit_is_noted_once_then_not_within_the_minute() {
        let hot = image("a", 1);
        assert_eq!(hot.due_for_note(), Some("a-derivative"));
        assert_eq!(hot.due_for_note(), None, "not again within the minute");
        let original = HotImage {
            derivative: None,
            ..image("b", 1)
        };
        assert_eq!(
            original.due_for_note(),
            None,
            "an original is never evicted"
        );
    }

    #[test]
    fn entries_stay_within_the_byte_budget_and_go_with_their_image() {
        let memory = MemoryCache::new(100_000);
        for n in 0..50 {
            memory.insert(key("a", &format!("width={n}"), None), image("a", 10_000));
        }
        let responses = memory.responses.as_ref().unwrap();
        responses.run_pending_tasks();
        assert!(
            responses.weighted_size() <= 100_000,
            "{}",
            responses.weighted_size()
        );

        memory.insert(key("b", "", None), image("b", 10));
        memory.insert(key("c", "", None), image("c", 10));
        assert!(memory.get(&key("b", "", None)).is_some());
        memory.forget_image("b");
        assert!(memory.get(&key("b", "", None)).is_none());
        assert!(memory.get(&key("c", "", None)).is_some());
        // A response of a deleted image arriving late is not kept.
        memory.insert(key("b", "width=1", None), image("b", 10));
        assert!(memory.get(&key("b", "width=1", None)).is_none());
    }

    #[test]
    fn placeholder_entries_go_with_a_redo_and_with_their_sources() {
        let memory = MemoryCache::new(100_000);
        let placeholder = |id: &str, sources: &[&str]| HotImage {
            placeholder: true,
            sources: sources.iter().map(|n| n.to_string()).collect(),
            ..image(id, 10)
        };
        let (url, edit) = (
            placeholder_key("/8x8/a", None),
            placeholder_key("/8x8/b", None),
        );
        memory.insert(url.clone(), placeholder("a", &[]));
        memory.insert(key("a", "", None), image("a", 10));
        memory.insert(edit.clone(), placeholder("e", &["source"]));
        assert_ne!(placeholder_key("a/", None), key("a", "", None));

        memory.forget_placeholders("a");
        assert!(memory.get(&url).is_none(), "the URL answers another image");
        assert!(memory.get(&key("a", "", None)).is_some(), "the image stays");
        // A response made before the redo, kept after it: not kept.
        memory.insert(url.clone(), placeholder("a", &[]));
        assert!(memory.get(&url).is_none());

        memory.forget_image("source");
        assert!(memory.get(&edit).is_none(), "its source is gone");
        memory.insert(edit.clone(), placeholder("e", &["source"]));
        assert!(memory.get(&edit).is_none());
    }

    #[test]
    fn rows_go_with_their_image_and_a_late_one_is_not_kept() {
        use crate::server::storage::conformance::record;
        let memory = MemoryCache::new(0);
        let row = |key: &str, image: &str| DerivativeRecord {
            key: key.into(),
            image_id: image.into(),
            format: ImageFormat::Png,
            width: 1,
            height: 1,
            bytes: 1,
            content_hash: None,
        };
        memory.keep_record(&record("a", "ka", 1));
        memory.keep_record(&record("b", "kb", 1));
        memory.keep_derivative_row(&row("a1", "a"));
        memory.keep_derivative_row(&row("b1", "b"));
        assert_eq!(memory.record("a").unwrap().id, "a");
        memory.forget_image("a");
        assert!(memory.record("a").is_none());
        assert!(memory.derivative_row("a1").is_none());
        assert!(memory.record("b").is_some() && memory.derivative_row("b1").is_some());
        // Read before the delete, kept after it: not kept.
        memory.keep_record(&record("a", "ka", 1));
        memory.keep_derivative_row(&row("a2", "a"));
        assert!(memory.record("a").is_none() && memory.derivative_row("a2").is_none());
        memory.forget_derivative("b1");
        assert!(memory.derivative_row("b1").is_none());
        memory.forget_records();
        assert!(memory.record("b").is_none());
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let memory = MemoryCache::new(0);
        memory.insert(key("a", "", None), image("a", 10));
        assert!(memory.get(&key("a", "", None)).is_none());
    }
}
