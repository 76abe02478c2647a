//! Takedowns that reach the CDN: when an image is deleted, or a `?redo` moves a placeholder URL to a
//! new image, the CDN in front of Pixzoo is told to drop its copies, by Cloudflare's purge API
//! (`cloudflare.rs`), a signed webhook (`webhook.rs`), or both. The engine calls
//! [`Purger::takedown`] where it announces the news to every instance's memory; the purge runs on its
//! own task so a delete never waits for it, at most `purge.max_pending` at once (beyond that it is
//! dropped and counted), each target retried `purge.attempts` times with a doubling wait. What the
//! CDN can purge by is in `tags.rs`: the tags are complete, the URLs are what Pixzoo knows.
//!
//! Metrics: `pixzoo_purges_total{target,result}` (result: ok | failed | dropped) and
//! `pixzoo_purge_retries_total{target}`. No log line or error carries a token, a secret or a URL.

mod cloudflare;
mod request;
pub mod tags;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::server::config::PurgeConfig;
pub use request::{PurgeError, PurgeRequest, Takedown};
pub use tags::{image_tag, Tags};

/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Where purges go. Two kinds, so an enum rather than a trait.
enum Target {
    Cloudflare(cloudflare::Cloudflare),
    Webhook(webhook::Webhook),
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Cloudflare(_) => "cloudflare",
            Target::Webhook(_) => "webhook",
        }
    }

    async fn send(&self, http: &reqwest::Client, request: &PurgeRequest) -> Result<(), PurgeError> {
        match self {
            Target::Cloudflare(cloudflare) => cloudflare.send(http, request).await,
            Target::Webhook(webhook) => webhook.send(http, request).await,
        }
    }
}

/// Cheap to clone; [`Purger::default`] purges nothing.
#[derive(Clone, Default)]
pub struct Purger {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    http: reqwest::Client,
    targets: Vec<Target>,
    /// `server.public_url` without its trailing slash; empty: no URLs are purged.
    public_url: String,
    attempts: u32,
    backoff: Duration,
    /// One permit per purge waiting or running.
    slots: Arc<Semaphore>,
}

impl Purger {
    /// The purger `[purge]` configures (off when it names no target).
    pub fn from_config(config: &PurgeConfig, public_url: &str) -> Result<Self, reqwest::Error> {
        let mut targets = Vec::new();
        if config.cloudflare.is_configured() {
            targets.push(Target::Cloudflare(cloudflare::Cloudflare::new(
                &config.cloudflare,
            )));
        }
        if config.webhook.is_configured() {
            targets.push(Target::Webhook(webhook::Webhook::new(&config.webhook)));
        }
        if targets.is_empty() {
            return Ok(Self::default());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(config.timeout_secs.min(5)))
            // A purge goes where it is configured to, never where an answer points.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                http,
                targets,
                public_url: public_url.trim_end_matches('/').to_owned(),
                attempts: config.attempts.max(1),
                backoff: Duration::from_millis(config.backoff_base_ms),
                slots: Arc::new(Semaphore::new(config.max_pending.max(1))),
            })),
        })
    }

    /// Whether any target is configured.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Starts purging image `id`'s copies from the CDN, and returns at once: whether it started
    /// (false when off, or when `purge.max_pending` are pending and it was dropped).
    pub fn takedown(&self, id: &str, reason: Takedown) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        let Ok(slot) = inner.slots.clone().try_acquire_owned() else {
            metrics::counter!("pixzoo_purges_total", "target" => "all", "result" => "dropped")
                .increment(1);
            tracing::warn!(image_id = %id, reason = reason.as_str(), "too many purges pending: this one is dropped, and the CDN keeps its copies until they expire");
            return false;
        };
        let request = inner.request(id, reason);
        let inner = inner.clone();
        tokio::spawn(async move {
            let sends = inner
                .targets
                .iter()
                .map(|target| inner.send_with_retries(target, &request));
            futures::future::join_all(sends).await;
            drop(slot);
        });
        true
    }
}

