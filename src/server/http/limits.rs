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

pub async fn limits(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let seen = Seen::start(&request);
    // The path only: query strings may carry signatures or other secrets.
    let span = tracing::debug_span!("request", method = %seen.method, path = seen.uri.path(), id = seen.id());
    let response = async {
        let (client, caller) = match admit(&state, &request) {
            Ok(admitted) => admitted,
            Err(refused) => return refused.into_response(),
        };
        if let Some(refused) = super::same_origin::refusal(&state, &request, &caller) {
            return refused;
        }
        request.extensions_mut().insert(client);
        request.extensions_mut().insert(caller);
        let deadline = Duration::from_secs(state.security.request_timeout_secs);
        match tokio::time::timeout(deadline, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout(format!(
                "no answer within {}s; try again",
                deadline.as_secs()
            ))
            .into_response(),
        }
    }
    .instrument(span)
    .await;
    seen.record(response.status());
    response
}

/// What the log line and the metrics of a request need, taken as it arrives.
pub struct Seen {
    started: std::time::Instant,
    method: axum::http::Method,
    uri: axum::http::Uri,
    route: crate::server::metrics::Route,
    /// Set by the request-id layer (or the hit path) before this is taken.
    id: Option<axum::http::HeaderValue>,
}

impl Seen {
    pub fn start<B>(request: &axum::http::Request<B>) -> Self {
        Self {
            started: std::time::Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            route: crate::server::metrics::route(request.uri().path()),
            id: request.headers().get(REQUEST_ID).cloned(),
        }
    }

    /// The request id the response will carry, when it was not on the request yet.
    pub fn with_id(mut self, id: axum::http::HeaderValue) -> Self {
        self.id = Some(id);
        self
    }

    fn id(&self) -> &str {
        self.id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    }

    /// The request's metrics and its one line in the log (the path only: query strings may carry
    /// signatures or other secrets).
    pub fn record(self, status: axum::http::StatusCode) {
        let took = self.started.elapsed();
        crate::server::metrics::observe_request(self.route, status, took);
        let (method, path, id) = (&self.method, self.uri.path(), self.id());
        let (code, micros) = (status.as_u16(), took.as_micros() as u64);
        let (path, id) = (Quoted(path), Quoted(id));
        if status.is_server_error() {
            tracing::error!(%method, %path, status = code, micros, %id, "answered");
        } else {
            tracing::info!(%method, %path, status = code, micros, %id, "answered");
        }
    }
}

/// A string in the log as `Debug` prints it, quoted and escaped, without `Debug`'s cost for what a
/// URL path or a request id holds: visible ASCII needs no escaping but `"` and `\`, and `Debug`
/// looks each character up in Unicode's tables (measured: a quarter of a 304's instructions went
/// to the log line, most of them there).
struct Quoted<'a>(&'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plain = self
            .0
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        if plain {
            f.write_str("\"")?;
            f.write_str(self.0)?;
            f.write_str("\"")
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// A name rather than a `&str`: looking a string up as a header name costs each request that does.
pub const REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// The checks every request passes before it is answered, and who is asking: URL and header sizes,
/// then the client's general rate limit.
pub fn admit<B>(
    state: &AppState,
    request: &axum::http::Request<B>,
) -> Result<(Client, Caller), ApiError> {
    let security = &state.security;
    let url_bytes = request.uri().path().len() + request.uri().query().map_or(0, |q| q.len() + 1);
    if url_bytes > security.max_url_bytes {
        return Err(ApiError::UriTooLong(format!(
            "the URL is {url_bytes} bytes; the limit is {}",
            security.max_url_bytes
        )));
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > security.max_header_bytes {
        return Err(ApiError::HeadersTooLarge(format!(
            "the headers are {header_bytes} bytes together; the limit is {}",
            security.max_header_bytes
        )));
    }

    let caller = state.auth.caller(request.headers());
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
        return Err(ApiError::RateLimited {
            message: "too many requests from this client; slow down".into(),
            retry_after: Some(wait.max(Duration::from_secs(1))),
        });
    }
    Ok((client, caller))
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

/// The credentials the limits layer read (`Authority::caller`), once per request; a route outside the
/// layer reads them here instead.
impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<Caller>() {
            Some(read) => read.clone(),
            None => state.auth.caller(&parts.headers),
        })
    }
}

/// The client the limits layer identified (a route outside it counts as "unknown").
pub fn client_of(extensions: &axum::http::Extensions) -> Client {
    extensions
        .get::<Client>()
        .cloned()
        .unwrap_or_else(Client::unknown)
}

#[cfg(test)]
mod tests {
    use super::Quoted;

    #[test]
    fn quoted_prints_what_debug_prints() {
        for text in [
            "/img/abc/width=400,format=webp",
            "",
            "a \"quoted\" path",
            "back\\slash",
            "tab\there",
            "new\nline",
            "\u{1b}[31mred",
            "café",
            "~!@#$%^&*()_+`-={}|[]:;'<>?,./",
        ] {
            assert_eq!(Quoted(text).to_string(), format!("{text:?}"), "{text}");
        }
    }
}
