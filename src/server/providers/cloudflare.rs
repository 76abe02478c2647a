//! Cloudflare Workers AI: `POST /client/v4/accounts/{id}/ai/run/{model}`. FLUX answers a JSON envelope
//! with a base64 JPEG; the Stable Diffusion models answer raw image bytes. Errors come in the envelope
//! (`success: false`), sometimes with HTTP 200.
//!
//! Several accounts are used in turn. One that is rate limited (3040) rests for `cooldown_secs`, one whose
//! daily allocation is used (3036) rests until 00:00 UTC, one whose token is refused is taken out; the
//! request then moves on to the next account.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::AUTHORIZATION;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::http::{self, base64_bytes, status_error, transport_error};
use super::provider::{ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use crate::server::config::{CloudflareAccount, CloudflareConfig};

const NAME: &str = crate::server::config::ProviderKind::Cloudflare.name();
const RATE_LIMITED: i64 = 3040;
const DAILY_QUOTA: i64 = 3036;
const AUTH_ERROR: i64 = 10000;
/// Workers AI's "internal server error": Cloudflare's fault, worth another attempt like a 5xx.
const INTERNAL_ERROR: i64 = 3043;

pub struct Cloudflare {
    client: reqwest::Client,
    base: Url,
    timeout: Duration,
    cooldown: Duration,
    accounts: Vec<Account>,
    next: AtomicUsize,
}

struct Account {
    id: String,
    token: crate::server::secret::Secret,
    state: Mutex<AccountState>,
}

#[derive(Debug, Clone, Copy, Default)]
enum AccountState {
    #[default]
    Ready,
    RestingUntil(Instant),
    Disabled,
}

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<CfError>,
}

#[derive(Debug, Deserialize)]
struct CfError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// Why one account's attempt did not produce a body.
enum Attempt {
    /// Try the next account.
    NextAccount(ProviderError),
    /// Stop: the request itself is at fault, or the account is fine but upstream failed.
    Fail(ProviderError),
}