impl Inner {
    fn request(&self, id: &str, reason: Takedown) -> PurgeRequest {
        // A `?redo` leaves `/img/{id}` as it was: only its placeholder URLs changed, which the tag
        // names and no URL Pixzoo keeps does.
        let urls = match reason {
            Takedown::Deleted if !self.public_url.is_empty() => {
                vec![format!(
                    "{}{}",
                    self.public_url,
                    crate::urls::image::image_path(id)
                )]
            }
            _ => Vec::new(),
        };
        PurgeRequest {
            reason,
            image_id: id.to_owned(),
            tags: vec![image_tag(id)],
            urls,
        }
    }

    async fn send_with_retries(&self, target: &Target, request: &PurgeRequest) {
        let name = target.name();
        let mut wait = self.backoff;
        for attempt in 1..=self.attempts {
            match target.send(&self.http, request).await {
                Ok(()) => {
                    metrics::counter!("pixzoo_purges_total", "target" => name, "result" => "ok")
                        .increment(1);
                    tracing::info!(to = name, image_id = %request.image_id, reason = request.reason.as_str(), attempt, "purged from the CDN");
                    return;
                }
                Err(err) if err.is_retryable() && attempt < self.attempts => {
                    metrics::counter!("pixzoo_purge_retries_total", "target" => name).increment(1);
                    tracing::warn!(to = name, image_id = %request.image_id, attempt, error = %err, "purge failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_WAIT);
                }
                Err(err) => {
                    metrics::counter!("pixzoo_purges_total", "target" => name, "result" => "failed")
                        .increment(1);
                    tracing::error!(to = name, image_id = %request.image_id, reason = request.reason.as_str(), attempt, error = %err, "purge failed: the CDN keeps its copies until they expire");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::secret::Secret;

    #[tokio::test]
    async fn purges_beyond_max_pending_are_dropped_not_queued() {
        // An endpoint that takes connections and never answers: every purge stays pending.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = PurgeConfig {
            max_pending: 2,
            ..PurgeConfig::default()
        };
        config.webhook.url = format!("http://{}/hook", listener.local_addr().unwrap());
        config.webhook.secret = Secret::new("whsec");
        let purger = Purger::from_config(&config, "").unwrap();
        assert!(purger.is_on());
        assert!(purger.takedown("a", Takedown::Deleted));
        assert!(purger.takedown("b", Takedown::Replaced));
        assert!(
            !purger.takedown("c", Takedown::Deleted),
            "the third is dropped"
        );
        assert!(!Purger::default().takedown("a", Takedown::Deleted));
    }

    #[test]
    fn only_failures_not_refusals_are_tried_again() {
        let status = |code| PurgeError::Status(reqwest::StatusCode::from_u16(code).unwrap());
        assert!(status(500).is_retryable() && status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(403).is_retryable() && !status(400).is_retryable());
        assert!(!PurgeError::Refused("1012 bad tag".into()).is_retryable());
    }

    #[test]
    fn a_delete_names_its_url_and_a_redo_only_its_tag() {
        let mut config = PurgeConfig::default();
        config.webhook.url = "http://127.0.0.1:9/hook".into();
        config.webhook.secret = Secret::new("whsec");
        let inner = |public_url| {
            Purger::from_config(&config, public_url)
                .unwrap()
                .inner
                .unwrap()
        };
        let on_site = inner("https://images.example.com/");
        let deleted = on_site.request("abc", Takedown::Deleted);
        assert_eq!(deleted.tags, ["pixzoo-img-abc"]);
        assert_eq!(deleted.urls, ["https://images.example.com/img/abc"]);
        assert!(on_site.request("abc", Takedown::Replaced).urls.is_empty());
        assert!(inner("").request("abc", Takedown::Deleted).urls.is_empty());
    }
}
