//! How long a cache in front of Pixzoo may keep a studio page. A page is made for whoever asked (a
//! signed-in page shows what the owner may do), so a shared cache with heuristic freshness must not
//! store it: `private, no-store` for a browser that sends a session cookie, `no-cache` (ask again
//! each time) for anyone else. Only HTML the pages' routes answer is marked; the bundle and images
//! have their own rules.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::server::auth::Caller;

pub async fn cache_control(request: Request, next: Next) -> Response {
    let signed_in = request
        .extensions()
        .get::<Caller>()
        .is_some_and(Caller::has_session);
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if signed_in {
                "private, no-store"
            } else {
                "no-cache"
            }),
        );
    }
    response
}
