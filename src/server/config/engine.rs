//! `[engine]`: retries and deadlines around provider calls, and the CPU pool's size.

use serde::{Deserialize, Serialize};

use super::check::at_least_one;
use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Provider calls per generation, the first included.
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// The whole generation, retries and waits included.
    pub deadline_secs: u64,
    /// Largest image a provider may return, and largest transform input or output, in pixels.
    pub max_output_pixels: u64,
    /// CPU-heavy jobs running at once (transforms, builtin renders, checks of provider output); 0 = one
    /// per core.
    pub transform_workers: usize,
    /// Transforms allowed to wait for a worker; beyond that requests get 503 with Retry-After.
    pub transform_queue: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff_base_ms: 500,
            backoff_max_ms: 10_000,
            deadline_secs: 180,
            max_output_pixels: 50_000_000,
            transform_workers: 0,
            transform_queue: 64,
        }
    }
}

impl EngineConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("engine.deadline_secs", self.deadline_secs)?;
        at_least_one("engine.max_attempts", u64::from(self.max_attempts))
    }
}
