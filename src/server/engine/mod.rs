//! The one path every face shares. A face fills a [`GenerateRequest`] (`intake.rs`), [`Engine::plan`]
//! applies the model's rules, and [`Engine::submit`] runs the job (`submit.rs`; `generate.rs`: translate,
//! look up, admit, generate with retries, check, store, record), shared by identical concurrent
//! requests (`flight.rs`). Derivatives of stored images are `derive/`; reads are `reads.rs`, deletes
//! `delete.rs`. The engine is handed its parts; it opens nothing itself (`server::build` wires it).
//!
//! This file is the engine itself: its parts, its construction, and the news of other instances'
//! deletes it follows. Files that hold what the engine is made of (`errors.rs`, `answers.rs`,
//! `limits.rs`, `flight.rs`, `retry.rs`, `derive/budget.rs`, ...) need nothing from here; files that
//! add to what it does (`impl Engine`, `impl Inner`) import from here, and nothing here imports them
//! (the faces name their types: `derive::DeriveRequest`, `edit::Edit`).

mod admission;
mod answers;
mod delete;
#[cfg(test)]
mod delete_race;
pub mod derive;
pub mod edit;
mod errors;
mod flight;
mod generate;
pub mod intake;
pub mod keys;
pub mod limits;
pub mod models;
mod once;
pub mod progress;
mod reads;
mod retry;
pub mod sizes;
mod submit;
#[cfg(test)]
pub(crate) mod testing;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

use crate::server::config::EngineConfig;
use crate::server::cpu::CpuPool;
use crate::server::memory::MemoryCache;
use crate::server::prompt::PromptPipeline;
use crate::server::providers::Providers;
use crate::server::purge::{Purger, Takedown};
use crate::server::storage::{
    BlobError, BlobStore, Catalog, CatalogError, Coordination, ImageNews, Storage,
};
pub use admission::{Admission, Open};
use answers::Derived;
pub use answers::{CacheStatus, Generated};
use derive::budget::ByteBudget;
pub use errors::EngineError;
use flight::Flights;
pub use flight::Job;
pub use intake::{Edit, GenerateRequest, Plan, Seed, Source};
use limits::{DeriveLimits, PromptLimits, UploadLimits};
use models::ModelCatalog;
use retry::RetryPolicy;

/// Whether each storage seam answers.
#[derive(Debug)]
pub struct Health {
    pub catalog: Result<(), CatalogError>,
    pub blobs: Result<(), BlobError>,
}

impl Health {
    pub fn is_ok(&self) -> bool {
        self.catalog.is_ok() && self.blobs.is_ok()
    }
}

/// What the engine is built from.
pub struct Parts {
    pub storage: Storage,
    /// Responses kept for the next request; the engine drops a deleted image's.
    pub memory: MemoryCache,
    /// `storage.derivatives_max_bytes`: what stored derivatives may take (0 = no limit).
    pub derivatives_max_bytes: u64,
    /// `[limits]` on new derivatives.
    pub derivative_limits: DeriveLimits,
    /// `[limits]` on uploads.
    pub upload_limits: UploadLimits,
    /// `[limits]` on prompts.
    pub prompt_limits: PromptLimits,
    pub models: ModelCatalog,
    pub providers: Providers,
    pub prompts: PromptPipeline,
    pub cpu: Arc<CpuPool>,
    /// Tells the CDN in front about deletes and replacements (off: `Purger::default`).
    pub purger: Purger,
}

/// Cheap to clone: jobs run on their own tasks with a handle to the same parts.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Arc<dyn Catalog>,
    blobs: BlobStore,
    models: ModelCatalog,
    providers: Providers,
    prompts: PromptPipeline,
    retry: RetryPolicy,
    deadline: Duration,
    max_output_pixels: u64,
    derivative_limits: DeriveLimits,
    upload_limits: UploadLimits,
    prompt_limits: PromptLimits,
    flights: Flights<Generated>,
    derivatives: Flights<Derived>,
    cpu: Arc<CpuPool>,
    memory: MemoryCache,
    derivative_budget: ByteBudget,
    /// Claims on work shared with other instances, and their news of deletes.
    coordination: Arc<dyn Coordination>,
    purger: Purger,
}

impl Inner {
    /// What memory keeps of an image that was deleted or replaced.
    fn forget(&self, news: &ImageNews) {
        match news {
            ImageNews::Deleted(id) => self.memory.forget_image(id),
            ImageNews::Replaced(id) => self.memory.forget_placeholders(id),
        }
    }

    /// Tells this instance's memory, every other's, and the CDN in front: the one place every delete
    /// and every `?redo` goes through (other instances' news is only forgotten, so the CDN is told
    /// once).
    async fn announce(&self, news: ImageNews) {
        self.forget(&news);
        self.coordination.announce(&news).await;
        let (id, reason) = match &news {
            ImageNews::Deleted(id) => (id, Takedown::Deleted),
            ImageNews::Replaced(id) => (id, Takedown::Replaced),
        };
        // Dropped when too many are pending: counted and logged by the purger.
        self.purger.takedown(id, reason);
    }
}

impl Engine {
    pub fn new(parts: Parts, config: &EngineConfig) -> Self {
        let engine = Self {
            inner: Arc::new(Inner {
                catalog: parts.storage.catalog,
                blobs: parts.storage.blobs,
                models: parts.models,
                providers: parts.providers,
                prompts: parts.prompts,
                retry: RetryPolicy::from_config(config),
                deadline: Duration::from_secs(config.deadline_secs),
                max_output_pixels: config.max_output_pixels,
                derivative_limits: parts.derivative_limits,
                upload_limits: parts.upload_limits,
                prompt_limits: parts.prompt_limits,
                flights: Flights::new("image"),
                derivatives: Flights::new("derivative"),
                cpu: parts.cpu,
                memory: parts.memory,
                derivative_budget: ByteBudget::new(parts.derivatives_max_bytes),
                coordination: parts.storage.coordination,
                purger: parts.purger,
            }),
        };
        engine.follow_image_news();
        engine
    }

    /// An image deleted through another instance leaves this one's memory at once, and so do the
    /// placeholder responses of one a `?redo` replaced.
    fn follow_image_news(&self) {
        let mut news = self.inner.coordination.image_news();
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match news.recv().await {
                    Ok(news) => match inner.upgrade() {
                        Some(inner) => inner.forget(&news),
                        None => return,
                    },
                    // Missed some: what is kept may be stale, so keep nothing.
                    Err(RecvError::Lagged(_)) => match inner.upgrade() {
                        Some(inner) => inner.memory.clear(),
                        None => return,
                    },
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// Responses of stored images kept in memory (`server::memory`).
    pub fn memory(&self) -> &MemoryCache {
        &self.inner.memory
    }

    pub fn models(&self) -> &ModelCatalog {
        &self.inner.models
    }

    /// The prompt pipeline in use (`openai`, `cloudflare`, `builtin` or `off`).
    pub fn prompt_pipeline(&self) -> &'static str {
        self.inner.prompts.name()
    }

    pub async fn health(&self) -> Health {
        Health {
            catalog: self.inner.catalog.ping().await,
            blobs: self.inner.blobs.check().await,
        }
    }

    /// Closes the catalog cleanly; called once the server has stopped taking requests.
    pub async fn close(&self) {
        self.inner.catalog.close().await;
    }
}
