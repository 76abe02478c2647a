//! The JSON API: `/api/*` (CF Flux Remix-compatible generation, models, catalog, OpenAPI) and the OpenAI
//! Images endpoint. Open to any origin (CORS, see [`cors`]), bodies capped, errors through
//! [`ApiError`](crate::server::error::ApiError).

mod image;
mod images;
mod models;
mod openai;
mod openapi;
mod rejection;
mod types;
mod uploads;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

use crate::server::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    // Bodies that carry images get room for them: an image and a mask, as files or as base64.
    let files = DefaultBodyLimit::max(state.max_upload_bytes * 2 + 64 * 1024);
    let base64 = DefaultBodyLimit::max(state.max_upload_bytes * 3 + 64 * 1024);
    Router::new()
        .route("/api/image", post(image::create).layer(base64))
        .route("/api/uploads", post(uploads::create).layer(files))
        .route("/api/models", get(models::list))
        .route("/api/images", get(images::list))
        .route("/api/images/{id}", get(images::get).delete(images::delete))
        .route("/api/openapi.json", get(openapi::document))
        .route("/v1/images/generations", post(openai::generations))
        .route("/v1/images/edits", post(openai::edits).layer(files))
        .route(
            "/v1/images/variations",
            post(openai::variations).layer(files),
        )
}

/// Open to any origin, as CF Flux Remix is: no credentials travel with `*`, so the key goes in
/// `Authorization`, which a wildcard never covers and is therefore named. Applied to every response,
/// errors from the request limits included, so browser clients can read a 429 and its `Retry-After`.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        // The answer is the same for every origin, so nothing to vary on; an image keeps `Vary: Accept`
        // alone, and only when its format was negotiated.
        .vary(Vec::<HeaderName>::new())
        .expose_headers(EXPOSED)
}

/// The response headers a browser script may read besides the safelisted ones.
const EXPOSED: [HeaderName; 4] = [
    header::RETRY_AFTER,
    header::ETAG,
    HeaderName::from_static("x-cache"),
    HeaderName::from_static("x-image-id"),
];

/// What [`cors`] adds to every answer that is not a preflight, for the hit path (`http::hits`), which
/// answers before the layer: the same names and values, as tower-http writes them.
pub fn cors_headers(headers: &mut axum::http::HeaderMap) {
    use axum::http::HeaderValue;
    static EXPOSE: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    let expose = EXPOSE.get_or_init(|| {
        let exposed = EXPOSED;
        let names: Vec<&str> = exposed.iter().map(HeaderName::as_str).collect();
        HeaderValue::from_str(&names.join(",")).expect("header names are valid values")
    });
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
}
