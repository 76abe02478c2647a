//! The one path every face shares. A face fills a [`GenerateRequest`] (`intake.rs`), [`Engine::plan`]
//! applies the model's rules, and [`Engine::submit`] runs the job (`generate.rs`: translate, look up,
//! admit, generate with retries, check, store, record), shared by identical concurrent requests
//! (`flight.rs`). Derivatives of stored images are `derive.rs`. The engine is handed its parts; it
//! opens nothing itself (`server::build` wires it).

#[cfg(test)]
mod delete_race;
pub mod derive;
pub mod edit;
mod flight;
mod generate;
pub mod intake;
pub mod keys;
pub mod models;
mod once;
pub mod progress;
mod retry;
pub mod sizes;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::server::config::{EngineConfig, ModelConfig};
use crate::server::cpu::{CpuError, CpuPool};
use crate::server::memory::MemoryCache;
use crate::server::prompt::PromptPipeline;
use crate::server::providers::{ProviderError, Providers};
use crate::server::storage::{
    BlobError, BlobStore, Catalog, CatalogError, Coordination, Failure, FailureKind, ImageNews,
    ImageRecord, Orphan, PageQuery, Storage,
};
pub use edit::Source;
use flight::Flights;
pub use flight::Job;
use generate::{Reporter, Run};
pub use intake::{Edit, GenerateRequest, Plan, Seed};
use models::{ModelCatalog, UnknownModel};
use progress::Progress;
use retry::RetryPolicy;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    UnknownModel(#[from] UnknownModel),
    /// Each face says this in its own words (it knows which field held the prompt).
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("{0}")]
    BadRequest(String),
    /// A model that cannot do what was asked (an edit, an inpainting, a variation); the message names
    /// the models that can.
    #[error("{0}")]
    Incapable(String),
    /// An upload over the size or pixel limit.
    #[error("{0}")]
    TooLarge(String),
    /// An upload that is not an image Pixzoo reads.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the generation did not finish within {}s", .0.as_secs())]
    Deadline(Duration),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Setup(String),
    #[error("the server is busy transforming other images; try again shortly")]
    Busy,
    /// A new generation this request may not start (no valid signature, for example).
    #[error("{0}")]
    Forbidden(String),
    /// The image was deleted while this request was being answered.
    #[error("{0}")]
    Gone(String),
    /// Too many new generations: from this client, or from this provider today.
    #[error("{message}")]
    Limited {
        message: String,
        retry_after: Duration,
    },
    /// Another instance did this work for this request, and it failed there.
    #[error("{}", .0.message)]
    Elsewhere(Failure),
}

impl EngineError {
    /// This failure as the waiters on other instances are told it. Faults inside the server stay
    /// here: they hear only that it failed.
    pub fn as_failure(&self) -> Failure {
        let kind = match self {
            EngineError::UnknownModel(_)
            | EngineError::EmptyPrompt
            | EngineError::BadRequest(_)
            | EngineError::Incapable(_)
            | EngineError::TooLarge(_)
            | EngineError::Unsupported(_) => FailureKind::BadRequest,
            EngineError::Forbidden(_) | EngineError::Gone(_) => FailureKind::Refused,
            EngineError::Limited { retry_after, .. } => {
                FailureKind::Limited(retry_after.as_secs().max(1))
            }
            EngineError::Provider(
                ProviderError::RateLimited { retry_after, .. }
                | ProviderError::QuotaExhausted { retry_after, .. },
            ) => FailureKind::Limited(retry_after.map_or(60, |d| d.as_secs().max(1))),
            EngineError::Provider(ProviderError::BadRequest { .. }) => FailureKind::BadRequest,
            EngineError::Provider(ProviderError::Timeout { .. }) | EngineError::Deadline(_) => {
                FailureKind::Timeout
            }
            EngineError::Provider(_) => FailureKind::Upstream,
            EngineError::Busy => FailureKind::Busy,
            EngineError::Elsewhere(failure) => return failure.clone(),
            EngineError::Catalog(_)
            | EngineError::Blob(_)
            | EngineError::Internal(_)
            | EngineError::Setup(_) => FailureKind::Internal,
        };
        let message = if kind == FailureKind::Internal {
            "the work failed on another instance".to_owned()
        } else {
            // A notification's payload is limited to 8000 bytes.
            self.to_string().chars().take(1000).collect()
        };
        Failure { kind, message }
    }
}

