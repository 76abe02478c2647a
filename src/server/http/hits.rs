//! The hit path: `GET` and `HEAD` of `/img/{id}` and `/img/{id}/{options}` whose response is in
//! memory, or is a stored derivative's kept without its bytes (`MemoryCache::on_disk`) whose file can
//! be read at once (`Engine::stored_now`), answered before the router. It keeps the edge's rules by
//! calling what the `limits` middleware calls (`limits::admit` for sizes and the rate limit,
//! `limits::Seen` for the log line and the metrics) and sends the headers the layers would add (the
//! request id, `api::cors_headers`); the key and the answer are the handlers' own
//! (`serve::memory_key`, `image_response::hot_response_of`). Anything else, and any URL this
//! path does not read exactly as the router would (a percent-encoded or empty segment), goes to the
//! router.
//!
//! Why a path of its own: a stored image asked for again is nearly every request an origin sees, and
//! before its handler the router clones each route's stack of layers, the middleware boxes its future
//! and the extractors allocate; measured with `make bench-serve`, that cost a 304 more than the
//! answer itself.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::future::Either;
use tower::Service;
use tower_http::request_id::MakeRequestId;

use super::image_response::{hot_response_of, not_modified, RequestHead};
use super::limits::{self, Seen, REQUEST_ID};
use super::request_id::Sequential;
use super::serve::{memory_key, Named};
use crate::server::state::AppState;

/// The router behind the hit path.
#[derive(Clone)]
pub struct Hits {
    state: AppState,
    router: Router,
    /// The same counter the router's request-id layer draws from.
    ids: Sequential,
}

impl Hits {
    pub fn new(state: AppState, router: Router, ids: Sequential) -> Self {
        Self { state, router, ids }
    }

    /// The answer from memory, or `None` for the router to give.
    fn answer(&mut self, request: &Request<Body>) -> Option<Response> {
        let head = match *request.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        let memory = self.state.engine.memory();
        let (id, options) = image_segments(request.uri().path())?;
        let headers = request.headers();
        let read;
        let named = match options {
            None => Named::Original { id },
            // Options that do not parse are the handler's to refuse.
            Some(options) => {
                read = self
                    .state
                    .options_cache
                    .read(&self.state.presets, options)
                    .ok()?;
                Named::Derivative { id, read: &read }
            }
        };
        let key = memory_key(named, headers);
        // In memory; or a stored derivative whose response is, without its bytes, and whose file
        // can be read at once (none is needed for a 304).
        let (hot, bytes, in_memory) = match memory.get(&key) {
            Some(hot) => {
                let bytes = hot.bytes.clone();
                (hot, bytes, true)
            }
            None => {
                let hot = memory.on_disk(&key)?;
                let etag = hot.etag.to_str().unwrap_or_default();
                let bytes = if not_modified(headers, etag, hot.last_modified_ms) {
                    Bytes::new()
                } else {
                    self.state.engine.stored_now(&hot)?
                };
                (hot, bytes, false)
            }
        };

        let id = match headers.get(REQUEST_ID) {
            Some(given) => given.clone(),
            None => self.ids.make_request_id(request)?.into_header_value(),
        };
        let seen = Seen::start(request).with_id(id.clone());
        let mut response = match limits::admit(&self.state, request) {
            Ok(_) => {
                if in_memory {
                    self.state.engine.served_from_memory(&hot);
                }
                hot_response_of(RequestHead::of(request), &hot, bytes)
            }
            Err(refused) => refused.into_response(),
        };
        let response_headers = response.headers_mut();
        super::api::cors_headers(response_headers);
        response_headers.insert(REQUEST_ID, id);
        if head {
            *response.body_mut() = Body::empty();
        }
        seen.record(response.status());
        Some(response)
    }
}

impl Service<Request<Body>> for Hits {
    type Response = Response;
    type Error = Infallible;
    type Future =
        Either<Ready<Result<Response, Infallible>>, <Router as Service<Request<Body>>>::Future>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.answer(&request) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(self.router.call(request)),
        }
    }
}

/// `/img/{id}` as `(id, None)`, `/img/{id}/{options}` as `(id, Some(options))`; `None` for any other
/// path, and for one whose segments the router would decode or not match (`%`, empty segments).
fn image_segments(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix("/img/")?;
    if rest.contains('%') {
        return None;
    }
    let mut segments = rest.split('/');
    let id = segments.next().filter(|id| !id.is_empty())?;
    let options = segments.next();
    if options == Some("") || segments.next().is_some() {
        return None;
    }
    Some((id, options))
}

#[cfg(test)]
mod tests {
    use super::image_segments;

    #[test]
    fn only_image_paths_read_as_the_router_reads_them() {
        assert_eq!(image_segments("/img/abc"), Some(("abc", None)));
        assert_eq!(
            image_segments("/img/abc/width=40,format=webp"),
            Some(("abc", Some("width=40,format=webp")))
        );
        for other in [
            "/img/",
            "/img//width=40",
            "/img/abc/",
            "/img/abc/width=40/more",
            "/img/abc/width%3D40",
            "/images/abc",
            "/256x256/a-heron",
        ] {
            assert_eq!(image_segments(other), None, "{other}");
        }
    }
}
