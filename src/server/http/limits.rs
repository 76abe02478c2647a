//! Limits every request passes before its handler: URL and header sizes, the client's general rate
//! limit, the same-origin rule for posts (`same_origin`), and a deadline for the answer. It also
//! records who the client is (`guard::Client`) for the handlers that start generations.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::guard::Client;
use crate::server::state::AppState;

pub async fn limits(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
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

    let caller = Caller::from_headers(&state, request.headers());
    let client = if caller.holds_key() {
        Client::api_key()
    } else {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        state.guard.clients.client(request.headers(), peer)
    };
    let route = crate::server::metrics::route_label(request.uri().path());
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
    let started = std::time::Instant::now();
    let response = if let Some(refused) = super::same_origin::refusal(&state, &request) {
        refused
    } else {
        match tokio::time::timeout(deadline, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout(format!(
                "no answer within {}s; try again",
                deadline.as_secs()
            ))
            .into_response(),
        }
    };
    crate::server::metrics::observe_request(route, response.status(), started.elapsed());
    response
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