impl EngineError {
    /// What an [`Admission`] says "no" with: a refusal of one request's ticket, not of the work.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            EngineError::Forbidden(_) | EngineError::Limited { .. }
        )
    }
}

impl From<CpuError> for EngineError {
    fn from(err: CpuError) -> Self {
        match err {
            CpuError::Busy => EngineError::Busy,
            CpuError::Failed(message) => EngineError::Internal(message),
        }
    }
}

/// Asked once before a request starts a NEW generation (a provider call). Stored images and requests
/// that join a generation already running never ask, so they cost nothing against limits and budgets.
/// The HTTP edge's implementation (`server::guard`) checks signatures, rate limits and budgets.
#[async_trait::async_trait]
pub trait Admission: Send + Sync + 'static {
    async fn admit(&self, model: &ModelConfig) -> Result<(), EngineError>;

    /// Asked before a request makes a NEW derivative (a transform nobody has asked for yet). Stored
    /// derivatives and transforms already being made for someone else never ask.
    async fn admit_derivative(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Asked before an upload that is not stored yet is decoded and stored.
    async fn admit_upload(&self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Admits everything: for tools and tests that run the engine directly.
pub struct Open;

#[async_trait::async_trait]
impl Admission for Open {
    async fn admit(&self, _model: &ModelConfig) -> Result<(), EngineError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub record: ImageRecord,
    /// The original, when this request has it in hand (it was just made or uploaded). A stored
    /// image's is not read until something needs it ([`Engine::original_of`]): a placeholder URL
    /// asked for again is answered from its stored derivative.
    pub bytes: Option<Bytes>,
    pub cache: CacheStatus,
}

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
    pub derivative_limits: derive::Limits,
    /// `[limits]` on uploads.
    pub upload_limits: upload::Limits,
    pub models: ModelCatalog,
    pub providers: Providers,
    pub prompts: PromptPipeline,
    pub cpu: Arc<CpuPool>,
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
    derivative_limits: derive::Limits,
    upload_limits: upload::Limits,
    flights: Flights<Generated>,
    derivatives: Flights<derive::Derived>,
    cpu: Arc<CpuPool>,
    memory: MemoryCache,
    derivative_budget: derive::Budget,
    /// Claims on work shared with other instances, and their news of deletes.
    coordination: Arc<dyn Coordination>,
}

impl Inner {
    /// What memory keeps of an image that was deleted or replaced.
    fn forget(&self, news: &ImageNews) {
        match news {
            ImageNews::Deleted(id) => self.memory.forget_image(id),
            ImageNews::Replaced(id) => self.memory.forget_placeholders(id),
        }
    }

    /// Tells this instance's memory and every other's.
    async fn announce(&self, news: ImageNews) {
        self.forget(&news);
        self.coordination.announce(&news).await;
    }

    /// Image `id`'s row: from memory when it was read lately (rows of deleted images are dropped
    /// there), else from the catalog.
    async fn record_by_id(&self, id: &str) -> Result<Option<ImageRecord>, EngineError> {
        if let Some(kept) = self.memory.record(id) {
            return Ok(Some((*kept).clone()));
        }
        let record = self.catalog.by_id(id).await?;
        if let Some(record) = &record {
            self.memory.keep_record(record);
        }
        Ok(record)
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
                flights: Flights::new("image"),
                derivatives: Flights::new("derivative"),
                cpu: parts.cpu,
                memory: parts.memory,
                derivative_budget: derive::Budget::new(parts.derivatives_max_bytes),
                coordination: parts.storage.coordination,
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

    /// The intake: what a face asked for, with the model's rules applied, or the problem with it.
    pub fn plan(&self, request: GenerateRequest) -> Result<Plan, EngineError> {
        Plan::new(&self.inner.models, request)
    }

    /// Serves a stored image for this plan, or generates, stores and records a new one if `admission`
    /// allows.
    pub async fn generate(
        &self,
        plan: Plan,
        admission: Arc<dyn Admission>,
    ) -> Result<Generated, Arc<EngineError>> {
        self.submit(plan, admission).result.await
    }

    /// Starts (or joins) the job for this plan; its progress can be followed while it runs. Only the
    /// request that starts the job is asked for admission. A request that joined a job whose starter
    /// was refused (no signature, or that client's limit) is not refused with it: it tries again with
    /// its own ticket, starting the job or joining whoever did.
    pub fn submit(&self, plan: Plan, admission: Arc<dyn Admission>) -> Job<Generated> {
        let job = self.start_or_join(plan.clone(), admission.clone());
        if job.joined {
            self.follow_as_joiner(job, plan, admission)
        } else {
            job
        }
    }

    /// Follows a joined job on this caller's behalf: its progress is relayed, and if it ends in
    /// someone else's refusal the caller's own ticket is tried, a few times at most (each time the
    /// work may have been started by yet another refused request).
    fn follow_as_joiner(
        &self,
        first: Job<Generated>,
        plan: Plan,
        admission: Arc<dyn Admission>,
    ) -> Job<Generated> {
        use futures::FutureExt;
        use std::ops::ControlFlow;
        const MAX_REJOINS: u32 = 3;
        let (relay, progress) = tokio::sync::broadcast::channel(64);
        let engine = self.clone();
        let task = tokio::spawn(async move {
            let mut job = first;
            let mut rejoins = 0;
            loop {
                let followed = job
                    .follow(|step| {
                        let _ = relay.send(step);
                        std::future::ready(ControlFlow::Continue(()))
                    })
                    .await;
                let end = match followed {
                    ControlFlow::Continue(end) => end,
                    ControlFlow::Break(()) => None,
                };
                let result = job.result.clone().await;
                match &result {
                    Err(err) if err.is_refusal() && job.joined && rejoins < MAX_REJOINS => {
                        rejoins += 1;
                        job = engine.start_or_join(plan.clone(), admission.clone());
                    }
                    _ => {
                        if let Some(end) = end {
                            let _ = relay.send(end);
                        }
                        return result;
                    }
                }
            }
        });
        let result = async move {
            task.await.unwrap_or_else(|err| {
                Err(Arc::new(EngineError::Internal(format!(
                    "following a generation failed: {err}"
                ))))
            })
        }
        .boxed()
        .shared();
        Job {
            result,
            progress,
            joined: true,
        }
    }

    fn start_or_join(&self, plan: Plan, admission: Arc<dyn Admission>) -> Job<Generated> {
        let inner = self.inner.clone();
        self.inner
            .flights
            .join_or_start(plan.request_key(), move |progress| async move {
                let deadline = inner.deadline;
                let ends = tokio::time::Instant::now() + deadline;
                let job = Run {
                    plan: &plan,
                    admission: admission.as_ref(),
                    progress: Reporter(&progress),
                    ends,
                };
                let run = inner.run(&job);
                let result = match tokio::time::timeout(deadline, run).await {
                    Ok(result) => result,
                    Err(_) => Err(EngineError::Deadline(deadline)),
                };
                let _ = progress.send(match &result {
                    Ok(generated) => Progress::Done {
                        id: generated.record.id.clone(),
                    },
                    Err(err) => Progress::Error {
                        message: err.to_string(),
                    },
                });
                result.map_err(Arc::new)
            })
    }

    /// A stored image's record, without reading its bytes.
    pub async fn record(&self, id: &str) -> Result<Option<ImageRecord>, EngineError> {
        self.inner.record_by_id(id).await
    }

    /// A stored original and its bytes.
    pub async fn original(&self, id: &str) -> Result<Option<(ImageRecord, Bytes)>, EngineError> {
        let Some(record) = self.inner.record_by_id(id).await? else {
            return Ok(None);
        };
        let bytes = self.original_bytes(&record).await?;
        Ok(Some((record, bytes)))
    }

    /// The bytes of the original `record` describes, checked against it.
    pub async fn original_bytes(&self, record: &ImageRecord) -> Result<Bytes, EngineError> {
        self.inner.original_bytes(record).await
    }

    /// A generation's original: the bytes in hand, else read and checked against its row.
    pub async fn original_of(&self, generated: &Generated) -> Result<Bytes, EngineError> {
        match &generated.bytes {
            Some(bytes) => Ok(bytes.clone()),
            None => self.inner.original_bytes(&generated.record).await,
        }
    }

    /// A filtered page of the catalog, newest first.
    pub async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.page(query).await?)
    }

    /// The newest `limit` images edited from image `id`.
    pub async fn edits_of(&self, id: &str, limit: u32) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.edits_of(id, limit).await?)
    }

    /// Deletes an image: its row and derivatives' rows first, then the blobs nothing else needs.
    /// Returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, EngineError> {
        let Some(orphans) = self.inner.catalog.delete(id).await? else {
            return Ok(false);
        };
        self.inner.announce(ImageNews::Deleted(id.to_owned())).await;
        for orphan in orphans {
            // The row is gone, so the image is gone; a blob left behind is only wasted space.
            if let Err(err) = self.inner.remove_orphan(&orphan).await {
                tracing::warn!(key = %orphan.blob_key(), error = %err, "could not remove a deleted image's blob");
            }
        }
        Ok(true)
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

