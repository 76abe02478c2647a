//! Prometheus metrics through the `metrics` facade: code records with `counter!`/`histogram!`/`gauge!`
//! where things happen, and `GET /metrics` renders the exporter's text format. The metric names are
//! listed here so the set stays small and documented.
//!
//! - `pixzoo_http_requests_total{route,status}`, `pixzoo_http_request_seconds{route}`
//! - `pixzoo_generations_total{provider,outcome}`, `pixzoo_generation_seconds{provider,outcome}`
//! - `pixzoo_cache_total{kind,result}` (kind: image | derivative; result: hit | miss)
//! - `pixzoo_flight_joins_total{kind}` (requests that joined identical work already running)
//! - `pixzoo_transform_seconds`, `pixzoo_transform_queue` (transforms waiting for a worker)
//! - `pixzoo_provider_retries_total{provider}`, `pixzoo_account_cooldowns_total{provider,reason}`
//! - `pixzoo_refusals_total{reason}` (rate limits, budgets, signatures)

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once; later calls (more servers in one test process) share it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ])
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed, which this crate never does.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The metrics in Prometheus' text format.
pub fn render() -> String {
    install().render()
}

/// Counts a request and records how long it took. The handles are registered once per route and
/// status and kept: the labelled macros would build and hash their keys on every request, a
/// measurable share of serving a cached image.
pub fn observe_request(route: &'static str, status: StatusCode, took: Duration) {
    type Handles = HashMap<(&'static str, u16), (Counter, Histogram)>;
    static HANDLES: OnceLock<RwLock<Handles>> = OnceLock::new();
    let handles = HANDLES.get_or_init(Default::default);
    let key = (route, status.as_u16());
    let known = handles
        .read()
        .ok()
        .and_then(|known| known.get(&key).cloned());
    let (count, seconds) = known.unwrap_or_else(|| {
        let made = (
            metrics::counter!(
                "pixzoo_http_requests_total",
                "route" => route,
                "status" => status.as_str().to_owned()
            ),
            metrics::histogram!("pixzoo_http_request_seconds", "route" => route),
        );
        if let Ok(mut known) = handles.write() {
            known.insert(key, made.clone());
        }
        made
    });
    count.increment(1);
    seconds.record(took.as_secs_f64());
}

/// A bounded label for a request path: the route's shape, never its parameters.
pub fn route_label(path: &str) -> &'static str {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("img"), Some(_), None) => "/img/{id}",
        (Some("img"), Some(_), Some(_)) => "/img/{id}/{options}",
        (Some("api"), Some("image"), _) => "/api/image",
        (Some("api"), Some("models"), _) => "/api/models",
        (Some("api"), Some("images"), None) => "/api/images",
        (Some("api"), Some("images"), Some(_)) => "/api/images/{id}",
        (Some("api"), Some("openapi.json"), _) => "/api/openapi.json",
        (Some("api"), _, _) => "/api/other",
        (Some("v1"), _, _) => "/v1/images/generations",
        (Some("sfn"), _, _) => "/sfn/{fn}",
        (Some("pkg"), _, _) => "/pkg",
        (Some("healthz"), None, _) => "/healthz",
        (Some("metrics"), None, _) => "/metrics",
        (Some("auth" | "studio"), _, _) => "/forms",
        (Some(first), Some(_), None)
            if crate::urls::placeholder::parse_size(first, &Default::default()).is_ok() =>
        {
            "/{size}/{slug}"
        }
        _ => "page",
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn routes_are_labelled_by_shape() {
        assert_eq!(route_label("/img/abc"), "/img/{id}");
        assert_eq!(route_label("/img/abc/width=10"), "/img/{id}/{options}");
        assert_eq!(route_label("/800x600/a-sloth"), "/{size}/{slug}");
        assert_eq!(route_label("/gallery/abc"), "page");
        assert_eq!(route_label("/sfn/studio_setup"), "/sfn/{fn}");
        assert_eq!(route_label("/"), "page");
    }
}
