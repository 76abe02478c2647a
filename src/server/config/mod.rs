//! Runtime configuration: embedded defaults, then `Leptos.toml` (or `--config PATH`), then environment.
//! This file is [`Config`], its sections, and the order they are checked in; each section, with its
//! defaults and its checks, is in a file of its own, loading in `load.rs`, the environment's names in
//! `env.rs`.
//!
//! Every key and its default is documented in the repository's `Leptos.toml`; a test keeps the two equal.

use serde::{Deserialize, Serialize};

mod auth;
mod catalog;
mod check;
mod engine;
mod env;
mod error;
mod limits;
mod load;
mod presets;
mod prompt;
mod providers;
mod purge;
mod security;
mod server;
mod storage;

pub use auth::AuthConfig;
pub use catalog::{
    Capability, CatalogConfig, ModelConfig, ModelFamily, SizeEntry, Sizes, StepsRange,
};
pub use engine::EngineConfig;
pub use error::ConfigError;
pub use limits::LimitsConfig;
pub use load::DEFAULT_CONFIG_FILE;
pub use presets::PresetsConfig;
pub use prompt::{
    CloudflarePromptConfig, LlmConfig, PipelineChoice, PromptConfig, ReplicatePromptConfig,
};
pub use providers::{
    A1111Config, BuiltinConfig, CloudflareAccount, CloudflareConfig, LocalConfig, OpenAiConfig,
    ProviderKind, ProviderSettings, ProvidersConfig, ReplicateConfig,
};
pub use purge::{CloudflarePurgeConfig, PurgeBy, PurgeConfig, WebhookConfig};
pub use security::{DerivativeMode, SecurityConfig};
pub use server::ServerConfig;
pub use storage::{BlobLocation, CatalogLocation, StorageConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub providers: ProvidersConfig,
    pub catalog: CatalogConfig,
    pub prompt: PromptConfig,
    pub engine: EngineConfig,
    pub auth: AuthConfig,
    pub security: SecurityConfig,
    /// Named option strings for `/img/{id}/preset=NAME` (`server::presets`).
    pub presets: PresetsConfig,
    /// Telling a CDN that an image was deleted or replaced (`server::purge`).
    pub purge: PurgeConfig,
}

impl Config {
    /// Each section checks itself; the first refusal is reported, naming its key. (`[auth]` has nothing
    /// to check.)
    fn validate(&self) -> Result<(), ConfigError> {
        self.limits.validate()?;
        self.presets.validate()?;
        self.storage.validate()?;
        self.server.validate()?;
        self.providers.validate()?;
        self.prompt.validate()?;
        self.engine.validate()?;
        self.security.validate()?;
        self.purge.validate(&self.server.public_url)?;
        self.auth.validate()?;
        self.catalog.validate()
    }
}
