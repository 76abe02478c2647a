//! `[providers.*]`: where each image provider lives and how to authenticate. Secrets are [`Secret`]s.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, http_url, invalid};
use super::ConfigError;
use crate::server::secret::Secret;

/// The providers this build knows: everything Pixzoo decides by a provider's kind is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Builtin,
    Replicate,
    Cloudflare,
    OpenAi,
    A1111,
    Local,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Builtin,
        ProviderKind::Replicate,
        ProviderKind::Cloudflare,
        ProviderKind::OpenAi,
        ProviderKind::A1111,
        ProviderKind::Local,
    ];

    /// The order in which a provider's first model becomes the default when none is configured: a
    /// local model on disk before the builtin renderer.
    pub const DEFAULT_ORDER: [ProviderKind; 6] = [
        ProviderKind::Replicate,
        ProviderKind::Cloudflare,
        ProviderKind::OpenAi,
        ProviderKind::A1111,
        ProviderKind::Local,
        ProviderKind::Builtin,
    ];

    /// Its name in configuration (`[providers.NAME]`, `catalog.models.provider`, budget keys), in
    /// the catalog's rows and in metrics.
    pub const fn name(self) -> &'static str {
        match self {
            ProviderKind::Builtin => "builtin",
            ProviderKind::Replicate => "replicate",
            ProviderKind::Cloudflare => "cloudflare",
            ProviderKind::OpenAi => "openai",
            ProviderKind::A1111 => "a1111",
            ProviderKind::Local => "local",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether a new image costs its owner money (a self-hosted A1111 server, local models and the
    /// renderer do not).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            ProviderKind::Replicate | ProviderKind::Cloudflare | ProviderKind::OpenAi
        )
    }

    /// Every name, for error messages.
    pub fn known() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersConfig {
    pub builtin: BuiltinConfig,
    pub replicate: ReplicateConfig,
    pub cloudflare: CloudflareConfig,
    pub openai: OpenAiConfig,
    pub a1111: A1111Config,
    pub local: LocalConfig,
}

/// What a provider's section has in common with the others', read the same way whatever the provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProviderSettings<'a> {
    /// The server it sends requests to; `None`: it sends none (the builtin renderer).
    pub base_url: Option<&'a str>,
    /// The provider always has a server to talk to (its default), so an empty `base_url` is refused
    /// rather than switching it on with nowhere to send requests (an unset variable in a compose file).
    pub base_url_required: bool,
    /// Seconds a call may take; `None`: it makes no call.
    pub timeout_secs: Option<u64>,
}

