//! Per-client rate limits (GCRA, from the `governor` crate): one for every request, stricter ones for
//! new generations, new derivatives and new uploads.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Client;
use crate::server::config::SecurityConfig;
use crate::server::storage::{CatalogError, SharedCounters};

pub struct RateLimits {
    requests: Option<DefaultKeyedRateLimiter<Client>>,
    pub generations: PerMinute,
    pub derivatives: PerMinute,
    pub uploads: PerMinute,
}

/// A per-client limit per minute on one kind of new work, counted here or, when several instances
/// share a catalog, in its counters.
pub struct PerMinute {
    /// The counters' key prefix: `generation`, `derivative`, `upload`.
    name: &'static str,
    local: Option<DefaultKeyedRateLimiter<Client>>,
    /// (per minute, burst) as the shared counters take it; `None` when off.
    quota: Option<(u32, u32)>,
}

impl PerMinute {
    fn new(name: &'static str, rate: u32, burst: u32) -> Self {
        Self {
            name,
            local: limiter(quota(rate, burst, Quota::per_minute)),
            quota: (rate > 0).then_some((rate, if burst == 0 { rate } else { burst })),
        }
    }

    /// Counts one against `client`, across instances when `shared` is given; the wait if it may not.
    pub async fn pass(
        &self,
        client: &Client,
        shared: Option<&dyn SharedCounters>,
    ) -> Result<Result<(), Duration>, CatalogError> {
        match (shared, self.quota) {
            (Some(shared), Some((rate, burst))) => {
                shared
                    .pass(&format!("{}:{client}", self.name), rate, burst)
                    .await
            }
            _ => Ok(self.here(client)),
        }
    }

    /// Counts one against `client` in this instance only.
    pub fn here(&self, client: &Client) -> Result<(), Duration> {
        check(&self.local, client)
    }
}

fn limiter(quota: Option<Quota>) -> Option<DefaultKeyedRateLimiter<Client>> {
    quota.map(RateLimiter::dashmap)
}

fn quota(rate: u32, burst: u32, per: fn(NonZeroU32) -> Quota) -> Option<Quota> {
    let rate = NonZeroU32::new(rate)?;
    Some(per(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(rate)))
}

/// The wait before `client` may pass, if it may not now.
fn check(
    limiter: &Option<DefaultKeyedRateLimiter<Client>>,
    client: &Client,
) -> Result<(), Duration> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter
        .check_key(client)
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
            generations: PerMinute::new(
                "generation",
                config.generations_per_minute,
                config.generation_burst,
            ),
            derivatives: PerMinute::new(
                "derivative",
                config.derivatives_per_minute,
                config.derivative_burst,
            ),
            uploads: PerMinute::new("upload", config.uploads_per_minute, config.upload_burst),
        }
    }

    /// Counts a request against the client's general limit.
    pub fn request(&self, client: &Client) -> Result<(), Duration> {
        check(&self.requests, client)
    }

    /// Forgets clients whose buckets are full again, so memory follows recent clients only.
    pub fn forget_idle(&self) {
        for limiter in [
            &self.requests,
            &self.generations.local,
            &self.derivatives.local,
            &self.uploads.local,
        ]
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

    fn ip(text: &str) -> Client {
        crate::server::guard::ClientRules::default().ip(text.parse().unwrap())
    }

    #[test]
    fn a_burst_passes_then_the_client_waits_and_others_do_not() {
        let limits = RateLimits::new(&SecurityConfig {
            generations_per_minute: 10,
            generation_burst: 3,
            ..SecurityConfig::default()
        });
        for _ in 0..3 {
            assert!(limits.generations.here(&ip("10.0.0.1")).is_ok());
        }
        let wait = limits.generations.here(&ip("10.0.0.1")).unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        assert!(limits.generations.here(&ip("10.0.0.2")).is_ok());
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = RateLimits::new(&SecurityConfig {
            requests_per_second: 0,
            ..SecurityConfig::default()
        });
        for _ in 0..10_000 {
            assert!(limits.request(&ip("10.0.0.1")).is_ok());
        }
    }
}
