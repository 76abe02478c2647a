//! Image providers: one module each, all behind [`ImageProvider`]. A provider knows its upstream's wire
//! format and nothing about HTTP handlers, the catalog or caching. It returns encoded bytes; the engine
//! checks them (format, dimensions, decodability) before anything is stored.

pub mod a1111;
pub mod builtin;
pub mod cloudflare;
pub(crate) mod http;
pub mod local;
pub mod openai;
mod provider;
pub mod replicate;

pub use provider::{
    EditInput, ImageProvider, ProviderError, ProviderImage, ProviderRequest, StepReport,
};

use std::collections::HashMap;
use std::sync::Arc;

use crate::server::config::{Config, ModelConfig};
use crate::server::cpu::CpuPool;

/// The configured providers by name.
pub type Providers = HashMap<&'static str, Arc<dyn ImageProvider>>;

/// The usable providers, and the Cloudflare and Replicate clients again for the prompt pipeline (which
/// shares their accounts and token).
pub struct Configured {
    pub providers: Providers,
    pub cloudflare: Option<Arc<cloudflare::Cloudflare>>,
    pub replicate: Option<Arc<replicate::Replicate>>,
    /// The catalog entries of the local models found on disk.
    pub local_models: Vec<ModelConfig>,
}

/// The providers whose configuration makes them usable (a key, an account, or a base URL). The builtin
/// renderer and the OpenAI mask conversion run on `cpu`.
pub fn from_config(config: &Config, cpu: &Arc<CpuPool>) -> Configured {
    let p = &config.providers;
    let mut providers: Vec<Arc<dyn ImageProvider>> = Vec::new();
    let mut cf = None;
    let mut rep = None;
    if p.builtin.enabled {
        providers.push(Arc::new(builtin::Builtin::new(cpu.clone())));
    }
    if !p.replicate.api_token.is_empty() {
        let client = Arc::new(replicate::Replicate::new(&p.replicate));
        rep = Some(client.clone());
        providers.push(client);
    }
    match p.cloudflare.account_list() {
        Ok(accounts) if !accounts.is_empty() => {
            let client = Arc::new(cloudflare::Cloudflare::new(&p.cloudflare, accounts));
            cf = Some(client.clone());
            providers.push(client);
        }
        _ => {}
    }
    if p.openai.is_configured() {
        providers.push(Arc::new(openai::OpenAi::new(&p.openai, cpu.clone())));
    }
    if !p.a1111.base_url.is_empty() {
        providers.push(Arc::new(a1111::A1111::new(&p.a1111)));
    }
    let mut local_models = Vec::new();
    if p.local.enabled {
        let dir = p.local.models_dir(&config.storage.data_dir);
        let found = local::models::discover(&dir);
        if !found.is_empty() {
            local_models = found
                .iter()
                .map(local::models::LocalModel::catalog_entry)
                .collect();
            providers.push(Arc::new(local::Local::new(&p.local, &dir, found)));
        }
    }
    Configured {
        providers: providers.into_iter().map(|p| (p.name(), p)).collect(),
        cloudflare: cf,
        replicate: rep,
        local_models,
    }
}
