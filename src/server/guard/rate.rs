//! Per-client rate limits (GCRA, from the `governor` crate): one for every request, stricter ones for
//! new generations and new derivatives.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::server::config::SecurityConfig;

pub struct RateLimits {
    requests: Option<DefaultKeyedRateLimiter<String>>,
    generations: Option<DefaultKeyedRateLimiter<String>>,
    derivatives: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter(quota: Option<Quota>) -> Option<DefaultKeyedRateLimiter<String>> {
    quota.map(RateLimiter::dashmap)
}

fn quota(rate: u32, burst: u32, per: fn(NonZeroU32) -> Quota) -> Option<Quota> {
    let rate = NonZeroU32::new(rate)?;
    Some(per(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(rate)))
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
