//! Runtime configuration: embedded defaults, then `Leptos.toml` (or `--config PATH`), then environment.
//!
//! Every key and its default is documented in the repository's `Leptos.toml`; a test keeps the two equal.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::server::secret::Secret;
use crate::urls::placeholder::UrlLimits;

mod catalog;
mod prompt;
mod providers;
mod security;
mod storage;

pub use catalog::{
    Capability, CatalogConfig, ModelConfig, ModelFamily, SizeEntry, Sizes, StepsRange,
};
pub use prompt::{
    CloudflarePromptConfig, EngineConfig, LlmConfig, PipelineChoice, PromptConfig,
    ReplicatePromptConfig,
};
pub use providers::{
    A1111Config, BuiltinConfig, CloudflareAccount, CloudflareConfig, OpenAiConfig, ProviderKind,
    ProvidersConfig, ReplicateConfig,
};
pub use security::{DerivativeMode, SecurityConfig};
pub use storage::{BlobLocation, CatalogLocation, StorageConfig};

/// The file read when no `--config` is given, if it exists in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";

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
}

/// `[presets]`: name to options. The shipped ones stay unless a file redefines them; a file adds its
/// own beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PresetsConfig(pub std::collections::BTreeMap<String, String>);

impl Default for PresetsConfig {
    fn default() -> Self {
        Self(
            [
                ("thumb", "width=256,height=256,fit=cover,format=auto"),
                ("card", "width=800,height=450,fit=cover,format=auto"),
            ]
            .into_iter()
            .map(|(name, options)| (name.to_owned(), options.to_owned()))
            .collect(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// When set, generating through the API and deleting images need `Authorization: Bearer <key>`.
    pub api_key: Secret,
}

/// `IP:port` as is, or `host:port` (`localhost:3000`) resolved to its first address.
fn host_port<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    use std::net::ToSocketAddrs;
    let text = String::deserialize(deserializer)?;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .map_err(|err| format!("`{text}` is not host:port ({err})"))
        .and_then(|mut addrs| {
            addrs
                .next()
                .ok_or_else(|| format!("`{text}` resolves to no address"))
        })
        .map_err(serde::de::Error::custom)
}

/// Like [`host_port`], with an empty value meaning "none".
fn optional_host_port<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    use serde::de::IntoDeserializer;
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(None);
    }
    host_port(text.trim().to_owned().into_deserializer()).map(Some)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port` to listen on; a host name is resolved once, at start-up.
    #[serde(deserialize_with = "host_port")]
    pub addr: SocketAddr,
    /// Where cargo-leptos put the site (`pkg/` with the WASM bundle, CSS, public assets).
    pub site_root: PathBuf,
    /// A `tracing` filter; `RUST_LOG` wins when set.
    pub log: String,
    /// The server's address as clients see it (e.g. `https://images.example.com`), for absolute URLs in
    /// API answers. Empty: taken from each request's `Host` header.
    pub public_url: String,
    /// A second `host:port` that serves only `GET /metrics` (then the main address does not). Empty:
    /// metrics are on the main address.
    #[serde(deserialize_with = "optional_host_port")]
    pub metrics_addr: Option<SocketAddr>,
    /// Open connections at once (keep it below the process's file limit, `ulimit -n`).
    pub max_connections: usize,
    /// Seconds for a request's headers to arrive, counted from when the connection waits for them
    /// (so it bounds an idle kept-alive connection too); then the connection is closed.
    pub header_timeout_secs: u64,
    /// Seconds a connection may stay open moving no byte while no request is being answered.
    pub idle_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: PathBuf::from("target/site"),
            log: "info".into(),
            public_url: String::new(),
            metrics_addr: None,
            max_connections: 4096,
            header_timeout_secs: 30,
            idle_timeout_secs: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_width: u32,
    pub max_height: u32,
    pub max_slug_chars: usize,
    /// How far a new derivative may enlarge its source, per side, unless its URL is signed or the
    /// API key asks; 0 = no limit.
    pub max_upscale: f64,
    /// Largest new derivative, in pixels (the largest generation, 4096², fits).
    pub max_derivative_pixels: u64,
    /// Largest upload (`POST /api/uploads`, an edit's source or mask), in bytes as sent.
    pub max_upload_bytes: usize,
    /// Largest upload in pixels, checked from its header before it is decoded.
    pub max_upload_pixels: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let url = UrlLimits::default();
        Self {
            max_width: url.max_width,
            max_height: url.max_height,
            max_slug_chars: url.max_slug_chars,
            max_upscale: 2.0,
            max_derivative_pixels: 4096 * 4096,
            max_upload_bytes: 20 * 1024 * 1024,
            // A 48-megapixel phone photo fits; decoded, it takes about 200 MB.
            max_upload_pixels: 50_000_000,
        }
    }
}

