//! The provider contract: the [`ImageProvider`] trait every provider implements, what it is asked
//! ([`ProviderRequest`], [`EditInput`]), what it returns ([`ProviderImage`]) and how it fails
//! ([`ProviderError`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

/// What a provider is asked to make, already fitted to what the model supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    /// The provider's own model name (`upstream` in the catalog).
    pub upstream_model: String,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    /// `None` when the model takes no seed.
    pub seed: Option<u32>,
    pub steps: Option<u32>,
    pub width: u32,
    pub height: u32,
    /// The size table's ratio label, for providers that take an aspect ratio instead of a size.
    pub aspect_ratio: Option<String>,
    /// Change this image instead of making one from nothing (only for models whose catalog entry
    /// says they can).
    pub edit: Option<EditInput>,
    /// Told each denoising step as it ends, by providers that run the steps themselves (local models).
    pub on_step: StepReport,
}

/// Where a provider reports the steps it has done: `(step, steps)`, from 1.
#[derive(Clone, Default)]
pub struct StepReport(Option<Arc<dyn Fn(u32, u32) + Send + Sync>>);

impl StepReport {
    pub fn new(report: impl Fn(u32, u32) + Send + Sync + 'static) -> Self {
        StepReport(Some(Arc::new(report)))
    }

    pub fn report(&self, step: u32, steps: u32) {
        if let Some(report) = &self.0 {
            report(step, steps);
        }
    }
}

impl std::fmt::Debug for StepReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StepReport"
        } else {
            "StepReport(none)"
        })
    }
}

/// Where progress goes is not part of what is asked: two requests that differ only there are equal.
impl PartialEq for StepReport {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for StepReport {}

/// An edit's inputs, prepared by the engine (`engine::edit`), the same for every provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditInput {
    /// The source as a PNG of exactly `width` × `height`.
    pub image: Bytes,
    /// Where to change it: a grayscale PNG of the same size, white = change, black = keep.
    pub mask: Option<Bytes>,
    /// How far from the source, in hundredths.
    pub strength: u8,
}

impl EditInput {
    /// The strength from 0 (keep the source) to 1 (ignore it), as providers take it.
    pub fn strength(&self) -> f64 {
        f64::from(self.strength) / 100.0
    }
}

/// An encoded image as a provider returned it.
#[derive(Debug, Clone, Default)]
pub struct ProviderImage {
    pub bytes: Bytes,
    /// The seed the provider reports it used, when it reports one.
    pub seed: Option<u32>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider} does not know model `{model}`")]
    UnknownModel {
        provider: &'static str,
        model: String,
    },
    #[error("{provider} is rate limiting requests: {message}")]
    RateLimited {
        provider: &'static str,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider}'s quota is used up: {message}")]
    QuotaExhausted {
        provider: &'static str,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider} rejected the request: {message}")]
    BadRequest {
        provider: &'static str,
        message: String,
    },
    #[error("{provider} refused Pixzoo's credentials; check its configuration")]
    Unauthorized { provider: &'static str },
    #[error("{provider} failed: {message}")]
    Upstream {
        provider: &'static str,
        message: String,
    },
    /// The provider ran the job and it failed (a failed prediction, e.g. a safety filter): trying again
    /// would only pay for the same failure.
    #[error("{provider} could not make the image: {message}")]
    Failed {
        provider: &'static str,
        message: String,
    },
    #[error("{provider} did not answer within {}s", after.as_secs())]
    Timeout {
        provider: &'static str,
        after: Duration,
    },
    #[error("{provider} returned no usable image: {message}")]
    InvalidOutput {
        provider: &'static str,
        message: String,
    },
}

impl ProviderError {
    /// Worth another attempt: rate limits, server errors, timeouts. Never quota or request errors.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Upstream { .. }
                | ProviderError::Timeout { .. }
        )
    }

    /// How long the provider asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. }
            | ProviderError::QuotaExhausted { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[async_trait::async_trait]
pub trait ImageProvider: Send + Sync {
    /// The name models refer to in `catalog.models.provider`.
    fn name(&self) -> &'static str;

    /// Whether its output is produced in-process and needs no decode check (the builtin renderer).
    fn trusted_output(&self) -> bool {
        false
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError>;
}
