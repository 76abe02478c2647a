//! Image providers: one module each, all behind [`ImageProvider`]. A provider knows its upstream's wire
//! format and nothing about HTTP handlers, the catalog or caching.

pub mod builtin;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::api::format::ImageFormat;
use crate::server::config::Config;

/// What a provider is asked to make. The size is what the provider should generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    /// The provider's own model name (`upstream` in the catalog).
    pub upstream_model: String,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub seed: u32,
    pub steps: Option<u32>,
    pub width: u32,
    pub height: u32,
}

/// An encoded image as a provider returned it.
#[derive(Debug, Clone)]
pub struct ProviderImage {
    pub bytes: Bytes,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider} does not know model `{model}`")]
    UnknownModel {
        provider: &'static str,
        model: String,
    },
    #[error("{provider} failed: {message}")]
    Failed {
        provider: &'static str,
        message: String,
    },
}

#[async_trait::async_trait]
pub trait ImageProvider: Send + Sync {
    /// The name models refer to in `catalog.models.provider`.
    fn name(&self) -> &'static str;

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError>;
}

/// The enabled providers by name.
pub type Providers = HashMap<&'static str, Arc<dyn ImageProvider>>;

pub fn from_config(config: &Config) -> Providers {
    let mut providers: Providers = HashMap::new();
    if config.providers.builtin.enabled {
        let builtin: Arc<dyn ImageProvider> = Arc::new(builtin::Builtin::default());
        providers.insert(builtin.name(), builtin);
    }
    providers
}
