//! The one path every face shares: resolve the model, run the prompt pipeline, look the generation key
//! up in the catalog, otherwise generate with the model's provider (retrying what is worth retrying, within
//! a deadline), check the output, store the blob, then record it. Identical concurrent requests share one
//! job (`flight.rs`).

pub mod derive;
mod flight;
pub mod keys;
pub mod models;
pub mod progress;
mod retry;
pub mod sizes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::server::config::{Config, ModelConfig};
use crate::server::prompt::{PromptOutcome, PromptPipeline};
use crate::server::providers::{self, ImageProvider, ProviderError, ProviderRequest, Providers};
use crate::server::storage::{BlobError, BlobStore, Catalog, CatalogError, ImageRecord, PageQuery};
use crate::server::transform::inspect::{decode, inspect, InspectError};
use crate::urls::placeholder::Size;
use flight::Flights;
pub use flight::Job;
use models::{ModelCatalog, UnknownModel};
use progress::Progress;
use retry::RetryPolicy;
use sizes::generation_size;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    UnknownModel(#[from] UnknownModel),
    #[error("{0}")]
    BadRequest(String),
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
}

/// Asked once before a request starts a NEW generation (a provider call). Stored images and requests
/// that join a generation already running never ask, so they cost nothing against limits and budgets.
/// The HTTP edge's implementation (`server::guard`) checks signatures, rate limits and budgets.
#[async_trait::async_trait]
pub trait Admission: Send + Sync + 'static {
    async fn admit(&self, model: &ModelConfig) -> Result<(), EngineError>;
}

/// Admits everything: for tools and tests that run the engine directly.
pub struct Open;

#[async_trait::async_trait]
impl Admission for Open {
    async fn admit(&self, _model: &ModelConfig) -> Result<(), EngineError> {
        Ok(())
    }
}

/// What a client asked for, before defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    /// A catalog id; `None` means the default model.
    pub model: Option<String>,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    /// `None` derives the seed from the prompt, so the same prompt gives the same image.
    pub seed: Option<u32>,
    pub steps: Option<u32>,
    /// The size the client wants; the model generates the nearest size it supports.
    pub size: Size,
    /// Run the prompt pipeline (translate and optimise).
    pub translate: bool,
    /// Make the image again even if one is stored for this request; the new one takes its place for
    /// this request (the old one stays reachable by id).
    pub redo: bool,
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
    /// The stored original.
    pub bytes: Bytes,
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

/// Cheap to clone: jobs run on their own tasks with a handle to the same parts.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    blobs: BlobStore,
    models: ModelCatalog,
    providers: Providers,
    prompts: PromptPipeline,
    retry: RetryPolicy,
    deadline: Duration,
    max_output_pixels: u64,
    flights: Flights<Generated>,
    derivatives: Flights<derive::Derived>,
    cpu: derive::CpuPool,
}

