//! `[purge]`: telling the CDN in front of Pixzoo that an image was deleted or replaced, so that a
//! takedown reaches its edges (`server::purge`). Off unless a Cloudflare zone or a webhook is set.

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, http_url, invalid};
use super::ConfigError;
use crate::server::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PurgeConfig {
    /// Calls per purge and endpoint, the first included.
    pub attempts: u32,
    /// The wait before the second call; it doubles after each failure.
    pub backoff_base_ms: u64,
    /// Each call's timeout.
    pub timeout_secs: u64,
    /// Purges waiting or running at once; beyond that a purge is dropped (and counted), so a flood of
    /// deletes cannot pile up tasks.
    pub max_pending: usize,
    pub cloudflare: CloudflarePurgeConfig,
    pub webhook: WebhookConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudflarePurgeConfig {
    /// `CLOUDFLARE_ZONE_ID`; empty: no Cloudflare purge.
    pub zone_id: String,
    /// `CLOUDFLARE_PURGE_TOKEN`: an API token with the zone's Cache Purge permission.
    pub api_token: Secret,
    pub api_base: String,
    pub by: PurgeBy,
}

/// What a Cloudflare purge names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PurgeBy {
    /// The image's cache tag: every response of it, derivatives and placeholder URLs included.
    #[default]
    Tags,
    /// The URLs Pixzoo knows the image by (`/img/{id}`), under `server.public_url`.
    Files,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where the signed JSON is posted; empty: no webhook.
    pub url: String,
    /// `PIXZOO_PURGE_WEBHOOK_SECRET`: the HMAC-SHA256 key the body is signed with.
    pub secret: Secret,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        Self {
            attempts: 4,
            backoff_base_ms: 500,
            timeout_secs: 10,
            max_pending: 256,
            cloudflare: CloudflarePurgeConfig::default(),
            webhook: WebhookConfig::default(),
        }
    }
}

impl Default for CloudflarePurgeConfig {
    fn default() -> Self {
        Self {
            zone_id: String::new(),
            api_token: Secret::default(),
            api_base: "https://api.cloudflare.com".into(),
            by: PurgeBy::Tags,
        }
    }
}

impl CloudflarePurgeConfig {
    pub fn is_configured(&self) -> bool {
        !self.zone_id.trim().is_empty()
    }
}

impl WebhookConfig {
    pub fn is_configured(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

/// At most this many calls per purge: with the doubling wait, more would outlast any takedown's use.
const MAX_ATTEMPTS: u32 = 10;

impl PurgeConfig {
    /// `public_url`: `server.public_url`, which purging by URL builds on.
    pub(super) fn validate(&self, public_url: &str) -> Result<(), ConfigError> {
        at_least_one("purge.attempts", u64::from(self.attempts))?;
        if self.attempts > MAX_ATTEMPTS {
            return invalid("purge.attempts", format!("must be at most {MAX_ATTEMPTS}"));
        }
        at_least_one("purge.timeout_secs", self.timeout_secs)?;
        at_least_one("purge.max_pending", self.max_pending as u64)?;
        let cloudflare = &self.cloudflare;
        http_url("purge.cloudflare.api_base", &cloudflare.api_base, true)?;
        if cloudflare.is_configured() {
            if !cloudflare
                .zone_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
            {
                return invalid(
                    "purge.cloudflare.zone_id",
                    "must be the zone's id (letters and digits, as the dashboard shows it)",
                );
            }
            if cloudflare.api_token.is_empty() {
                return invalid(
                    "purge.cloudflare.api_token",
                    "(CLOUDFLARE_PURGE_TOKEN) must be set when purge.cloudflare.zone_id is",
                );
            }
            if cloudflare.by == PurgeBy::Files && public_url.is_empty() {
                return invalid(
                    "purge.cloudflare.by",
                    "\"files\" needs server.public_url, the address the CDN caches URLs under",
                );
            }
        } else if !cloudflare.api_token.is_empty() {
            return invalid(
                "purge.cloudflare.zone_id",
                "(CLOUDFLARE_ZONE_ID) must be set when purge.cloudflare.api_token is",
            );
        }
        http_url("purge.webhook.url", &self.webhook.url, false)?;
        if self.webhook.is_configured() && self.webhook.secret.is_empty() {
            return invalid(
                "purge.webhook.secret",
                "(PIXZOO_PURGE_WEBHOOK_SECRET) must be set when purge.webhook.url is: the receiver checks the signature",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(config: &PurgeConfig, public_url: &str) -> String {
        config.validate(public_url).unwrap_err().to_string()
    }

    #[test]
    fn each_half_configured_target_is_refused_by_name() {
        assert!(PurgeConfig::default().validate("").is_ok());
        let mut config = PurgeConfig::default();
        config.cloudflare.zone_id = "023e105f4ecef8ad9ca31a8372d0c353".into();
        assert!(refusal(&config, "").contains("purge.cloudflare.api_token"));
        config.cloudflare.api_token = Secret::new("cf-purge-token");
        assert!(config.validate("").is_ok());
        config.cloudflare.by = PurgeBy::Files;
        assert!(refusal(&config, "").contains("server.public_url"));
        assert!(config.validate("https://images.example.com").is_ok());
        config.cloudflare.zone_id = "../zones".into();
        assert!(refusal(&config, "").contains("purge.cloudflare.zone_id"));
        config.cloudflare.zone_id.clear();
        let message = refusal(&config, "");
        assert!(message.contains("purge.cloudflare.zone_id"), "{message}");
        assert!(!message.contains("cf-purge-token"), "{message}");

        let mut config = PurgeConfig::default();
        config.webhook.url = "ftp://hooks.example.com".into();
        assert!(refusal(&config, "").contains("purge.webhook.url"));
        config.webhook.url = "https://hooks.example.com/purge".into();
        assert!(refusal(&config, "").contains("purge.webhook.secret"));
        config.webhook.secret = Secret::new("whsec");
        assert!(config.validate("").is_ok());
        config.attempts = 0;
        assert!(refusal(&config, "").contains("purge.attempts"));
        config.attempts = 11;
        assert!(refusal(&config, "").contains("purge.attempts"));
    }
}