impl Cloudflare {
    pub fn new(config: &CloudflareConfig, accounts: Vec<CloudflareAccount>) -> Self {
        let timeout = Duration::from_secs(config.timeout_secs);
        Self {
            client: http::client(timeout),
            base: Url::parse(&config.base_url).expect("validated base_url"),
            timeout,
            cooldown: Duration::from_secs(config.cooldown_secs),
            accounts: accounts
                .into_iter()
                .map(|a| Account {
                    id: a.account_id,
                    token: a.token,
                    state: Mutex::new(AccountState::Ready),
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Shared with the prompt pipeline: runs `model` with `input` on the next available account.
    pub async fn run_json(&self, model: &str, input: &Value) -> Result<Value, ProviderError> {
        let body = self.run(model, input).await?;
        Ok(parse_envelope(&body)?.result)
    }

    async fn run(&self, model: &str, input: &Value) -> Result<bytes::Bytes, ProviderError> {
        let mut last = None;
        for index in self.rotation() {
            match self.attempt(&self.accounts[index], model, input).await {
                Ok(body) => return Ok(body),
                Err(Attempt::NextAccount(err)) => last = Some(err),
                Err(Attempt::Fail(err)) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| self.all_resting()))
    }

    /// Account indices to try, starting after the last one used, skipping resting and disabled ones.
    fn rotation(&self) -> Vec<usize> {
        let n = self.accounts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = Instant::now();
        (0..n)
            .map(|i| (start + i) % n)
            .filter(|&i| {
                let mut state = self.accounts[i]
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match *state {
                    AccountState::Ready => true,
                    AccountState::Disabled => false,
                    AccountState::RestingUntil(until) if until <= now => {
                        *state = AccountState::Ready;
                        true
                    }
                    AccountState::RestingUntil(_) => false,
                }
            })
            .collect()
    }

    fn all_resting(&self) -> ProviderError {
        let now = Instant::now();
        let soonest = self
            .accounts
            .iter()
            .filter_map(
                |a| match *a.state.lock().unwrap_or_else(|e| e.into_inner()) {
                    AccountState::RestingUntil(until) => Some(until.saturating_duration_since(now)),
                    _ => None,
                },
            )
            .min();
        match soonest {
            Some(wait) => ProviderError::RateLimited {
                provider: NAME,
                message: "every Cloudflare account is resting".into(),
                retry_after: Some(wait),
            },
            None => ProviderError::Unauthorized { provider: NAME },
        }
    }

    fn rest(&self, account: &Account, until: Instant) {
        *account.state.lock().unwrap_or_else(|e| e.into_inner()) =
            AccountState::RestingUntil(until);
    }

    async fn attempt(
        &self,
        account: &Account,
        model: &str,
        input: &Value,
    ) -> Result<bytes::Bytes, Attempt> {
        let url = http::endpoint(
            &self.base,
            &format!("client/v4/accounts/{}/ai/run/{model}", account.id),
        );
        let response = self
            .client
            .post(url)
            .header(AUTHORIZATION, format!("Bearer {}", account.token.expose()))
            .json(input)
            .send()
            .await
            .map_err(|e| Attempt::Fail(transport_error(NAME, self.timeout, e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::read_body(NAME, self.timeout, response)
            .await
            .map_err(Attempt::Fail)?;
        let envelope = looks_like_json(&body)
            .then(|| serde_json::from_slice::<Envelope>(&body).ok())
            .flatten();
        let codes: Vec<i64> = envelope
            .iter()
            .flat_map(|e| e.errors.iter().map(|e| e.code))
            .collect();
        let message = envelope
            .as_ref()
            .map(|e| {
                e.errors
                    .iter()
                    .map(|e| format!("{} (code {})", e.message, e.code))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));

        if codes.contains(&DAILY_QUOTA) {
            self.rest(account, Instant::now() + until_utc_midnight());
            metrics::counter!("pixzoo_account_cooldowns_total", "provider" => NAME, "reason" => "daily_quota")
                .increment(1);
            tracing::warn!(account = %account_label(account), "Cloudflare daily allocation used; resting until 00:00 UTC");
            return Err(Attempt::NextAccount(ProviderError::QuotaExhausted {
                provider: NAME,
                message,
                retry_after: Some(until_utc_midnight()),
            }));
        }
        if codes.contains(&RATE_LIMITED) || status == StatusCode::TOO_MANY_REQUESTS {
            let wait = http::retry_after(&headers).unwrap_or(self.cooldown);
            self.rest(account, Instant::now() + wait);
            metrics::counter!("pixzoo_account_cooldowns_total", "provider" => NAME, "reason" => "rate_limit")
                .increment(1);
            tracing::warn!(account = %account_label(account), wait_secs = wait.as_secs(), "Cloudflare rate limit; account resting");
            return Err(Attempt::NextAccount(ProviderError::RateLimited {
                provider: NAME,
                message,
                retry_after: Some(wait),
            }));
        }
        if codes.contains(&AUTH_ERROR)
            || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        {
            *account.state.lock().unwrap_or_else(|e| e.into_inner()) = AccountState::Disabled;
            tracing::error!(account = %account_label(account), "Cloudflare refused this account's token; account disabled");
            return Err(Attempt::NextAccount(ProviderError::Unauthorized {
                provider: NAME,
            }));
        }
        if !status.is_success() {
            return Err(Attempt::Fail(status_error(NAME, status, &headers, message)));
        }
        if codes.contains(&INTERNAL_ERROR) {
            return Err(Attempt::Fail(ProviderError::Upstream {
                provider: NAME,
                message,
            }));
        }
        if envelope.as_ref().is_some_and(|e| !e.success) {
            return Err(Attempt::Fail(ProviderError::BadRequest {
                provider: NAME,
                message,
            }));
        }
        Ok(body)
    }
}

/// Account ids are not secret, but a short form is enough for the log.
fn account_label(account: &Account) -> String {
    account.id.chars().take(8).collect()
}

fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn parse_envelope(body: &[u8]) -> Result<Envelope, ProviderError> {
    serde_json::from_slice(body).map_err(|err| ProviderError::Upstream {
        provider: NAME,
        message: format!("unreadable response: {err}"),
    })
}

fn until_utc_midnight() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Duration::from_secs(86_400 - now % 86_400)
}

fn is_flux(model: &str) -> bool {
    model.contains("flux")
}

#[async_trait::async_trait]
impl ImageProvider for Cloudflare {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError> {
        let model = &request.upstream_model;
        let input = if is_flux(model) {
            if request.edit.is_some() {
                return Err(ProviderError::BadRequest {
                    provider: NAME,
                    message: format!("{model} makes images from prompts only; it cannot edit"),
                });
            }
            let mut input = json!({ "prompt": request.prompt });
            if let Some(steps) = request.steps {
                input["steps"] = json!(steps.min(8));
            }
            input
        } else {
            let mut input = json!({
                "prompt": request.prompt,
                "width": request.width,
                "height": request.height,
                "guidance": 7.5,
            });
            if let Some(steps) = request.steps {
                input["num_steps"] = json!(steps.min(20));
            }
            if let Some(seed) = request.seed {
                input["seed"] = json!(seed);
            }
            if let Some(negative) = &request.negative_prompt {
                input["negative_prompt"] = json!(negative);
            }
            // The runwayml img2img and inpainting models take images as arrays of byte values.
            if let Some(edit) = &request.edit {
                input["image"] = json!(edit.image.to_vec());
                input["strength"] = json!(edit.strength());
                if let Some(mask) = &edit.mask {
                    input["mask"] = json!(mask.to_vec());
                }
            }
            input
        };
        let body = self.run(model, &input).await?;
        let bytes = if looks_like_json(&body) {
            let result = parse_envelope(&body)?.result;
            let image = result["image"]
                .as_str()
                .ok_or_else(|| ProviderError::InvalidOutput {
                    provider: NAME,
                    message: "the response has no result.image".into(),
                })?;
            base64_bytes(NAME, image)?
        } else {
            // Raw bytes; the engine sniffs the real format whatever Content-Type said.
            body
        };
        Ok(ProviderImage {
            bytes,
            seed: request.seed,
        })
    }
}
