//! Limits every request passes before its handler: URL and header sizes, the client's general rate
//! limit, the same-origin rule for posts (`same_origin`), and a deadline for the answer. It also
//! records who the client is (`guard::Client`) for the handlers that start generations, and what was
//! answered: the request's metrics and its line in the log, one event at INFO. What is logged while
//! answering sits in a span with the request's id at DEBUG only: an enabled span per request (and
//! tower-http's `TraceLayer` around every body) cost a stored image's serving more than everything
//! else this layer does.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::guard::Client;
use crate::server::state::AppState;

pub async fn limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let route = crate::server::metrics::route(uri.path());
    // Set by the layer outside this one, for every request.
    let id = request.headers().get("x-request-id").cloned();
    let id = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-");
    // The path only: query strings may carry signatures or other secrets.
    let span = tracing::debug_span!("request", %method, path = uri.path(), id);
    let response = limit(&state, request, next).instrument(span).await;
    let took = started.elapsed();
    crate::server::metrics::observe_request(route, response.status(), took);
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::error!(%method, path = uri.path(), status, micros = took.as_micros() as u64, id, "answered");
    } else {
        tracing::info!(%method, path = uri.path(), status, micros = took.as_micros() as u64, id, "answered");
    }
    response
}

async fn limit(state: &AppState, mut request: Request, next: Next) -> Response {
    let security = &state.security;
    let url_bytes = request.uri().path().len() + request.uri().query().map_or(0, |q| q.len() + 1);
    if url_bytes > security.max_url_bytes {
        return ApiError::UriTooLong(format!(
            "the URL is {url_bytes} bytes; the limit is {}",
            security.max_url_bytes
        ))
        .into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > security.max_header_bytes {
        return ApiError::HeadersTooLarge(format!(
            "the headers are {header_bytes} bytes together; the limit is {}",
            security.max_header_bytes
        ))
        .into_response();
    }

    let caller = Caller::from_headers(state, request.headers());
    let client = if caller.holds_key() {
        Client::api_key()
    } else {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        state.guard.clients.client(request.headers(), peer)
    };
    if let Err(wait) = state.guard.request(&client) {
        metrics::counter!("pixzoo_refusals_total", "reason" => "request_limit").increment(1);
        return ApiError::RateLimited {
            message: "too many requests from this client; slow down".into(),
            retry_after: Some(wait.max(Duration::from_secs(1))),
        }
        .into_response();
    }
    request.extensions_mut().insert(client);
    request.extensions_mut().insert(caller);

    let deadline = Duration::from_secs(security.request_timeout_secs);
    if let Some(refused) = super::same_origin::refusal(state, &request) {
        return refused;
    }
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(format!(
            "no answer within {}s; try again",
            deadline.as_secs()
        ))
        .into_response(),
    }
}

/// The admission a handler passes to the engine: the guard's ticket for this request's client, for
/// routes with their own authorisation (the API, the studio) rather than signed URLs.
pub struct Admit(pub std::sync::Arc<dyn crate::server::engine::Admission>);

impl axum::extract::FromRequestParts<AppState> for Admit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(state.guard.ticket(
            client_of(&parts.extensions),
            crate::server::guard::Signature::NotRequired,
        )))
    }
}

/// The client the limits layer identified (a route outside it counts as "unknown").
pub fn client_of(extensions: &axum::http::Extensions) -> Client {
    extensions
        .get::<Client>()
        .cloned()
        .unwrap_or_else(Client::unknown)
}
