//! Abuse control: who may start a new generation, and how often anyone may ask for anything.
//!
//! The engine asks [`Ticket::admit`] only when a request would start a NEW generation, so stored images
//! and requests that join a generation already running cost nothing against generation limits, budgets
//! or signatures. Every request counts against the general limit (`http::limits`).

mod budget;
pub mod client;
mod rate;
mod sign_in;
pub mod signing;

use std::sync::Arc;
use std::time::Duration;

use crate::server::config::{DerivativeMode, ModelConfig, SecurityConfig};
use crate::server::engine::{Admission, EngineError};
use crate::server::secret::Secret;
use crate::server::storage::{Coordination, Usage};
use budget::{BudgetError, DailyBudget};
pub use client::{Client, ClientRules};
use rate::RateLimits;
pub use sign_in::SignInThrottle;

pub struct Guard {
    signing_keys: Vec<Secret>,
    pub clients: ClientRules,
    rates: RateLimits,
    budget: DailyBudget,
    usage: Arc<dyn Usage>,
    /// Where limits and budgets are counted when several instances share a catalog.
    coordination: Arc<dyn Coordination>,
    derivatives: DerivativeMode,
    /// Wrong keys at the studio's sign-in, per address.
    pub sign_ins: SignInThrottle,
}

/// What the route knows about the URL's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// The route does not use signed URLs (the API and the studio have their own authorisation).
    NotRequired,
    Valid,
    Missing,
    Invalid,
}

impl Guard {
    pub fn new(
        config: &SecurityConfig,
        usage: Arc<dyn Usage>,
        coordination: Arc<dyn Coordination>,
    ) -> Self {
        Self {
            signing_keys: config.signing_keys(),
            clients: ClientRules {
                proxy_header: (!config.client_ip_header.trim().is_empty())
                    .then(|| axum::http::HeaderName::try_from(config.client_ip_header.trim()).ok())
                    .flatten(),
                ipv6_prefix: config.ipv6_prefix,
            },
            rates: RateLimits::new(config),
            budget: DailyBudget::new(config.daily_budget.clone()),
            usage,
            coordination,
            derivatives: config.derivatives,
            sign_ins: SignInThrottle::default(),
        }
    }

    pub fn signing_keys(&self) -> &[Secret] {
        &self.signing_keys
    }

    /// Whether `/{W}x{H}/{slug}` needs a signature to generate.
    pub fn signs_urls(&self) -> bool {
        !self.signing_keys.is_empty()
    }

    /// Checks `sig` on a placeholder URL.
    pub fn signature(&self, path: &str, query: Option<&str>, sig: Option<&str>) -> Signature {
        match sig {
            None => Signature::Missing,
            Some(sig) if signing::verify(&self.signing_keys, path, query, sig) => Signature::Valid,
            Some(_) => Signature::Invalid,
        }
    }

    /// Counts a request against the client's general limit.
    pub fn request(&self, client: &Client) -> Result<(), Duration> {
        self.rates.request(client)
    }

    pub fn forget_idle(&self) {
        self.rates.forget_idle();
    }

    /// The admission a request from `client` carries into the engine.
    pub fn ticket(self: &Arc<Self>, client: Client, signature: Signature) -> Arc<dyn Admission> {
        Arc::new(Ticket {
            guard: self.clone(),
            client,
            signature,
            new_derivatives: Ok(()),
        })
    }

