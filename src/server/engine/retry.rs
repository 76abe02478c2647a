//! When to try a provider again: bounded attempts, exponential backoff with full jitter, and the
//! provider's own `Retry-After` when it gave one.

use std::time::Duration;

use rand::Rng;

use crate::server::config::EngineConfig;
use crate::server::providers::ProviderError;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &EngineConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            base: Duration::from_millis(config.backoff_base_ms),
            max: Duration::from_millis(config.backoff_max_ms),
        }
    }

    /// How long to wait after failed attempt number `attempt` (1-based), or `None` to give up.
    /// `time_left` is what remains of the deadline.
    pub fn next_delay(
        &self,
        attempt: u32,
        err: &ProviderError,
        time_left: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !err.is_retryable() {
            return None;
        }
        if let Some(wait) = err.retry_after() {
            // Waiting past the deadline would only turn the provider's 429 into our 504: give up now
            // and pass its Retry-After on.
            return (wait < time_left).then_some(wait);
        }
        let ceiling = self
            .base
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.max);
        Some(ceiling.mul_f64(rand::rng().random_range(0.0..=1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(100),
            max: Duration::from_millis(250),
        }
    }

    fn upstream() -> ProviderError {
        ProviderError::Upstream {
            provider: "x",
            message: "503".into(),
        }
    }

    #[test]
    fn backoff_is_bounded_jittered_and_capped() {
        let p = policy();
        for _ in 0..100 {
            assert!(p.next_delay(1, &upstream(), LONG).unwrap() <= Duration::from_millis(100));
            assert!(p.next_delay(3, &upstream(), LONG).unwrap() <= Duration::from_millis(250));
        }
        assert_eq!(
            p.next_delay(4, &upstream(), LONG),
            None,
            "attempts are bounded"
        );
    }

    #[test]
    fn retry_after_wins_and_request_errors_are_final() {
        let limited = ProviderError::RateLimited {
            provider: "x",
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            policy().next_delay(1, &limited, LONG),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            policy().next_delay(1, &limited, Duration::from_secs(2)),
            None,
            "a wait past the deadline is the caller's 429, not our 504"
        );
        let bad = ProviderError::BadRequest {
            provider: "x",
            message: "no".into(),
        };
        assert_eq!(policy().next_delay(1, &bad, LONG), None);
        let quota = ProviderError::QuotaExhausted {
            provider: "x",
            message: "tomorrow".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            policy().next_delay(1, &quota, LONG),
            None,
            "quota is not retried"
        );
    }
}
