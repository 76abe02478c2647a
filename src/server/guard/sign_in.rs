//! Wrong keys at the studio's sign-in, counted per client address: a few are free (typing mistakes),
//! then each address waits longer after every further one, so guessing `API_KEY` from one address
//! takes years. The count is forgotten on a right key or after `MAX_WAIT` without a failure; the map
//! is bounded, so an attacker rotating addresses costs memory it cannot grow.

use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::Client;

/// Wrong keys an address may send before it waits.
const FREE_FAILURES: u32 = 5;
/// The longest wait, and how long an address's failures are remembered without a new one.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at once (a few megabytes); the least recently failing are forgotten first.
const MAX_ADDRESSES: u64 = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// 1 s after the last free failure, doubling with each one after it, up to `MAX_WAIT`.
    fn wait(&self) -> Duration {
        if self.count < FREE_FAILURES {
            return Duration::ZERO;
        }
        let doublings = (self.count - FREE_FAILURES).min(16);
        Duration::from_secs(1 << doublings).min(MAX_WAIT)
    }
}

pub struct SignInThrottle {
    failures: Cache<Client, Failures>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self {
            failures: Cache::builder()
                .max_capacity(MAX_ADDRESSES)
                .time_to_idle(MAX_WAIT)
                .build(),
        }
    }
}

impl SignInThrottle {
    /// How long `client` must wait before its key is looked at, if it must.
    pub fn wait(&self, client: &Client) -> Option<Duration> {
        let failures = self.failures.get(client)?;
        failures
            .wait()
            .checked_sub(failures.last.elapsed())
            .filter(|left| !left.is_zero())
    }

    /// Counts a wrong key from `client`.
    pub fn failed(&self, client: &Client) {
        self.failures
            .entry(client.clone())
            .and_upsert_with(|held| Failures {
                count: held.map_or(0, |h| h.into_value().count).saturating_add(1),
                last: Instant::now(),
            });
    }

    /// Forgets `client`'s wrong keys: it knows the key.
    pub fn succeeded(&self, client: &Client) {
        self.failures.invalidate(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Client {
        crate::server::guard::ClientRules::default().ip(text.parse().unwrap())
    }

    #[test]
    fn wrong_keys_past_the_free_ones_make_one_address_wait_longer_each_time() {
        let throttle = SignInThrottle::default();
        let (guesser, other) = (ip("203.0.113.7"), ip("198.51.100.1"));
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed(&guesser);
            assert_eq!(throttle.wait(&guesser), None);
        }
        throttle.failed(&guesser);
        let first = throttle
            .wait(&guesser)
            .expect("waits after the free failures");
        assert!(first <= Duration::from_secs(1));
        throttle.failed(&guesser);
        let second = throttle.wait(&guesser).unwrap();
        assert!(second > first && second <= Duration::from_secs(2));
        for _ in 0..40 {
            throttle.failed(&guesser);
        }
        assert!(throttle.wait(&guesser).unwrap() <= MAX_WAIT);
        assert_eq!(
            throttle.wait(&other),
            None,
            "other addresses are not slowed"
        );
        throttle.succeeded(&guesser);
        assert_eq!(throttle.wait(&guesser), None);
    }
}
