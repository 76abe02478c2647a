//! The byte budget's bookkeeping: what stored derivatives are estimated to take against
//! `storage.derivatives_max_bytes`, the reads remembered until they are written in a batch, and
//! whether a write or an eviction is running. What acts on it (writing the batch, evicting) is
//! `evict.rs`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Stored derivatives within `storage.derivatives_max_bytes`. Reads from disk are remembered and
/// written to the catalog in a batch when eviction runs or [`SERVED_BATCH`] have gathered, so a hit
/// costs no write and what is remembered stays small; eviction runs on its
/// own task once the estimate of what is stored passes the budget, and removes the least recently
/// served down to nine tenths of it.
pub struct ByteBudget {
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

impl ByteBudget {
    pub(in crate::server::engine) fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            stored: AtomicU64::new(u64::MAX),
            served: Mutex::default(),
            evicting: AtomicBool::new(false),
            flushing: AtomicBool::new(false),
        }
    }

    /// The budget, in bytes (0 = no limit).
    pub(super) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// What an eviction removes down to: nine tenths of the budget.
    pub(super) fn evict_to(&self) -> u64 {
        self.max_bytes / 10 * 9
    }

    /// Remembers a read; true when a batch has gathered.
    pub(super) fn served(&self, key: &str) -> bool {
        if self.max_bytes == 0 {
            return false;
        }
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        served.insert(key.to_owned());
        served.len() >= SERVED_BATCH
    }

    /// The reads remembered so far, forgotten here.
    pub(super) fn take_served(&self) -> Vec<String> {
        std::mem::take(&mut *self.served.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .collect()
    }

    /// True when no write of the batch is running, which the caller then starts (and ends with
    /// [`ByteBudget::flushed`]).
    pub(super) fn start_flush(&self) -> bool {
        !self.flushing.swap(true, Ordering::AcqRel)
    }

    /// The write started by [`ByteBudget::start_flush`] has ended.
    pub(super) fn flushed(&self) {
        self.flushing.store(false, Ordering::Release);
    }

    /// Counts a new derivative of `bytes`; true when what is stored is past the budget (or not read
    /// yet) and no eviction is running, which the caller then starts (and ends with
    /// [`ByteBudget::evicted`]).
    pub(super) fn stored(&self, bytes: u64) -> bool {
        if self.max_bytes == 0 {
            return false;
        }
        let stored = self.stored.fetch_add(bytes, Ordering::Relaxed);
        let over = stored == u64::MAX || stored.saturating_add(bytes) > self.max_bytes;
        over && !self.evicting.swap(true, Ordering::AcqRel)
    }

    /// What is stored, as an eviction read it from the catalog.
    pub(super) fn set_stored(&self, stored: u64) {
        self.stored.store(stored, Ordering::Relaxed);
    }

    /// The eviction started by [`ByteBudget::stored`] has ended.
    pub(super) fn evicted(&self) {
        self.evicting.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_remembered_in_batches_and_only_under_a_budget() {
        let budget = ByteBudget::new(1 << 20);
        for n in 1..SERVED_BATCH {
            assert!(!budget.served(&format!("key-{n}")));
        }
        assert!(!budget.served("key-1"), "a key read twice is one");
        assert!(budget.served("one-more"), "a batch has gathered");
        let unbounded = ByteBudget::new(0);
        assert!(!unbounded.served("key"));
        assert!(unbounded.served.lock().unwrap().is_empty());
    }
}
