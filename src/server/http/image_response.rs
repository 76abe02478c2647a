//! How image bytes go out: type, length, validators and cache headers, in one place.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api::format::ImageFormat;
use crate::server::engine::CacheStatus;

/// Stored images never change under their URL, so clients and CDNs may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub struct ImageReply {
    /// Quoted strong validator for exactly these bytes.
    pub etag: String,
    pub format: ImageFormat,
    pub bytes: Bytes,
    /// For URLs that may generate: whether this one did.
    pub cache: Option<CacheStatus>,
    /// The format was chosen from `Accept`.
    pub vary_accept: bool,
    /// The stored original behind the response.
    pub image_id: Option<String>,
}

/// Whether `If-None-Match` already names `etag`: then nothing needs to be read or made.
pub fn not_modified(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == "*" || tag.trim() == etag)
        })
}

/// A 304 for `etag`, with the headers a cache needs to keep using its copy.
pub fn not_modified_response(etag: &str, vary_accept: bool) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header(header::CACHE_CONTROL, IMMUTABLE)
        .header(header::ETAG, etag);
    if vary_accept {
        builder = builder.header(header::VARY, "Accept");
    }
    builder
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub fn image_response(request_headers: &HeaderMap, reply: ImageReply) -> Response {
    if not_modified(request_headers, &reply.etag) {
        return not_modified_response(&reply.etag, reply.vary_accept);
    }
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CACHE_CONTROL, IMMUTABLE)
        .header(header::ETAG, &reply.etag)
        .header(header::CONTENT_TYPE, reply.format.mime())
        .header(header::CONTENT_LENGTH, reply.bytes.len());
    if reply.vary_accept {
        builder = builder.header(header::VARY, "Accept");
    }
    if let Some(cache) = reply.cache {
        builder = builder.header("x-cache", HeaderValue::from_static(cache.as_str()));
    }
    if let Some(id) = reply
        .image_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        builder = builder.header("x-image-id", id);
    }
    // Every header above is a valid static or ASCII value.
    builder
        .body(Body::from(reply.bytes))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
