//! How image bytes go out: type, length, validators and cache headers, in one place.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api::format::ImageFormat;
use crate::server::engine::CacheStatus;

/// Stored images never change under their URL, so clients and CDNs may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `etag` is a quoted strong validator for exactly these bytes.
pub fn image_response(
    request_headers: &HeaderMap,
    etag: &str,
    format: ImageFormat,
    bytes: Bytes,
    cache: Option<CacheStatus>,
) -> Response {
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == "*" || tag.trim() == etag)
        });

    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, IMMUTABLE)
        .header(header::ETAG, etag);
    if let Some(cache) = cache {
        builder = builder.header("x-cache", HeaderValue::from_static(cache.as_str()));
    }
    let response = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, format.mime())
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::from(bytes))
    };
    // Every header above is a valid static or ASCII value.
    response.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
