//! `[security]`: what keeps a public Pixzoo from being turned into someone else's image bill.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, invalid, long_secret};
use super::{ConfigError, ProviderKind};
use crate::server::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Secrets for signed URLs, comma-separated; the first signs, any verifies (rotation).
    pub signing_keys: Secret,
    /// The header a trusted reverse proxy puts the client address in; empty: the TCP peer.
    pub client_ip_header: String,
    /// How many leading bits of an IPv6 address are one client (1-128; a /64 is one subscriber).
    pub ipv6_prefix: u8,
    /// New generations per client per minute, and the burst allowed; 0 = no limit.
    pub generations_per_minute: u32,
    pub generation_burst: u32,
    /// New derivatives (transforms not stored yet) per client per minute, and the burst; 0 = no limit.
    pub derivatives_per_minute: u32,
    pub derivative_burst: u32,
    /// New uploads (images not stored yet, also `data:` sources of edits) per client per minute, and
    /// the burst; 0 = no limit.
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
    /// Who may make a derivative nobody asked for before.
    pub derivatives: DerivativeMode,
    /// Every other request per client per second, and the burst allowed; 0 = no limit.
    pub requests_per_second: u32,
    pub request_burst: u32,
    pub max_body_bytes: usize,
    pub max_url_bytes: usize,
    pub max_header_bytes: usize,
    pub request_timeout_secs: u64,
    /// New generations per provider per UTC day; providers not listed have no budget.
    pub daily_budget: BTreeMap<String, u32>,
    /// Other origins whose pages may write to the API (generate, upload, delete) without the key:
    /// `https://app.example.com`, or `*` for any. Any origin may read.
    pub cors_origins: Vec<String>,
    /// `GET /metrics` needs `Authorization: Bearer <token>` when set; when empty it answers only
    /// clients on loopback.
    pub metrics_token: Secret,
}

/// `security.derivatives`: which `/img/{id}/{options}` URLs may make a new derivative. Stored
/// derivatives are served to any URL whatever the mode, as stored images are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DerivativeMode {
    /// Any options (within the limits).
    #[default]
    Open,
    /// Only options made of named presets (`preset=NAME`), or a signed URL, or the API key.
    Presets,
    /// Only a signed URL (`pixzoo sign`), or the API key.
    Signed,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            signing_keys: Secret::default(),
            client_ip_header: String::new(),
            ipv6_prefix: 64,
            generations_per_minute: 10,
            generation_burst: 20,
            derivatives_per_minute: 60,
            derivative_burst: 120,
            uploads_per_minute: 20,
            upload_burst: 40,
            derivatives: DerivativeMode::Open,
            requests_per_second: 20,
            request_burst: 100,
            max_body_bytes: 64 * 1024,
            max_url_bytes: 4096,
            max_header_bytes: 16 * 1024,
            request_timeout_secs: 210,
            daily_budget: BTreeMap::new(),
            cors_origins: Vec::new(),
            metrics_token: Secret::default(),
        }
    }
}

impl SecurityConfig {
    /// The signing keys in order, empty entries dropped.
    pub fn signing_keys(&self) -> Vec<Secret> {
        self.signing_keys
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(Secret::new)
            .collect()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("security.request_timeout_secs", self.request_timeout_secs)?;
        long_secret(
            "security.metrics_token",
            "PIXZOO_METRICS_TOKEN",
            &self.metrics_token,
        )?;
        // Each signing key is an HMAC key a signed URL lets anyone test guesses against offline.
        for key in self.signing_keys() {
            long_secret("security.signing_keys", "PIXZOO_SIGNING_KEY", &key)?;
        }
        at_least_one("security.max_body_bytes", self.max_body_bytes as u64)?;
        at_least_one("security.max_url_bytes", self.max_url_bytes as u64)?;
        at_least_one("security.max_header_bytes", self.max_header_bytes as u64)?;
        if !(1..=128).contains(&self.ipv6_prefix) {
            return invalid(
                "security.ipv6_prefix",
                "must be between 1 and 128 (64: one subscriber)",
            );
        }
        for origin in &self.cors_origins {
            let plain = origin.trim() == "*"
                || origin.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https")
                        && !rest.is_empty()
                        && !rest.trim_end_matches('/').contains(['/', '?', '#'])
                });
            if !plain {
                return invalid(
                    "security.cors_origins",
                    format!("`{origin}` is not an origin; write https://host[:port], or * for any"),
                );
            }
        }
        for provider in self.daily_budget.keys() {
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signing_key_is_long_enough() {
        let with = |keys: &str| SecurityConfig {
            signing_keys: Secret::new(keys),
            ..SecurityConfig::default()
        };
        let message = with("0123456789abcdef, tiny-key")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("security.signing_keys") && message.contains("16"),
            "{message}"
        );
        assert!(
            !message.contains("tiny-key"),
            "no key is repeated: {message}"
        );
        assert!(with("").validate().is_ok());
        assert!(with("0123456789abcdef, fedcba9876543210")
            .validate()
            .is_ok());
    }
}