impl LimitsConfig {
    pub fn url_limits(&self) -> UrlLimits {
        UrlLimits {
            max_width: self.max_width,
            max_height: self.max_height,
            max_slug_chars: self.max_slug_chars,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("{0}")]
    Load(String),
    #[error("`{key}` {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Loads the configuration: defaults, then the file (`explicit` must exist; otherwise `Leptos.toml` in
    /// the working directory if present), then `LEPTOS_SITE_ROOT`, then `PIXZOO_*` variables.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match explicit {
            Some(path) if !path.is_file() => return Err(ConfigError::Missing(path.to_owned())),
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(
                Env::raw()
                    .only(&["LEPTOS_SITE_ROOT"])
                    .map(|_| "server.site_root".into()),
            )
            .merge(seed_env()?)
            .merge(pixzoo_env())
            .extract()
            .map_err(|err| {
                ConfigError::Load(err.into_iter().map(describe).collect::<Vec<_>>().join("; "))
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        const MAX_SIDE: u32 = 16_384;
        let limits = &self.limits;
        if !(limits.max_upscale.is_finite()
            && (limits.max_upscale == 0.0 || limits.max_upscale >= 1.0))
        {
            return invalid(
                "limits.max_upscale",
                format!(
                    "is {}; use 0 (no limit) or a factor of at least 1",
                    limits.max_upscale
                ),
            );
        }
        if limits.max_upload_bytes == 0 {
            return invalid("limits.max_upload_bytes", "must be at least 1".into());
        }
        if limits.max_upload_pixels == 0 {
            return invalid("limits.max_upload_pixels", "must be at least 1".into());
        }
        if limits.max_derivative_pixels == 0 {
            return invalid("limits.max_derivative_pixels", "must be at least 1".into());
        }
        if let Err(err) = crate::server::presets::Presets::new(&self.presets.0) {
            return invalid("presets", err.to_string());
        }
        if !(1..=MAX_SIDE).contains(&limits.max_width) {
            return invalid(
                "limits.max_width",
                format!("must be between 1 and {MAX_SIDE}"),
            );
        }
        if !(1..=MAX_SIDE).contains(&limits.max_height) {
            return invalid(
                "limits.max_height",
                format!("must be between 1 and {MAX_SIDE}"),
            );
        }
        if !(1..=2000).contains(&limits.max_slug_chars) {
            return invalid("limits.max_slug_chars", "must be between 1 and 2000".into());
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return invalid("storage.data_dir", "must not be empty".into());
        }
        if self.storage.claim_expiry_secs == 0 {
            return invalid("storage.claim_expiry_secs", "must be at least 1".into());
        }
        if let Err(reason) = self.storage.catalog() {
            return invalid("storage.catalog_url", reason);
        }
        if let Err(reason) = self.storage.blobs() {
            return invalid("storage.blobs_url", reason);
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.server.log) {
            return invalid("server.log", format!("is not a valid log filter: {err}"));
        }
        let providers = &self.providers;
        let urls = [
            (
                "providers.replicate.base_url",
                &providers.replicate.base_url,
            ),
            (
                "providers.cloudflare.base_url",
                &providers.cloudflare.base_url,
            ),
            ("providers.openai.base_url", &providers.openai.base_url),
            ("providers.a1111.base_url", &providers.a1111.base_url),
            ("prompt.openai.base_url", &self.prompt.openai.base_url),
            ("server.public_url", &self.server.public_url),
        ];
        // These three always have a server to talk to; an empty value (an unset variable in a compose
        // file) would otherwise switch the provider on with nowhere to send requests.
        let required = [
            "providers.replicate.base_url",
            "providers.cloudflare.base_url",
            "providers.openai.base_url",
        ];
        for (key, url) in urls {
            if url.is_empty() && required.contains(&key) {
                return invalid(
                    key,
                    "must not be empty (leave it unset for the default)".into(),
                );
            }
            if !url.is_empty() && !is_http_url(url) {
                return invalid(key, format!("`{url}` is not an http(s) URL"));
            }
        }
        let timeouts = [
            (
                "providers.replicate.timeout_secs",
                providers.replicate.timeout_secs,
            ),
            (
                "providers.cloudflare.timeout_secs",
                providers.cloudflare.timeout_secs,
            ),
            (
                "providers.openai.timeout_secs",
                providers.openai.timeout_secs,
            ),
            ("providers.a1111.timeout_secs", providers.a1111.timeout_secs),
            ("prompt.timeout_secs", self.prompt.timeout_secs),
            ("engine.deadline_secs", self.engine.deadline_secs),
            (
                "server.header_timeout_secs",
                self.server.header_timeout_secs,
            ),
            ("server.idle_timeout_secs", self.server.idle_timeout_secs),
            ("server.max_connections", self.server.max_connections as u64),
            ("engine.max_attempts", u64::from(self.engine.max_attempts)),
            (
                "security.request_timeout_secs",
                self.security.request_timeout_secs,
            ),
            (
                "security.max_body_bytes",
                self.security.max_body_bytes as u64,
            ),
            ("security.max_url_bytes", self.security.max_url_bytes as u64),
            (
                "security.max_header_bytes",
                self.security.max_header_bytes as u64,
            ),
        ];
        for (key, value) in timeouts {
            if value == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if !(1..=128).contains(&self.security.ipv6_prefix) {
            return invalid(
                "security.ipv6_prefix",
                "must be between 1 and 128 (64: one subscriber)".into(),
            );
        }
        for provider in self.security.daily_budget.keys() {
            if ProviderKind::from_name(provider).is_none() {
                return invalid(
                    "security.daily_budget",
                    format!(
                        "`{provider}` is not a provider; known: {}",
                        ProviderKind::known()
                    ),
                );
            }
        }
        if let Err(reason) = providers.cloudflare.account_list() {
            return invalid(
                "providers.cloudflare.accounts",
                format!("(CF_ACCOUNT_LIST) {reason}"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for model in &self.catalog.models {
            if model.id.trim().is_empty() {
                return invalid("catalog.models.id", "must not be empty".into());
            }
            if !seen.insert(model.id.as_str()) {
                return invalid(
                    "catalog.models.id",
                    format!("`{}` is defined twice", model.id),
                );
            }
            if ProviderKind::from_name(&model.provider).is_none() {
                return invalid(
                    "catalog.models.provider",
                    format!(
                        "`{}` (model `{}`) is not a provider; known: {}",
                        model.provider,
                        model.id,
                        ProviderKind::known()
                    ),
                );
            }
            let sizes_ok = match &model.sizes {
                Sizes::Any => true,
                Sizes::Range { min, max, multiple } => 1 <= *min && min <= max && *multiple >= 1,
                Sizes::Table(entries) => {
                    !entries.is_empty() && entries.iter().all(|e| e.width > 0 && e.height > 0)
                }
            };
            if !sizes_ok {
                return invalid(
                    "catalog.models.sizes",
                    format!("model `{}`: a range needs 1 <= min <= max and multiple >= 1; a table needs entries", model.id),
                );
            }
            if let Some(steps) = model.steps {
                if !(steps.min <= steps.default && steps.default <= steps.max) {
                    return invalid(
                        "catalog.models.steps",
                        format!("model `{}`: needs min <= default <= max", model.id),
                    );
                }
            }
        }
        let default = &self.catalog.default_model;
        if !default.is_empty() && !self.catalog.models.iter().any(|m| &m.id == default) {
            return invalid(
                "catalog.default_model",
                format!("`{default}` is not a model in catalog.models"),
            );
        }
        Ok(())
    }
}

fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// The names users of the seed projects already know, read as plain strings (figment would parse a
/// JSON account list or an all-digit id as structured values).
fn seed_env() -> Result<Serialized<serde_json::Value>, ConfigError> {
    const STRINGS: &[(&str, &str)] = &[
        ("REPLICATE_API_TOKEN", "providers.replicate.api_token"),
        ("REPLICATE_BASE_URL", "providers.replicate.base_url"),
        ("CLOUDFLARE_ACCOUNT_ID", "providers.cloudflare.account_id"),
        ("CLOUDFLARE_API_TOKEN", "providers.cloudflare.api_token"),
        ("CF_ACCOUNT_LIST", "providers.cloudflare.accounts"),
        ("CLOUDFLARE_BASE_URL", "providers.cloudflare.base_url"),
        ("OPENAI_API_KEY", "providers.openai.api_key"),
        ("OPENAI_BASE_URL", "providers.openai.base_url"),
        ("A1111_BASE_URL", "providers.a1111.base_url"),
        ("API_KEY", "auth.api_key"),
        ("DATABASE_URL", "storage.catalog_url"),
        ("PIXZOO_SIGNING_KEY", "security.signing_keys"),
        ("PIXZOO_METRICS_TOKEN", "security.metrics_token"),
        ("CF_TRANSLATE_MODEL", "prompt.cloudflare.translate_model"),
        ("LLM_BASE_URL", "prompt.openai.base_url"),
        ("LLM_API_KEY", "prompt.openai.api_key"),
        ("LLM_MODEL", "prompt.openai.model"),
    ];
    let mut root = serde_json::Map::new();
    let mut set = |path: &str, value: serde_json::Value| {
        let mut node = &mut root;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_owned(), value);
                return;
            }
            node = node
                .entry(part.to_owned())
                .or_insert_with(|| serde_json::Value::Object(Default::default()))
                .as_object_mut()
                .expect("only objects are inserted on the path");
        }
    };
    for (var, key) in STRINGS {
        // Empty is unset: a compose file's `OPENAI_BASE_URL=${OPENAI_BASE_URL}` with nothing behind it.
        if let Ok(value) = std::env::var(var).map(|v| v.trim().to_owned()) {
            if value.is_empty() {
                continue;
            }
            set(key, serde_json::Value::String(value));
        }
    }
    if let Ok(value) = std::env::var("CF_IS_TRANSLATE") {
        let flag = match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "prompt.cloudflare.translate",
                    reason: format!("(CF_IS_TRANSLATE) `{value}` is not true or false"),
                })
            }
        };
        set("prompt.cloudflare.translate", serde_json::Value::Bool(flag));
    }
    Ok(Serialized::defaults(serde_json::Value::Object(root)))
}

