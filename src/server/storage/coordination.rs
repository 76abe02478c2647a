//! How instances sharing one catalog work as one: a claim per piece of work (a generation or a
//! derivative key), so identical requests arriving at different instances make it once; news of
//! deleted and replaced images, so every instance drops its copies at once; and counters every instance sees, so
//! per-client limits and daily budgets hold for the cluster; and studio jobs' progress, so a poll may
//! reach any instance.
//!
//! The embedded catalog serves one process, whose in-process single flight (`engine::flight`) is all the
//! coordination it needs: [`Solo`] claims everything at once and has no news. The PostgreSQL catalog
//! coordinates through the database (`postgres/coordination.rs`).

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::error::CatalogError;

/// The answer to "may I do the work for this key?".
pub enum Claimed {
    /// Yes: do it, then [`Coordination::release`] the key. Until then the claim's heartbeat runs.
    Won(Claim),
    /// Another instance did it meanwhile: its result is in the catalog.
    Done,
    /// Another instance tried and failed; the failure is not kept, so a later request tries again.
    Failed(Failure),
}

/// A held claim: its heartbeat stops when it is dropped, so a claim whose instance died expires.
pub struct Claim {
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Claim {
    pub fn solo() -> Self {
        Self { heartbeat: None }
    }

    pub fn with_heartbeat(heartbeat: tokio::task::JoinHandle<()>) -> Self {
        Self {
            heartbeat: Some(heartbeat),
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

/// Work that failed on another instance, as its waiters are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// What kind of failure, so that waiters answer as the instance that did the work did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    BadRequest,
    Refused,
    /// Rate limited upstream or here, with the wait in seconds.
    Limited(u64),
    Timeout,
    Busy,
    Upstream,
    Internal,
}

/// News of an image that every instance's memory acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageNews {
    /// The image is gone: everything kept of it goes.
    Deleted(String),
    /// A `?redo` moved the image's placeholder URLs to a new image: what they answered goes, the
    /// image itself stays.
    Replaced(String),
}

#[async_trait::async_trait]
pub trait Coordination: Send + Sync {
    /// Claims the work for `key`, or waits while another instance holds it: until it is done, has
    /// failed, or its claim expires (then this instance takes it over).
    async fn claim(&self, key: &str) -> Result<Claimed, CatalogError>;

    /// Gives up a won claim, telling its waiters how the work went.
    async fn release(&self, key: &str, claim: Claim, outcome: Result<(), Failure>);

    /// Tells every instance that an image is gone or replaced.
    async fn announce(&self, news: &ImageNews);

    /// Images deleted or replaced through any instance (this one's included), as they are announced.
    fn image_news(&self) -> broadcast::Receiver<ImageNews>;

    /// Publishes the latest state (JSON) of studio job `id`, so that any instance can answer a poll for
    /// it. One process answers from memory and needs nothing published.
    async fn publish_job(&self, _id: &str, _view: &str) {}

    /// A studio job another instance published, while it is kept.
    async fn job(&self, _id: &str) -> Result<Option<String>, CatalogError> {
        Ok(None)
    }

    /// Counters shared with the other instances; `None` for one process, which counts in memory.
    fn counters(&self) -> Option<&dyn SharedCounters> {
        None
    }
}

/// Limits counted where every instance sees them.
#[async_trait::async_trait]
pub trait SharedCounters: Send + Sync {
    /// One more event for `key` under a GCRA limit of `per_minute` with bursts of `burst`: `Ok` if it
    /// may happen now, else how long until it may.
    async fn pass(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<Result<(), std::time::Duration>, CatalogError>;

    /// Takes one from the budget `key` of `limit` for day `day` (days since the epoch, UTC), counting
    /// from at least `already` (what the catalog holds for that day). Whether there was one to take.
    async fn spend(
        &self,
        key: &str,
        day: i64,
        limit: u32,
        already: u32,
    ) -> Result<bool, CatalogError>;
}

/// One process: nothing to coordinate.
pub struct Solo {
    news: broadcast::Sender<ImageNews>,
}

impl Default for Solo {
    fn default() -> Self {
        Self {
            news: broadcast::channel(1).0,
        }
    }
}

#[async_trait::async_trait]
impl Coordination for Solo {
    async fn claim(&self, _key: &str) -> Result<Claimed, CatalogError> {
        Ok(Claimed::Won(Claim::solo()))
    }

    async fn release(&self, _key: &str, _claim: Claim, _outcome: Result<(), Failure>) {}

    async fn announce(&self, _news: &ImageNews) {}

    fn image_news(&self) -> broadcast::Receiver<ImageNews> {
        self.news.subscribe()
    }
}