impl Engine {
    /// Opens the storage under the configured data directory and sets up the configured providers.
    pub async fn open(config: &Config) -> Result<Self, EngineError> {
        std::fs::create_dir_all(&config.storage.data_dir).map_err(|source| {
            BlobError::CreateDir {
                path: config.storage.data_dir.display().to_string(),
                source,
            }
        })?;
        let catalog = Catalog::open(&config.storage.catalog_path()).await?;
        let blobs = BlobStore::local(&config.storage.blob_dir())?;
        let configured = providers::from_config(config);
        let providers = configured.providers;
        let models = ModelCatalog::new(&config.catalog, |p| providers.contains_key(p))
            .map_err(EngineError::Setup)?;
        let prompts = PromptPipeline::new(
            config,
            configured.cloudflare,
            configured.replicate,
            catalog.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                catalog,
                blobs,
                models,
                providers,
                prompts,
                retry: RetryPolicy::from_config(&config.engine),
                deadline: Duration::from_secs(config.engine.deadline_secs),
                max_output_pixels: config.engine.max_output_pixels,
                flights: Flights::new("image"),
                derivatives: Flights::new("derivative"),
                cpu: derive::CpuPool::new(
                    config.engine.transform_workers,
                    config.engine.transform_queue,
                ),
            }),
        })
    }

    /// The catalog, for what lives beside the images (the studio's sign-ins).
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn models(&self) -> &ModelCatalog {
        &self.inner.models
    }

    /// The prompt pipeline in use (`openai`, `cloudflare`, `builtin` or `off`).
    pub fn prompt_pipeline(&self) -> &'static str {
        self.inner.prompts.name()
    }

    /// Jobs running now.
    pub fn in_flight(&self) -> usize {
        self.inner.flights.in_flight()
    }

    /// Serves a stored image for this request, or generates, stores and records a new one if
    /// `admission` allows.
    pub async fn generate(
        &self,
        request: GenerateRequest,
        admission: Arc<dyn Admission>,
    ) -> Result<Generated, Arc<EngineError>> {
        self.submit(request, admission)?.result.await
    }

    /// Starts (or joins) the job for this request; its progress can be followed while it runs. Only the
    /// request that starts the job is asked for admission.
    pub fn submit(
        &self,
        request: GenerateRequest,
        admission: Arc<dyn Admission>,
    ) -> Result<Job<Generated>, Arc<EngineError>> {
        let model = self
            .inner
            .models
            .resolve(request.model.as_deref())
            .map_err(|e| Arc::new(e.into()))?;
        let plan = Plan::new(model, request).map_err(Arc::new)?;
        let inner = self.inner.clone();
        Ok(self
            .inner
            .flights
            .join_or_start(plan.request_key(), move |progress| async move {
                let deadline = inner.deadline;
                let ends = tokio::time::Instant::now() + deadline;
                let run = inner.run(&plan, admission.as_ref(), &progress, ends);
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
            }))
    }

    /// A stored image's record, without reading its bytes.
    pub async fn record(&self, id: &str) -> Result<Option<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.by_id(id).await?)
    }

    /// A stored original and its bytes.
    pub async fn original(&self, id: &str) -> Result<Option<(ImageRecord, Bytes)>, EngineError> {
        let Some(record) = self.inner.catalog.by_id(id).await? else {
            return Ok(None);
        };
        let bytes = self.inner.original_bytes(&record).await?;
        Ok(Some((record, bytes)))
    }

    /// A filtered page of the catalog, newest first.
    pub async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.page(query).await?)
    }

    /// Deletes an image: its row and derivatives' rows first, then the blobs nothing else needs.
    /// Returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, EngineError> {
        let Some(orphans) = self.inner.catalog.delete(id).await? else {
            return Ok(false);
        };
        for key in orphans {
            // The row is gone, so the image is gone; a blob left behind is only wasted space.
            if let Err(err) = self.inner.blobs.delete(&key).await {
                tracing::warn!(key = %key, error = %err, "could not remove a deleted image's blob");
            }
        }
        Ok(true)
    }

    /// The newest images first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.recent(limit).await?)
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

/// Asks the request's admission, counting refusals by reason.
async fn admit(admission: &dyn Admission, model: &ModelConfig) -> Result<(), EngineError> {
    let refused = match admission.admit(model).await {
        Ok(()) => return Ok(()),
        Err(refused) => refused,
    };
    let reason = match &refused {
        EngineError::Forbidden(_) => "signature",
        EngineError::Limited { .. } => "generation_limit",
        _ => "other",
    };
    metrics::counter!("pixzoo_refusals_total", "reason" => reason).increment(1);
    Err(refused)
}

/// A request with the model's rules applied: what will be asked of the provider, minus the final prompt.
struct Plan {
    model: ModelConfig,
    request: GenerateRequest,
    seed: u32,
    steps: Option<u32>,
    negative_prompt: Option<String>,
}