/// One figment error as `` `key` what (in where) ``, the key spelled as in `Leptos.toml` whatever case the
/// environment variable used.
fn describe(err: figment::Error) -> String {
    let mut message = String::new();
    if !err.path.is_empty() {
        message.push_str(&format!("`{}` ", err.path.join(".").to_ascii_lowercase()));
    }
    message.push_str(&err.kind.to_string());
    if let Some(metadata) = &err.metadata {
        message.push_str(&format!(" (in {}", metadata.name));
        if let Some(source) = &metadata.source {
            message.push_str(&format!(" {source}"));
        }
        message.push(')');
    }
    message
}

/// `PIXZOO_SECTION__KEY` for any key, plus short names for the ones people set most.
fn pixzoo_env() -> Env {
    // SIGNING_KEY and METRICS_TOKEN are read as plain strings by `seed_env`.
    Env::prefixed("PIXZOO_")
        .ignore(&["CONFIG", "SIGNING_KEY", "METRICS_TOKEN"])
        .map(|key| match key.as_str().to_ascii_lowercase().as_str() {
            "addr" => "server.addr".into(),
            "site_root" => "server.site_root".into(),
            "log" => "server.log".into(),
            "metrics_addr" => "server.metrics_addr".into(),
            "data_dir" => "storage.data_dir".into(),
            "default_model" => "catalog.default_model".into(),
            other => other.replace("__", ".").into(),
        })
}