impl Inner {
    /// A stored image's original, checked against its row. A missing (or torn) blob is an internal
    /// fault, unless the image was deleted since its row was read: then the request simply came too
    /// late.
    async fn original_bytes(&self, record: &ImageRecord) -> Result<Bytes, EngineError> {
        let key = record.blob_key();
        let read = self
            .blobs
            .get_verified(&key, Some(&record.content_hash), record.bytes)
            .await;
        match read {
            Ok(bytes) => Ok(bytes),
            Err(err) => match self.catalog.by_id(&record.id).await? {
                None => Err(EngineError::Gone(format!(
                    "image {} was deleted",
                    record.id
                ))),
                Some(_) => {
                    tracing::error!(id = %record.id, error = %err, "a stored image's blob is missing or torn; not serving it");
                    Err(err.into())
                }
            },
        }
    }

    /// Removes a blob a delete orphaned. Blobs are content-addressed, so an identical image (or
    /// derivative) may be recorded between the delete's commit and the unlink; the bytes are kept in
    /// hand and put back if a row needs them once the blob is gone. Together with
    /// [`Inner::ensure_blob`] after every insert, neither order of the two leaves a row without its
    /// blob.
    async fn remove_orphan(&self, orphan: &Orphan) -> Result<(), EngineError> {
        let key = orphan.blob_key();
        let bytes = match self.blobs.get(&key).await {
            Ok(bytes) => bytes,
            Err(BlobError::NotFound(_)) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        self.blobs.delete(&key).await?;
        let needed = match orphan {
            Orphan::Original { content_hash, .. } => {
                self.catalog.content_in_use(content_hash).await?
            }
            Orphan::Derivative { key, .. } => self.catalog.derivative(key).await?.is_some(),
        };
        if needed {
            tracing::info!(key = %key, "a blob deleted with one image is needed by another; put back");
            self.blobs.put(&key, bytes).await?;
        }
        Ok(())
    }

    /// After a row is inserted: its blob is there, or is put again (a delete of an identical image
    /// may have removed it between this request's put and its insert).
    async fn ensure_blob(&self, key: &str, bytes: &Bytes) -> Result<(), EngineError> {
        if !self.blobs.exists(key).await? {
            tracing::info!(key = %key, "a blob was removed by a delete while its row was recorded; put back");
            self.blobs.put(key, bytes.clone()).await?;
        }
        Ok(())
    }
}
