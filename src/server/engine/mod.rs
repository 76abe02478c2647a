//! The one path every face shares: resolve the model, look the request up in the catalog, otherwise
//! generate with the model's provider, store the blob, then record it.

pub mod keys;
pub mod models;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::server::config::Config;
use crate::server::providers::{self, ProviderError, ProviderRequest, Providers};
use crate::server::storage::{BlobError, BlobStore, Catalog, CatalogError, ImageRecord};
use crate::urls::placeholder::Size;
use models::{ModelCatalog, UnknownModel};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    UnknownModel(#[from] UnknownModel),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blob(#[from] BlobError),
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
    pub size: Size,
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

pub struct Engine {
    catalog: Catalog,
    blobs: BlobStore,
    models: ModelCatalog,
    providers: Providers,
}

impl Engine {
    /// Opens the storage under the configured data directory and sets up the enabled providers.
    pub async fn open(config: &Config) -> Result<Self, EngineError> {
        std::fs::create_dir_all(&config.storage.data_dir).map_err(|source| {
            BlobError::CreateDir {
                path: config.storage.data_dir.display().to_string(),
                source,
            }
        })?;
        let catalog = Catalog::open(&config.storage.catalog_path()).await?;
        let blobs = BlobStore::local(&config.storage.blob_dir())?;
        let providers = providers::from_config(config);
        let models = ModelCatalog::new(&config.catalog, |p| providers.contains_key(p));
        Ok(Self {
            catalog,
            blobs,
            models,
            providers,
        })
    }

    pub fn models(&self) -> &ModelCatalog {
        &self.models
    }

    /// Serves a stored image for this request, or generates, stores and records a new one.
    pub async fn generate(&self, request: GenerateRequest) -> Result<Generated, EngineError> {
        let model = self.models.resolve(request.model.as_deref())?;
        let seed = request
            .seed
            .unwrap_or_else(|| keys::seed_for(&request.prompt));
        let gen_key = keys::generation_key(&keys::KeyParts {
            model: &model.id,
            prompt: &request.prompt,
            negative_prompt: request.negative_prompt.as_deref(),
            seed,
            steps: request.steps,
            size: request.size,
        });
        if let Some(record) = self.catalog.by_gen_key(&gen_key).await? {
            let bytes = self.blobs.get(&record.blob_key()).await?;
            return Ok(Generated {
                record,
                bytes,
                cache: CacheStatus::Hit,
            });
        }

        let provider = self
            .providers
            .get(model.provider.as_str())
            .ok_or_else(|| UnknownModel::new(&model.id, &self.models))?;
        let started = Instant::now();
        let image = provider
            .generate(ProviderRequest {
                upstream_model: model.upstream.clone(),
                prompt: request.prompt.clone(),
                negative_prompt: request.negative_prompt.clone(),
                seed,
                steps: request.steps,
                width: request.size.width,
                height: request.size.height,
            })
            .await?;
        let record = ImageRecord {
            id: uuid::Uuid::now_v7().simple().to_string(),
            gen_key,
            final_prompt: request.prompt.clone(),
            prompt: request.prompt,
            negative_prompt: request.negative_prompt,
            model: model.id.clone(),
            provider: model.provider.clone(),
            seed,
            steps: request.steps,
            width: image.width,
            height: image.height,
            format: image.format,
            bytes: image.bytes.len() as u64,
            content_hash: hex::encode(Sha256::digest(&image.bytes)),
            created_at: now_millis(),
        };
        // Blob first, row second: a crash in between leaves an unreferenced blob, never a dangling row.
        self.blobs
            .put(&record.blob_key(), image.bytes.clone())
            .await?;
        let stored = self.catalog.insert(&record).await?;
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
            // A concurrent request for the same key recorded its image first; serve that one.
            self.blobs.get(&stored.blob_key()).await?
        };
        Ok(Generated {
            record: stored,
            bytes,
            cache: CacheStatus::Miss,
        })
    }

    /// A stored original and its bytes.
    pub async fn original(&self, id: &str) -> Result<Option<(ImageRecord, Bytes)>, EngineError> {
        let Some(record) = self.catalog.by_id(id).await? else {
            return Ok(None);
        };
        let bytes = self.blobs.get(&record.blob_key()).await?;
        Ok(Some((record, bytes)))
    }

    /// The newest images first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.catalog.recent(limit).await?)
    }

    pub async fn health(&self) -> Health {
        Health {
            catalog: self.catalog.ping().await,
            blobs: self.blobs.check().await,
        }
    }

    /// Closes the catalog cleanly; called once the server has stopped taking requests.
    pub async fn close(&self) {
        self.catalog.close().await;
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