// figment's `Jail` closures return its large error type by design.
#[allow(clippy::result_large_err)]
#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_err(explicit: Option<&Path>) -> String {
        Config::load(explicit).unwrap_err().to_string()
    }

    #[test]
    fn defaults_without_any_file() {
        Jail::expect_with(|_jail| {
            let config = Config::load(None).expect("defaults load");
            assert_eq!(config, Config::default());
            assert_eq!(config.server.addr.to_string(), "127.0.0.1:3000");
            assert_eq!(config.storage.catalog_path(), Path::new("data/pixzoo.db"));
            Ok(())
        });
    }

    #[test]
    fn the_documented_file_matches_the_defaults() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_FILE);
        Jail::expect_with(|_jail| {
            assert_eq!(
                Config::load(Some(&shipped)).expect("Leptos.toml loads"),
                Config::default()
            );
            Ok(())
        });
    }

    #[test]
    fn file_then_env_override() {
        Jail::expect_with(|jail| {
            jail.create_file(
                DEFAULT_CONFIG_FILE,
                r#"
                    [server]
                    addr = "0.0.0.0:8080"
                    [limits]
                    max_width = 2048
                "#,
            )?;
            let config = Config::load(None).expect("file loads");
            assert_eq!(config.server.addr.to_string(), "0.0.0.0:8080");
            assert_eq!(config.limits.max_width, 2048);
            assert_eq!(
                config.limits.max_height, 4096,
                "untouched keys keep defaults"
            );

            jail.set_env("PIXZOO_ADDR", "127.0.0.1:4010");
            jail.set_env("PIXZOO_DATA_DIR", "/tmp/elsewhere");
            jail.set_env("PIXZOO_LIMITS__MAX_HEIGHT", "512");
            jail.set_env("LEPTOS_SITE_ROOT", "site");
            let config = Config::load(None).expect("env loads");
            assert_eq!(config.server.addr.to_string(), "127.0.0.1:4010");
            jail.set_env("PIXZOO_ADDR", "localhost:4011");
            let config = Config::load(None).unwrap();
            assert!(
                config.server.addr.ip().is_loopback(),
                "{}",
                config.server.addr
            );
            assert_eq!(config.server.addr.port(), 4011);
            assert_eq!(config.storage.data_dir, Path::new("/tmp/elsewhere"));
            assert_eq!(config.limits.max_height, 512);
            assert_eq!(config.limits.max_width, 2048);
            assert_eq!(config.server.site_root, Path::new("site"));

            jail.set_env("PIXZOO_SITE_ROOT", "pixzoo-site");
            let config = Config::load(None).expect("env loads");
            assert_eq!(
                config.server.site_root,
                Path::new("pixzoo-site"),
                "PIXZOO_ wins"
            );
            Ok(())
        });
    }

    #[test]
    fn the_seed_projects_variable_names_work() {
        Jail::expect_with(|jail| {
            jail.set_env("REPLICATE_API_TOKEN", "r8_123");
            jail.set_env("CLOUDFLARE_ACCOUNT_ID", "0123456789");
            jail.set_env("CLOUDFLARE_API_TOKEN", "cf-token");
            jail.set_env("CF_ACCOUNT_LIST", r#"[{"account_id":"a","token":"t"}]"#);
            jail.set_env("OPENAI_BASE_URL", "http://127.0.0.1:8080");
            jail.set_env("A1111_BASE_URL", "http://127.0.0.1:7860");
            jail.set_env("CF_TRANSLATE_MODEL", "@cf/meta/m2m100-1.2b");
            jail.set_env("CF_IS_TRANSLATE", "false");
            jail.set_env("LLM_MODEL", "llama3.2");
            jail.set_env("PIXZOO_DEFAULT_MODEL", "DS-8-CF");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.providers.replicate.api_token.expose(), "r8_123");
            assert_eq!(
                config.providers.cloudflare.account_id, "0123456789",
                "digits stay a string"
            );
            assert_eq!(
                config.providers.cloudflare.account_list().unwrap()[0].account_id,
                "a"
            );
            assert!(
                config.providers.openai.is_configured(),
                "a self-hosted server needs no key"
            );
            assert_eq!(config.providers.a1111.base_url, "http://127.0.0.1:7860");
            assert!(!config.prompt.cloudflare.translate);
            assert_eq!(config.prompt.openai.model, "llama3.2");
            assert_eq!(config.catalog.default_model, "DS-8-CF");

            jail.set_env("CF_ACCOUNT_LIST", "[{\"account_id\": oops");
            let message = load_err(None);
            assert!(
                message.contains("providers.cloudflare.accounts") && !message.contains("oops"),
                "{message}"
            );
            jail.set_env("CF_ACCOUNT_LIST", "");
            jail.set_env("CF_IS_TRANSLATE", "maybe");
            assert!(load_err(None).contains("CF_IS_TRANSLATE"));
            jail.set_env("CF_IS_TRANSLATE", "1");
            jail.set_env("REPLICATE_BASE_URL", "ftp://example.com");
            assert!(load_err(None).contains("providers.replicate.base_url"));
            Ok(())
        });
    }

    #[test]
    fn explicit_config_path() {
        Jail::expect_with(|jail| {
            jail.create_file("other.toml", "[limits]\nmax_slug_chars = 10\n")?;
            let config = Config::load(Some(Path::new("other.toml"))).expect("loads");
            assert_eq!(config.limits.max_slug_chars, 10);
            let message = load_err(Some(Path::new("missing.toml")));
            assert!(
                message.contains("missing.toml") && message.contains("does not exist"),
                "{message}"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("PIXZOO_ADDR", "not-an-address");
            let message = load_err(None);
            assert!(message.contains("server.addr"), "{message}");

            jail.set_env("PIXZOO_ADDR", "127.0.0.1:3000");
            jail.set_env("PIXZOO_LIMITS__MAX_WIDTH", "wide");
            let message = load_err(None);
            assert!(message.contains("limits.max_width"), "{message}");

            jail.set_env("PIXZOO_LIMITS__MAX_WIDTH", "0");
            let message = load_err(None);
            assert!(
                message.contains("limits.max_width") && message.contains("between"),
                "{message}"
            );

            jail.set_env("PIXZOO_LIMITS__MAX_WIDTH", "4096");
            jail.set_env("OPENAI_BASE_URL", "");
            jail.set_env("OPENAI_API_KEY", "sk-test");
            let config = Config::load(None).expect("an empty seed variable is unset");
            assert_eq!(config.providers.openai.base_url, "https://api.openai.com");
            jail.set_env("PIXZOO_PROVIDERS__OPENAI__BASE_URL", "");
            let message = load_err(None);
            assert!(
                message.contains("providers.openai.base_url") && message.contains("empty"),
                "{message}"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_files_name_the_problem() {
        Jail::expect_with(|jail| {
            jail.create_file(DEFAULT_CONFIG_FILE, "[server]\nadr = \"127.0.0.1:1\"\n")?;
            let message = load_err(None);
            assert!(
                message.contains("adr"),
                "unknown keys are refused: {message}"
            );

            jail.create_file(DEFAULT_CONFIG_FILE, "[server\naddr = 1\n")?;
            let message = load_err(None);
            assert!(
                message.contains(DEFAULT_CONFIG_FILE),
                "syntax errors name the file: {message}"
            );

            jail.create_file(DEFAULT_CONFIG_FILE, "[catalog]\ndefault_model = \"nope\"\n")?;
            let message = load_err(None);
            assert!(
                message.contains("catalog.default_model") && message.contains("nope"),
                "{message}"
            );

            jail.create_file(DEFAULT_CONFIG_FILE, "[server]\nlog = \"pixzoo=loud\"\n")?;
            assert!(load_err(None).contains("server.log"));

            jail.create_file(
                DEFAULT_CONFIG_FILE,
                "[[catalog.models]]\nid = \"x\"\nlabel = \"X\"\nprovider = \"dalle\"\nupstream = \"x\"\nfamily = \"flux\"\nsizes = \"any\"\n",
            )?;
            let message = load_err(None);
            assert!(
                message.contains("catalog.models.provider") && message.contains("dalle"),
                "{message}"
            );
            Ok(())
        });
    }
}