impl Plan {
    fn new(model: &ModelConfig, request: GenerateRequest) -> Result<Self, EngineError> {
        let steps = match (model.steps, request.steps) {
            (Some(range), Some(steps)) if !(range.min..=range.max).contains(&steps) => {
                return Err(EngineError::BadRequest(format!(
                    "steps {steps} is out of range for model `{}`: {}..={}",
                    model.id, range.min, range.max
                )))
            }
            (Some(range), steps) => Some(steps.unwrap_or(range.default)),
            (None, _) => None,
        };
        // Inputs a model ignores must not split its cache.
        let seed = if model.seed {
            request
                .seed
                .unwrap_or_else(|| keys::seed_for(&request.prompt))
        } else {
            0
        };
        let negative_prompt = request
            .negative_prompt
            .clone()
            .filter(|n| model.negative_prompt && !n.trim().is_empty());
        Ok(Self {
            model: model.clone(),
            request,
            seed,
            steps,
            negative_prompt,
        })
    }

    /// What makes two requests identical before the prompt pipeline runs.
    fn request_key(&self) -> String {
        let mut key = keys::generation_key(&keys::KeyParts {
            model: &self.model.id,
            prompt: &self.request.prompt,
            negative_prompt: self.negative_prompt.as_deref(),
            seed: self.seed,
            steps: self.steps,
            size: self.request.size,
        });
        key.push(if self.request.translate { 't' } else { 'r' });
        if self.request.redo {
            key.push('!');
        }
        key
    }
}

impl Inner {
    /// A stored image's original. A missing blob is an internal fault, unless the image was deleted
    /// since its row was read: then the request simply came too late.
    async fn original_bytes(&self, record: &ImageRecord) -> Result<Bytes, EngineError> {
        match self.blobs.get(&record.blob_key()).await {
            Ok(bytes) => Ok(bytes),
            Err(err) => match self.catalog.by_id(&record.id).await? {
                None => Err(EngineError::Gone(format!(
                    "image {} was deleted",
                    record.id
                ))),
                Some(_) => Err(err.into()),
            },
        }
    }

