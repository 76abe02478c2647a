//! A purge endpoint: Cloudflare's `POST /client/v4/zones/{zone}/purge_cache` envelope, which a
//! webhook receiver answering 2xx also satisfies. It records every request, answers the first
//! `failures` with a 500, and takes `delay` over each answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Router;
use serde_json::json;

/// One request the endpoint received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub struct Cdn {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Cdn {
    pub async fn start(failures: usize, delay: Duration) -> Self {
        let received = Arc::new(Mutex::new(Vec::<Received>::new()));
        let seen = received.clone();
        let router = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let count = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    seen.len()
                };
                tokio::time::sleep(delay).await;
                if count <= failures {
                    let errors = json!([{"code": 10000, "message": "internal error"}]);
                    let body = json!({"success": false, "errors": errors, "messages": [], "result": null});
                    return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
                }
                let body = json!({"success": true, "errors": [], "messages": [], "result": {"id": "purge-1"}});
                axum::Json(body).into_response()
            }
        });
        Self {
            base: super::serve(router).await,
            received,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The first `n` requests, once they have come (within ten seconds).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} purge requests expected, got {}", self.received().len());
    }
}
