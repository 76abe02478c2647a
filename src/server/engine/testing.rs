//! One engine for the engine's tests, wired as `server::build` wires the server's but in a directory
//! the test owns: a SQLite catalog and a local blob store there, the configured default providers
//! (the builtin renderer), no memory cache, no byte budget, the default limits, one CPU worker.
//! What a test needs otherwise it says, builder-style:
//! `testing::engine(dir.path()).max_output_pixels(10_000).build().await`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::models::ModelCatalog;
use super::{Engine, Parts};
use crate::server::config::Config;
use crate::server::cpu::CpuPool;
use crate::server::memory::MemoryCache;
use crate::server::prompt::PromptPipeline;
use crate::server::providers;
use crate::server::storage::BlobStore;

/// An engine to build in `dir` (which must outlive it).
pub(crate) fn engine(dir: &Path) -> TestEngine {
    TestEngine {
        dir: dir.to_owned(),
        max_output_pixels: None,
        blobs: None,
    }
}

/// What [`engine`] builds, and how it differs from the defaults.
pub(crate) struct TestEngine {
    dir: PathBuf,
    max_output_pixels: Option<u64>,
    blobs: Option<BlobStore>,
}

impl TestEngine {
    /// `engine.max_output_pixels`: the largest image a provider may return (and a derivative's
    /// source may have).
    pub(crate) fn max_output_pixels(mut self, pixels: u64) -> Self {
        self.max_output_pixels = Some(pixels);
        self
    }

    /// Blobs kept in this store instead of the local one in the directory (the catalog stays there).
    pub(crate) fn blobs(mut self, blobs: BlobStore) -> Self {
        self.blobs = Some(blobs);
        self
    }

    pub(crate) async fn build(self) -> Engine {
        let mut config = Config::default();
        config.storage.data_dir = self.dir;
        if let Some(pixels) = self.max_output_pixels {
            config.engine.max_output_pixels = pixels;
        }
        let mut storage = crate::server::storage::open(&config.storage).await.unwrap();
        if let Some(blobs) = self.blobs {
            storage.blobs = blobs;
        }
        let cpu = Arc::new(CpuPool::new(1, 4));
        let configured = providers::from_config(&config, &cpu);
        let models =
            ModelCatalog::new(&config.catalog, |p| configured.providers.contains_key(p)).unwrap();
        let prompts = PromptPipeline::new(&config, None, None, storage.catalog.clone());
        let parts = Parts {
            storage,
            memory: MemoryCache::new(0),
            derivatives_max_bytes: 0,
            derivative_limits: Default::default(),
            upload_limits: Default::default(),
            prompt_limits: Default::default(),
            models,
            providers: configured.providers,
            prompts,
            cpu,
            purger: Default::default(),
        };
        Engine::new(parts, &config.engine)
    }
}