    async fn run(
        &self,
        plan: &Plan,
        admission: &dyn Admission,
        progress: &broadcast::Sender<Progress>,
        ends: tokio::time::Instant,
    ) -> Result<Generated, EngineError> {
        let _ = progress.send(Progress::Queued);
        // An LLM call costs money too, so a prompt not translated before is admitted before it is sent.
        // Such a request cannot be for a stored image: every stored image's translation is cached.
        let mut admitted = false;
        if self
            .prompts
            .needs_llm(
                &plan.request.prompt,
                plan.model.family,
                plan.request.translate,
            )
            .await
        {
            admit(admission, &plan.model).await?;
            admitted = true;
        }
        let _ = progress.send(Progress::Translating);
        let prompt: PromptOutcome = self
            .prompts
            .run(
                &plan.request.prompt,
                plan.model.family,
                plan.request.translate,
            )
            .await;
        let _ = progress.send(Progress::Translated {
            final_prompt: prompt.final_prompt.clone(),
            translation: prompt.translation,
            note: prompt.note.clone(),
        });

        let target = generation_size(&plan.model.sizes, plan.request.size);
        let gen_key = keys::generation_key(&keys::KeyParts {
            model: &plan.model.id,
            prompt: &prompt.final_prompt,
            negative_prompt: plan.negative_prompt.as_deref(),
            seed: plan.seed,
            steps: plan.steps,
            size: target.size,
        });
        if !plan.request.redo {
            if let Some(record) = self.catalog.by_gen_key(&gen_key).await? {
                metrics::counter!("pixzoo_cache_total", "kind" => "image", "result" => "hit")
                    .increment(1);
                let bytes = self.original_bytes(&record).await?;
                return Ok(Generated {
                    record,
                    bytes,
                    cache: CacheStatus::Hit,
                });
            }
        }

        let provider = self
            .providers
            .get(plan.model.provider.as_str())
            .ok_or_else(|| UnknownModel::new(&plan.model.id, &self.models))?;
        metrics::counter!("pixzoo_cache_total", "kind" => "image", "result" => "miss").increment(1);
        if !admitted {
            admit(admission, &plan.model).await?;
        }
        let request = ProviderRequest {
            upstream_model: plan.model.upstream.clone(),
            prompt: prompt.final_prompt.clone(),
            negative_prompt: plan.negative_prompt.clone(),
            seed: plan.model.seed.then_some(plan.seed),
            steps: plan.steps,
            width: target.size.width,
            height: target.size.height,
            aspect_ratio: target.ratio.clone(),
        };
        let started = Instant::now();
        let called = self
            .call_with_retries(provider.as_ref(), request, progress, ends)
            .await;
        let outcome = if called.is_ok() { "ok" } else { "error" };
        let labels = [
            ("provider", plan.model.provider.clone()),
            ("outcome", outcome.to_owned()),
        ];
        metrics::counter!("pixzoo_generations_total", &labels).increment(1);
        metrics::histogram!("pixzoo_generation_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        let image = called?;
        let checked = self
            .check_output(provider.as_ref(), image.bytes.clone())
            .await?;

        let _ = progress.send(Progress::Storing);
        let record = ImageRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            gen_key,
            prompt: plan.request.prompt.clone(),
            final_prompt: prompt.final_prompt,
            negative_prompt: plan.negative_prompt.clone(),
            model: plan.model.id.clone(),
            provider: plan.model.provider.clone(),
            seed: image.seed.unwrap_or(plan.seed),
            steps: plan.steps,
            width: checked.width,
            height: checked.height,
            format: checked.format,
            bytes: image.bytes.len() as u64,
            content_hash: hex::encode(Sha256::digest(&image.bytes)),
            created_at: crate::server::now_millis(),
            translation: prompt.translation,
            translation_note: prompt.note,
        };
        // Blob first, row second: a crash in between leaves an unreferenced blob, never a dangling row.
        self.blobs
            .put(&record.blob_key(), image.bytes.clone())
            .await?;
        let stored = if plan.request.redo {
            self.catalog.replace(&record).await?
        } else {
            self.catalog.insert(&record).await?
        };
        tracing::info!(
            id = %stored.id,
            model = %stored.model,
            width = stored.width,
            height = stored.height,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "generated"
        );
        let bytes = if stored.content_hash == record.content_hash {
            image.bytes
        } else {
            // Another request recorded an image under the same key first; serve that one.
            self.blobs.get(&stored.blob_key()).await?
        };
        Ok(Generated {
            record: stored,
            bytes,
            cache: CacheStatus::Miss,
        })
    }

    async fn call_with_retries(
        &self,
        provider: &dyn ImageProvider,
        request: ProviderRequest,
        progress: &broadcast::Sender<Progress>,
        ends: tokio::time::Instant,
    ) -> Result<providers::ProviderImage, EngineError> {
        let mut attempt = 1;
        loop {
            let _ = progress.send(Progress::Generating { attempt });
            match provider.generate(request.clone()).await {
                Ok(image) => return Ok(image),
                Err(err) => match self.retry.next_delay(
                    attempt,
                    &err,
                    ends.saturating_duration_since(tokio::time::Instant::now()),
                ) {
                    Some(wait) => {
                        metrics::counter!("pixzoo_provider_retries_total", "provider" => provider.name())
                            .increment(1);
                        tracing::warn!(provider = provider.name(), attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => return Err(err.into()),
                },
            }
        }
    }

    /// The provider's bytes must be a PNG, JPEG or WebP within the pixel limit, and (unless produced
    /// in-process) decode completely.
    async fn check_output(
        &self,
        provider: &dyn ImageProvider,
        bytes: Bytes,
    ) -> Result<crate::server::transform::inspect::Inspected, EngineError> {
        let name = provider.name();
        let full = !provider.trusted_output();
        let max_pixels = self.max_output_pixels;
        tokio::task::spawn_blocking(move || -> Result<_, InspectError> {
            let inspected = inspect(&bytes, max_pixels)?;
            if full {
                decode(&bytes, inspected)?;
            }
            Ok(inspected)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("image check failed: {e}")))?
        .map_err(|err| {
            ProviderError::InvalidOutput {
                provider: name,
                message: err.to_string(),
            }
            .into()
        })
    }
}