    /// The admission of a request that may make a derivative: whether it may make a new one follows
    /// `security.derivatives`, whether the request is vouched for (`Caller::vouched`: a valid
    /// signature or the API key), what it asks for, and the signature.
    pub fn derivative_ticket(
        self: &Arc<Self>,
        client: Client,
        signature: Signature,
        vouched: bool,
        asked: DerivativeAsk,
    ) -> Arc<dyn Admission> {
        let new_derivatives = match (self.derivatives, asked) {
            _ if vouched => Ok(()),
            (DerivativeMode::Open, _) | (_, DerivativeAsk::OwnPlaceholder) => Ok(()),
            (DerivativeMode::Presets, DerivativeAsk::Presets) => Ok(()),
            (DerivativeMode::Presets, DerivativeAsk::Options) => Err(
                "this size or filter of the image is not stored yet, and new ones are made only from named presets (`preset=NAME`) or a signed URL (`sig`)",
            ),
            (DerivativeMode::Presets, DerivativeAsk::Placeholder) => Err(
                "this size, format or filter of the image is not stored yet, and new ones are made only from named presets (`/img/{id}/preset=NAME`) or a signed URL (`sig`)",
            ),
            (DerivativeMode::Signed, _) => Err(
                "this size or filter of the image is not stored yet, and new ones need a signed URL (`sig`); ask the server's owner for one",
            ),
        };
        let new_derivatives = match (new_derivatives, signature) {
            (Err(_), Signature::Invalid) => Err("the URL's signature (`sig`) does not match it"),
            (other, _) => other,
        };
        Arc::new(Ticket {
            guard: self.clone(),
            client,
            signature,
            new_derivatives,
        })
    }
}

/// What a request asks to derive, as `security.derivatives` judges a new derivative of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivativeAsk {
    /// `/img/{id}/{options}` made of named presets only: open in `presets` mode.
    Presets,
    /// `/img/{id}/{options}` with options of its own.
    Options,
    /// A placeholder URL's size and format of the image this very request generated: part of making
    /// it, so admitted under the generation rules, in every mode.
    OwnPlaceholder,
    /// Anything else a placeholder URL asks of a stored image (another size, format or a filter):
    /// no preset names it.
    Placeholder,
}

struct Ticket {
    guard: Arc<Guard>,
    client: Client,
    signature: Signature,
    /// Whether `security.derivatives` lets this request make a derivative, and if not, why.
    new_derivatives: Result<(), &'static str>,
}

#[async_trait::async_trait]
impl Admission for Ticket {
    async fn admit_derivative(&self) -> Result<(), EngineError> {
        self.new_derivatives
            .map_err(|why| EngineError::Forbidden(why.into()))?;
        let guard = &self.guard;
        guard
            .rates
            .derivatives
            .pass(&self.client, guard.coordination.counters())
            .await?
            .map_err(|wait| EngineError::Limited {
                message: "too many new transforms from this client; wait a little".into(),
                retry_after: wait.max(Duration::from_secs(1)),
            })
    }

    async fn admit_upload(&self) -> Result<(), EngineError> {
        let guard = &self.guard;
        guard
            .rates
            .uploads
            .pass(&self.client, guard.coordination.counters())
            .await?
            .map_err(|wait| EngineError::Limited {
                message: "too many new uploads from this client; wait a little".into(),
                retry_after: wait.max(Duration::from_secs(1)),
            })
    }

    async fn admit(&self, model: &ModelConfig) -> Result<(), EngineError> {
        let guard = &self.guard;
        if guard.signs_urls() {
            match self.signature {
                Signature::NotRequired | Signature::Valid => {}
                Signature::Missing => {
                    return Err(EngineError::Forbidden(
                        "this image is not stored yet, and new images need a signed URL (`sig`); ask the server's owner for one".into(),
                    ))
                }
                Signature::Invalid => {
                    return Err(EngineError::Forbidden(
                        "the URL's signature (`sig`) does not match it".into(),
                    ))
                }
            }
        }
        guard
            .rates
            .generations
            .pass(&self.client, guard.coordination.counters())
            .await?
            .map_err(|wait| EngineError::Limited {
                message: "too many new images from this client; wait a little".into(),
                retry_after: wait.max(Duration::from_secs(1)),
            })?;
        match guard
            .budget
            .take(
                &model.provider,
                guard.usage.as_ref(),
                guard.coordination.counters(),
                crate::server::clock::now_millis(),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(err @ BudgetError::Spent { resets_in, .. }) => Err(EngineError::Limited {
                message: err.to_string(),
                retry_after: resets_in.max(Duration::from_secs(1)),
            }),
            Err(BudgetError::Catalog(err)) => Err(err.into()),
        }
    }
}
