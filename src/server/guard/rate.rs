//! Per-client rate limits (GCRA, from the `governor` crate): one for every request, stricter ones for
//! new generations and new derivatives.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::server::config::SecurityConfig;
use crate::server::storage::{CatalogError, SharedCounters};

pub struct RateLimits {
    requests: Option<DefaultKeyedRateLimiter<String>>,
    generations: Option<DefaultKeyedRateLimiter<String>>,
    derivatives: Option<DefaultKeyedRateLimiter<String>>,
    /// (per minute, burst) of the generation and derivative limits, for counting them across
    /// instances instead (`SharedCounters`).
    generation_quota: Option<(u32, u32)>,
    derivative_quota: Option<(u32, u32)>,
}

fn limiter(quota: Option<Quota>) -> Option<DefaultKeyedRateLimiter<String>> {
    quota.map(RateLimiter::dashmap)
}

fn quota(rate: u32, burst: u32, per: fn(NonZeroU32) -> Quota) -> Option<Quota> {
    let rate = NonZeroU32::new(rate)?;
    Some(per(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(rate)))
}

/// A per-minute limit as the shared counters take it; `None` when off.
fn shared_quota(rate: u32, burst: u32) -> Option<(u32, u32)> {
    (rate > 0).then_some((rate, if burst == 0 { rate } else { burst }))
}

/// The wait before `client` may pass, if it may not now.
fn check(limiter: &Option<DefaultKeyedRateLimiter<String>>, client: &str) -> Result<(), Duration> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter
        .check_key(&client.to_owned())
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl RateLimits {
    pub fn new(config: &SecurityConfig) -> Self {
        Self {
            requests: limiter(quota(
                config.requests_per_second,
                config.request_burst,
                Quota::per_second,
            )),
            generations: limiter(quota(
                config.generations_per_minute,
                config.generation_burst,
                Quota::per_minute,
            )),
            derivatives: limiter(quota(
                config.derivatives_per_minute,
                config.derivative_burst,
                Quota::per_minute,
            )),
            generation_quota: shared_quota(config.generations_per_minute, config.generation_burst),
            derivative_quota: shared_quota(config.derivatives_per_minute, config.derivative_burst),
        }
    }

    /// Counts a new derivative against the client's limit, across instances when `shared` is given.
    pub async fn derivative_everywhere(
        &self,
        client: &str,
        shared: Option<&dyn SharedCounters>,
    ) -> Result<Result<(), Duration>, CatalogError> {
        match (shared, self.derivative_quota) {
            (Some(shared), Some((rate, burst))) => {
                shared
                    .pass(&format!("derivative:{client}"), rate, burst)
                    .await
            }
            _ => Ok(self.derivative(client)),
        }
    }

    /// Counts a new generation against the client's limit, across instances when `shared` is given.
    pub async fn generation_everywhere(
        &self,
        client: &str,
        shared: Option<&dyn SharedCounters>,
    ) -> Result<Result<(), Duration>, CatalogError> {
        match (shared, self.generation_quota) {
            (Some(shared), Some((rate, burst))) => {
                shared
                    .pass(&format!("generation:{client}"), rate, burst)
                    .await
            }
            _ => Ok(self.generation(client)),
        }
    }

    /// Counts a new derivative against the client's derivative limit.
    pub fn derivative(&self, client: &str) -> Result<(), Duration> {
        check(&self.derivatives, client)
    }

    /// Counts a request against the client's general limit.
    pub fn request(&self, client: &str) -> Result<(), Duration> {
        check(&self.requests, client)
    }

    /// Counts a new generation against the client's generation limit.
    pub fn generation(&self, client: &str) -> Result<(), Duration> {
        check(&self.generations, client)
    }

    /// Forgets clients whose buckets are full again, so memory follows recent clients only.
    pub fn forget_idle(&self) {
        for limiter in [&self.requests, &self.generations, &self.derivatives]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_client_waits_and_others_do_not() {
        let limits = RateLimits::new(&SecurityConfig {
            generations_per_minute: 10,
            generation_burst: 3,
            ..SecurityConfig::default()
        });
        for _ in 0..3 {
            assert!(limits.generation("ip:10.0.0.1").is_ok());
        }
        let wait = limits.generation("ip:10.0.0.1").unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        assert!(limits.generation("ip:10.0.0.2").is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = RateLimits::new(&SecurityConfig {
            requests_per_second: 0,
            ..SecurityConfig::default()
        });
        for _ in 0..10_000 {
            assert!(limits.request("ip:10.0.0.1").is_ok());
        }
    }
}
