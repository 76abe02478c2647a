//! How image bytes go out: type, length, validators and cache headers, in one place.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::domain::format::ImageFormat;
use crate::server::engine::CacheStatus;

/// How long a response may be reused without asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `/img/{id}…`: the id names the bytes, so clients and CDNs may keep them for a year.
    Immutable,
    /// `/{W}x{H}/{slug}`: the same URL serves the same image until someone with the key asks for a
    /// `?redo`, so a day, then a cheap revalidation through the ETag.
    Day,
}

impl Lifetime {
    fn cache_control(self) -> &'static str {
        match self {
            Lifetime::Immutable => "public, max-age=31536000, immutable",
            Lifetime::Day => "public, max-age=86400",
        }
    }
}

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
    pub lifetime: Lifetime,
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
pub fn not_modified_response(etag: &str, vary_accept: bool, lifetime: Lifetime) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header(header::CACHE_CONTROL, lifetime.cache_control())
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
        return not_modified_response(&reply.etag, reply.vary_accept, reply.lifetime);
    }
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CACHE_CONTROL, reply.lifetime.cache_control())
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
