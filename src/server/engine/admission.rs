//! The ticket a request brings: asked before anything new that costs is started (a provider call, a
//! new derivative, a new upload). [`Open`] admits everything.

use super::errors::EngineError;
use crate::server::config::ModelConfig;

/// Asked once before a request starts a NEW generation (a provider call). Stored images and requests
/// that join a generation already running never ask, so they cost nothing against limits and budgets.
/// The HTTP edge's implementation (`server::guard`) checks signatures, rate limits and budgets.
#[async_trait::async_trait]
pub trait Admission: Send + Sync + 'static {
    async fn admit(&self, model: &ModelConfig) -> Result<(), EngineError>;

    /// Asked before a request makes a NEW derivative (a transform nobody has asked for yet). Stored
    /// derivatives and transforms already being made for someone else never ask.
    async fn admit_derivative(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Asked before an upload that is not stored yet is decoded and stored.
    async fn admit_upload(&self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Admits everything: for tools and tests that run the engine directly.
pub struct Open;

#[async_trait::async_trait]
impl Admission for Open {
    async fn admit(&self, _model: &ModelConfig) -> Result<(), EngineError> {
        Ok(())
    }
}
