//! `x-request-id` for requests that come without one: a random prefix drawn once per process and a
//! counter, so ids are unique across restarts and instances without asking the OS for randomness on
//! every request (a v4 UUID per request was a `getrandom` call on every cached image served).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

#[derive(Clone)]
pub struct Sequential {
    prefix: u64,
    next: Arc<AtomicU64>,
}

impl Sequential {
    pub fn new() -> Self {
        Self {
            prefix: rand::random(),
            next: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:016x}-{n:x}", self.prefix);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_within_a_process_and_between_processes() {
        let request = Request::new(());
        let mut first = Sequential::new();
        let mut other = Sequential::new();
        let a = first.make_request_id(&request).unwrap();
        let b = first.make_request_id(&request).unwrap();
        let c = other.make_request_id(&request).unwrap();
        assert_ne!(a.header_value(), b.header_value());
        assert_ne!(a.header_value(), c.header_value());
    }
}
