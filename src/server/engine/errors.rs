//! What can go wrong in the engine ([`EngineError`]), and how a failure is told to the waiters on
//! other instances ([`EngineError::as_failure`]).

use std::time::Duration;

use super::models::UnknownModel;
use crate::server::cpu::CpuError;
use crate::server::providers::ProviderError;
use crate::server::storage::{BlobError, CatalogError, Failure, FailureKind};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    UnknownModel(#[from] UnknownModel),
    /// Each face says this in its own words (it knows which field held the prompt).
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("{0}")]
    BadRequest(String),
    /// A model that cannot do what was asked (an edit, an inpainting, a variation); the message names
    /// the models that can.
    #[error("{0}")]
    Incapable(String),
    /// An upload over the size or pixel limit.
    #[error("{0}")]
    TooLarge(String),
    /// An upload that is not an image Pixzoo reads.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the generation did not finish within {}s", .0.as_secs())]
    Deadline(Duration),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Setup(String),
    #[error("the server is busy transforming other images; try again shortly")]
    Busy,
    /// A new generation this request may not start (no valid signature, for example).
    #[error("{0}")]
    Forbidden(String),
    /// The image was deleted while this request was being answered.
    #[error("{0}")]
    Gone(String),
    /// Too many new generations: from this client, or from this provider today.
    #[error("{message}")]
    Limited {
        message: String,
        retry_after: Duration,
    },
    /// Another instance did this work for this request, and it failed there.
    #[error("{}", .0.message)]
    Elsewhere(Failure),
}

impl EngineError {
    /// This failure as the waiters on other instances are told it. Faults inside the server stay
    /// here: they hear only that it failed.
    pub fn as_failure(&self) -> Failure {
        let kind = match self {
            EngineError::UnknownModel(_)
            | EngineError::EmptyPrompt
            | EngineError::BadRequest(_)
            | EngineError::Incapable(_)
            | EngineError::TooLarge(_)
            | EngineError::Unsupported(_) => FailureKind::BadRequest,
            EngineError::Forbidden(_) | EngineError::Gone(_) => FailureKind::Refused,
            EngineError::Limited { retry_after, .. } => {
                FailureKind::Limited(retry_after.as_secs().max(1))
            }
            EngineError::Provider(
                ProviderError::RateLimited { retry_after, .. }
                | ProviderError::QuotaExhausted { retry_after, .. },
            ) => FailureKind::Limited(retry_after.map_or(60, |d| d.as_secs().max(1))),
            EngineError::Provider(ProviderError::BadRequest { .. }) => FailureKind::BadRequest,
            EngineError::Provider(ProviderError::Timeout { .. }) | EngineError::Deadline(_) => {
                FailureKind::Timeout
            }
            EngineError::Provider(_) => FailureKind::Upstream,
            EngineError::Busy => FailureKind::Busy,
            EngineError::Elsewhere(failure) => return failure.clone(),
            EngineError::Catalog(_)
            | EngineError::Blob(_)
            | EngineError::Internal(_)
            | EngineError::Setup(_) => FailureKind::Internal,
        };
        let message = if kind == FailureKind::Internal {
            "the work failed on another instance".to_owned()
        } else {
            // A notification's payload is limited to 8000 bytes.
            self.to_string().chars().take(1000).collect()
        };
        Failure { kind, message }
    }
}

impl EngineError {
    /// What an [`Admission`](super::admission::Admission) says "no" with: a refusal of one request's ticket, not
    /// of the work.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            EngineError::Forbidden(_) | EngineError::Limited { .. }
        )
    }
}

impl From<CpuError> for EngineError {
    fn from(err: CpuError) -> Self {
        match err {
            CpuError::Busy => EngineError::Busy,
            CpuError::Failed(message) => EngineError::Internal(message),
        }
    }
}