impl ProvidersConfig {
    /// `kind`'s settings, as every provider has them.
    pub fn settings(&self, kind: ProviderKind) -> ProviderSettings<'_> {
        fn remote(
            base_url: &str,
            base_url_required: bool,
            timeout_secs: u64,
        ) -> ProviderSettings<'_> {
            ProviderSettings {
                base_url: Some(base_url),
                base_url_required,
                timeout_secs: Some(timeout_secs),
            }
        }
        match kind {
            ProviderKind::Builtin | ProviderKind::Local => ProviderSettings {
                base_url: None,
                base_url_required: false,
                timeout_secs: None,
            },
            ProviderKind::Replicate => {
                remote(&self.replicate.base_url, true, self.replicate.timeout_secs)
            }
            ProviderKind::Cloudflare => remote(
                &self.cloudflare.base_url,
                true,
                self.cloudflare.timeout_secs,
            ),
            ProviderKind::OpenAi => remote(&self.openai.base_url, true, self.openai.timeout_secs),
            ProviderKind::A1111 => remote(&self.a1111.base_url, false, self.a1111.timeout_secs),
        }
    }

    /// Every provider's `base_url`, then every provider's `timeout_secs`, in [`ProviderKind::ALL`]'s
    /// order; then Cloudflare's account list.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for kind in ProviderKind::ALL {
            let settings = self.settings(kind);
            if let Some(url) = settings.base_url {
                let key = format!("providers.{}.base_url", kind.name());
                http_url(key, url, settings.base_url_required)?;
            }
        }
        for kind in ProviderKind::ALL {
            if let Some(timeout_secs) = self.settings(kind).timeout_secs {
                at_least_one(
                    format!("providers.{}.timeout_secs", kind.name()),
                    timeout_secs,
                )?;
            }
        }
        at_least_one("providers.local.concurrency", self.local.concurrency)?;
        if !matches!(self.local.decoder.as_str(), "vae" | "taesd") {
            return invalid(
                "providers.local.decoder",
                format!("`{}` is not \"vae\" or \"taesd\"", self.local.decoder),
            );
        }
        if let Err(reason) = self.cloudflare.account_list() {
            return invalid(
                "providers.cloudflare.accounts",
                format!("(CF_ACCOUNT_LIST) {reason}"),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuiltinConfig {
    pub enabled: bool,
}

impl Default for BuiltinConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicateConfig {
    pub api_token: Secret,
    pub base_url: String,
    pub timeout_secs: u64,
    pub poll_interval_ms: u64,
    /// Hosts output files may be downloaded from (`*.` matches subdomains); the API's own host always may.
    pub file_hosts: Vec<String>,
}

impl Default for ReplicateConfig {
    fn default() -> Self {
        Self {
            api_token: Secret::default(),
            base_url: "https://api.replicate.com".into(),
            timeout_secs: 120,
            poll_interval_ms: 1000,
            file_hosts: vec!["replicate.delivery".into(), "*.replicate.delivery".into()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudflareConfig {
    pub account_id: String,
    pub api_token: Secret,
    /// Several accounts as JSON `[{"account_id": "...", "token": "..."}]`; used in turn.
    pub accounts: Secret,
    pub base_url: String,
    pub timeout_secs: u64,
    /// How long an account rests after a rate limit (code 3040).
    pub cooldown_secs: u64,
}

impl Default for CloudflareConfig {
    fn default() -> Self {
        Self {
            account_id: String::new(),
            api_token: Secret::default(),
            accounts: Secret::default(),
            base_url: "https://api.cloudflare.com".into(),
            timeout_secs: 60,
            cooldown_secs: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    pub api_key: Secret,
    pub base_url: String,
    pub timeout_secs: u64,
    /// Hosts `url` outputs may be downloaded from; the API's own host always may.
    pub file_hosts: Vec<String>,
}

impl OpenAiConfig {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.openai.com";

    /// A key, or a self-hosted server that needs none (LocalAI, stable-diffusion.cpp).
    pub fn is_configured(&self) -> bool {
        !self.api_key.is_empty() || self.base_url.trim_end_matches('/') != Self::DEFAULT_BASE_URL
    }
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            api_key: Secret::default(),
            base_url: Self::DEFAULT_BASE_URL.into(),
            timeout_secs: 120,
            file_hosts: vec!["*.blob.core.windows.net".into()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct A1111Config {
    /// Empty: not configured.
    pub base_url: String,
    pub timeout_secs: u64,
    pub sampler: String,
    pub cfg_scale: f32,
}

impl Default for A1111Config {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            timeout_secs: 300,
            sampler: "Euler a".into(),
            cfg_scale: 7.0,
        }
    }
}

/// Diffusion models run in-process (`src/server/diffusion/`) from directories in diffusers' layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    pub enabled: bool,
    /// Where model directories are looked for (`<models_dir>/<id>/model_index.json`); empty:
    /// `<data_dir>/models`.
    pub models_dir: PathBuf,
    /// Generations run at once (each uses every core); the rest wait their turn.
    pub concurrency: u64,
    /// A loaded model is dropped from memory after this long unused; 0: kept.
    pub unload_after_secs: u64,
    /// What turns the final latents into pixels: "vae" (the model's own, best) or "taesd" (TAESD in
    /// `<models_dir>/taesd/`, about nine times faster on a CPU, a little softer).
    pub decoder: String,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            models_dir: PathBuf::new(),
            concurrency: 1,
            unload_after_secs: 600,
            decoder: "vae".into(),
        }
    }
}

impl LocalConfig {
    /// `models_dir`, or its default under `data_dir`.
    pub fn models_dir(&self, data_dir: &Path) -> PathBuf {
        if self.models_dir.as_os_str().is_empty() {
            data_dir.join("models")
        } else {
            self.models_dir.clone()
        }
    }
}

/// One Cloudflare account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CloudflareAccount {
    pub account_id: String,
    pub token: Secret,
}

impl CloudflareConfig {
    /// `accounts` (CF_ACCOUNT_LIST) if set, else the single `account_id` + `api_token` pair.
    pub fn account_list(&self) -> Result<Vec<CloudflareAccount>, String> {
        if !self.accounts.is_empty() {
            let accounts: Vec<CloudflareAccount> = serde_json::from_str(self.accounts.expose())
                .map_err(|err| {
                    format!(
                        "must be JSON like [{{\"account_id\": \"…\", \"token\": \"…\"}}] (error at line {} column {})",
                        err.line(),
                        err.column()
                    )
                })?;
            if accounts
                .iter()
                .any(|a| a.account_id.trim().is_empty() || a.token.is_empty())
            {
                return Err("every account needs a non-empty account_id and token".into());
            }
            return Ok(accounts);
        }
        if !self.account_id.trim().is_empty() && !self.api_token.is_empty() {
            return Ok(vec![CloudflareAccount {
                account_id: self.account_id.clone(),
                token: self.api_token.clone(),
            }]);
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudflare_accounts_from_a_list_or_a_pair() {
        let mut config = CloudflareConfig::default();
        assert_eq!(config.account_list(), Ok(vec![]));
        config.account_id = "acc".into();
        config.api_token = Secret::new("tok");
        assert_eq!(config.account_list().unwrap().len(), 1);
        config.accounts =
            Secret::new(r#"[{"account_id":"a","token":"t1"},{"account_id":"b","token":"t2"}]"#);
        let list = config.account_list().unwrap();
        assert_eq!(
            list.iter()
                .map(|a| a.account_id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        config.accounts = Secret::new(r#"[{"account_id":"a","token":"super-secret-token"#);
        let err = config.account_list().unwrap_err();
        assert!(
            !err.contains("super-secret-token"),
            "errors never echo the value: {err}"
        );
    }

    #[test]
    fn every_provider_with_a_server_has_its_url_and_timeout_checked() {
        let refused = |change: fn(&mut ProvidersConfig)| {
            let mut config = ProvidersConfig::default();
            change(&mut config);
            config.validate().unwrap_err().to_string()
        };
        assert!(ProvidersConfig::default().validate().is_ok());
        assert_eq!(
            refused(|c| c.cloudflare.base_url = "ftp://example.com".into()),
            "`providers.cloudflare.base_url` `ftp://example.com` is not an http(s) URL"
        );
        assert_eq!(
            refused(|c| c.replicate.base_url.clear()),
            "`providers.replicate.base_url` must not be empty (leave it unset for the default)"
        );
        assert_eq!(
            refused(|c| c.a1111.base_url = "localhost:7860".into()),
            "`providers.a1111.base_url` `localhost:7860` is not an http(s) URL"
        );
        assert_eq!(
            refused(|c| c.openai.timeout_secs = 0),
            "`providers.openai.timeout_secs` must be at least 1"
        );
        assert_eq!(
            refused(|c| c.a1111.timeout_secs = 0),
            "`providers.a1111.timeout_secs` must be at least 1"
        );
        assert_eq!(
            refused(|c| c.local.decoder = "fast".into()),
            "`providers.local.decoder` `fast` is not \"vae\" or \"taesd\""
        );
        assert_eq!(
            refused(|c| c.local.concurrency = 0),
            "`providers.local.concurrency` must be at least 1"
        );
        assert!(refused(|c| c.cloudflare.accounts = Secret::new("["))
            .starts_with("`providers.cloudflare.accounts` (CF_ACCOUNT_LIST) must be JSON"));
        let config = ProvidersConfig::default();
        let settings = config.settings(ProviderKind::A1111);
        assert_eq!(
            (settings.base_url, settings.base_url_required),
            (Some(""), false),
            "an empty A1111 URL means not configured"
        );
    }
}
