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
//! - `pixzoo_refusals_total{reason}` (rate limits, budgets, signatures, `sign_in_limit`,
//!   `connection_share`)
//! - `pixzoo_purges_total{target,result}` (target: cloudflare | webhook | all; result: ok | failed |
//!   dropped), `pixzoo_purge_retries_total{target}`

use std::sync::OnceLock;
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

/// A route, by the shape of its path, for its metrics label: `route("/img/abc")` is
/// [`Route::Original`], labelled `/img/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Original,
    Derivative,
    ApiImage,
    ApiModels,
    ApiImages,
    ApiImageById,
    OpenApi,
    ApiOther,
    OpenAi,
    ServerFunction,
    Pkg,
    Health,
    Metrics,
    Forms,
    Placeholder,
    Page,
}

impl Route {
    const COUNT: usize = Route::Page as usize + 1;

    pub fn label(self) -> &'static str {
        match self {
            Route::Original => "/img/{id}",
            Route::Derivative => "/img/{id}/{options}",
            Route::ApiImage => "/api/image",
            Route::ApiModels => "/api/models",
            Route::ApiImages => "/api/images",
            Route::ApiImageById => "/api/images/{id}",
            Route::OpenApi => "/api/openapi.json",
            Route::ApiOther => "/api/other",
            Route::OpenAi => "/v1/images/generations",
            Route::ServerFunction => "/sfn/{fn}",
            Route::Pkg => "/pkg",
            Route::Health => "/healthz",
            Route::Metrics => "/metrics",
            Route::Forms => "/forms",
            Route::Placeholder => "/{size}/{slug}",
            Route::Page => "page",
        }
    }
}

/// The route a path is answered by.
pub fn route(path: &str) -> Route {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("img"), Some(_), None) => Route::Original,
        (Some("img"), Some(_), Some(_)) => Route::Derivative,
        (Some("api"), Some("image"), _) => Route::ApiImage,
        (Some("api"), Some("models"), _) => Route::ApiModels,
        (Some("api"), Some("images"), None) => Route::ApiImages,
        (Some("api"), Some("images"), Some(_)) => Route::ApiImageById,
        (Some("api"), Some("openapi.json"), _) => Route::OpenApi,
        (Some("api"), _, _) => Route::ApiOther,
        (Some("v1"), _, _) => Route::OpenAi,
        (Some("sfn"), _, _) => Route::ServerFunction,
        (Some("pkg"), _, _) => Route::Pkg,
        (Some("healthz"), None, _) => Route::Health,
        (Some("metrics"), None, _) => Route::Metrics,
        (Some("auth" | "studio"), _, _) => Route::Forms,
        (Some(first), Some(_), None)
            if crate::urls::placeholder::parse_size(first, &Default::default()).is_ok() =>
        {
            Route::Placeholder
        }
        _ => Route::Page,
    }
}

/// Counts a request and records how long it took. The handles are registered on first use and kept
/// in a table by route and status, read without a lock: the labelled macros would build and hash
/// their keys on every request, and a shared lock is a cache line both cores fight over, each a
/// measurable share of serving a cached image.
pub fn observe_request(route: Route, status: StatusCode, took: Duration) {
    const STATUSES: usize = 500;
    type Row = [OnceLock<Counter>; STATUSES];
    static COUNTS: [Row; Route::COUNT] =
        [const { [const { OnceLock::new() }; STATUSES] }; Route::COUNT];
    static SECONDS: [OnceLock<Histogram>; Route::COUNT] = [const { OnceLock::new() }; Route::COUNT];
    let label = route.label();
    // `StatusCode` is 100 to 999; the table holds 100 to 599, what HTTP defines.
    if let Some(count) = COUNTS[route as usize].get(usize::from(status.as_u16()).wrapping_sub(100))
    {
        count
            .get_or_init(|| {
                metrics::counter!(
                    "pixzoo_http_requests_total",
                    "route" => label,
                    "status" => status.as_str().to_owned()
                )
            })
            .increment(1);
    }
    SECONDS[route as usize]
        .get_or_init(|| metrics::histogram!("pixzoo_http_request_seconds", "route" => label))
        .record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::route;

    fn route_label(path: &str) -> &'static str {
        route(path).label()
    }

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
