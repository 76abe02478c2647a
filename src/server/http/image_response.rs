//! How image bytes go out: type, length, validators and cache headers, in one place.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::domain::format::ImageFormat;
use crate::server::engine::CacheStatus;
use crate::server::memory::HotImage;

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
    /// When the image behind the bytes was made (Unix milliseconds): `Last-Modified`.
    pub last_modified_ms: i64,
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

impl ImageReply {
    /// What to keep in memory of this response: its headers ready to send, so a hit formats nothing.
    /// `derivative`: the stored derivative it is, if it is one.
    pub fn to_memory(&self, id: &str, derivative: Option<String>) -> Option<HotImage> {
        Some(HotImage {
            id: id.to_owned(),
            id_header: HeaderValue::from_str(id).ok()?,
            etag: HeaderValue::from_str(&self.etag).ok()?,
            last_modified: HeaderValue::from_str(&http_date(self.last_modified_ms)).ok()?,
            last_modified_ms: self.last_modified_ms,
            format: self.format,
            bytes: self.bytes.clone(),
            vary_accept: self.vary_accept,
            derivative,
            noted: Default::default(),
            placeholder: self.lifetime == Lifetime::Day,
            sources: Vec::new(),
        })
    }
}

/// `Last-Modified`'s value: whole seconds, as HTTP dates are.
fn http_date(ms: i64) -> String {
    let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Whether the client's copy is current, so nothing needs to be read or made: `If-None-Match` names
/// `etag`, or, when it is absent, `If-Modified-Since` is no earlier than `last_modified_ms` (RFC 9110
/// 13.2.2: the entity tag wins when both are sent).
pub fn not_modified(request_headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> bool {
    if let Some(tags) = request_headers.get(header::IF_NONE_MATCH) {
        return tags.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == "*" || tag.trim() == etag)
        });
    }
    request_headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .and_then(|since| since.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|since| since.as_secs() as i64 >= last_modified_ms.max(0) / 1000)
}

/// A 304 for `etag`, with the headers a cache needs to keep using its copy.
pub fn not_modified_response(
    etag: &str,
    last_modified_ms: i64,
    vary_accept: bool,
    lifetime: Lifetime,
) -> Response {
    let (Ok(etag), Ok(last_modified)) = (
        HeaderValue::from_str(etag),
        HeaderValue::from_str(&http_date(last_modified_ms)),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let head = Head {
        etag: &etag,
        last_modified: &last_modified,
        last_modified_ms,
        format: ImageFormat::Png,
        vary_accept,
        cache: None,
        image_id: None,
        lifetime,
    };
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    headers_of_304(response.headers_mut(), &head);
    response
}

/// What a `Range` header asks of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(std::ops::RangeInclusive<u64>),
    /// 416: a range that lies outside the bytes, overlapping ranges, or several (multipart answers
    /// are not offered; a single range is what CDNs and players ask for).
    Unsatisfiable,
}

/// The part asked for. A `Range` that does not parse is ignored (RFC 9110 14.2), as is one whose
/// `If-Range` names other bytes than these.
fn wanted(request_headers: &HeaderMap, etag: &str, last_modified_ms: i64, len: u64) -> Wanted {
    let Some(range) = request_headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Wanted::Whole;
    };
    if let Some(if_range) = request_headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
    {
        let current = if_range.trim() == etag || if_range.trim() == http_date(last_modified_ms);
        if !current {
            return Wanted::Whole;
        }
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Wanted::Whole;
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 && len > 0 => Wanted::Part(ranges[0].clone()),
        _ => Wanted::Unsatisfiable,
    }
}

pub fn image_response(request_headers: &HeaderMap, reply: ImageReply) -> Response {
    let (Ok(etag), Ok(last_modified)) = (
        HeaderValue::from_str(&reply.etag),
        HeaderValue::from_str(&http_date(reply.last_modified_ms)),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let image_id = reply
        .image_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok());
    let head = Head {
        etag: &etag,
        last_modified: &last_modified,
        last_modified_ms: reply.last_modified_ms,
        format: reply.format,
        vary_accept: reply.vary_accept,
        cache: reply.cache,
        image_id: image_id.as_ref(),
        lifetime: reply.lifetime,
    };
    respond(request_headers, &head, reply.bytes)
}

/// A response from memory, with the headers it was first sent with.
pub fn hot_response(request_headers: &HeaderMap, hot: &HotImage) -> Response {
    let head = Head {
        etag: &hot.etag,
        last_modified: &hot.last_modified,
        last_modified_ms: hot.last_modified_ms,
        format: hot.format,
        vary_accept: hot.vary_accept,
        // A placeholder URL says it made nothing; `/img/…` never says.
        cache: hot.placeholder.then_some(CacheStatus::Hit),
        image_id: Some(&hot.id_header),
        lifetime: if hot.placeholder {
            Lifetime::Day
        } else {
            Lifetime::Immutable
        },
    };
    respond(request_headers, &head, hot.bytes.clone())
}

/// An image response's own headers, whether built for it or kept in memory.
struct Head<'a> {
    etag: &'a HeaderValue,
    last_modified: &'a HeaderValue,
    last_modified_ms: i64,
    format: ImageFormat,
    vary_accept: bool,
    cache: Option<CacheStatus>,
    image_id: Option<&'a HeaderValue>,
    lifetime: Lifetime,
}

fn respond(request_headers: &HeaderMap, head: &Head, bytes: Bytes) -> Response {
    // Header values are visible ASCII (`from_str` checked them), so this never fails.
    let etag = head.etag.to_str().unwrap_or_default();
    if not_modified(request_headers, etag, head.last_modified_ms) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        headers_of_304(response.headers_mut(), head);
        return response;
    }
    let len = bytes.len() as u64;
    let (status, body, range) = match wanted(request_headers, etag, head.last_modified_ms, len) {
        Wanted::Whole => (StatusCode::OK, bytes, None),
        Wanted::Part(range) => {
            let (start, end) = (*range.start(), *range.end());
            let part = bytes.slice(start as usize..=end as usize);
            (
                StatusCode::PARTIAL_CONTENT,
                part,
                Some(format!("bytes {start}-{end}/{len}")),
            )
        }
        Wanted::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            Bytes::new(),
            Some(format!("bytes */{len}")),
        ),
    };
    let body_len = body.len();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(12);
    validators(headers, head);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(head.format.mime()),
    );
    if let Some(cache) = head.cache {
        headers.insert("x-cache", HeaderValue::from_static(cache.as_str()));
    }
    if let Some(id) = head.image_id {
        headers.insert("x-image-id", id.clone());
    }
    if let Some(range) = range.and_then(|r| HeaderValue::from_str(&r).ok()) {
        headers.insert(header::CONTENT_RANGE, range);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    response
}

/// A 304's headers, with room for those the layers outside add (CORS, the request id, the length),
/// so the map is allocated once.
fn headers_of_304(headers: &mut HeaderMap, head: &Head) {
    headers.reserve(8);
    validators(headers, head);
}

/// What a 304 repeats of the full answer: how long to keep it, its validators, what it varies on.
fn validators(headers: &mut HeaderMap, head: &Head) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(head.lifetime.cache_control()),
    );
    headers.insert(header::ETAG, head.etag.clone());
    headers.insert(header::LAST_MODIFIED, head.last_modified.clone());
    if head.vary_accept {
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn ranges_are_one_part_or_refused() {
        let tag = "\"abc\"";
        let at = 1_700_000_000_000;
        let ask = |pairs: &[(&'static str, &str)]| wanted(&headers(pairs), tag, at, 100);
        assert_eq!(ask(&[]), Wanted::Whole);
        assert_eq!(ask(&[("range", "bytes=0-9")]), Wanted::Part(0..=9));
        assert_eq!(ask(&[("range", "bytes=90-")]), Wanted::Part(90..=99));
        assert_eq!(ask(&[("range", "bytes=-10")]), Wanted::Part(90..=99));
        assert_eq!(ask(&[("range", "bytes=50-500")]), Wanted::Part(50..=99));
        assert_eq!(ask(&[("range", "bytes=100-")]), Wanted::Unsatisfiable);
        assert_eq!(ask(&[("range", "bytes=0-1,5-6")]), Wanted::Unsatisfiable);
        assert_eq!(
            ask(&[("range", "lines=0-1")]),
            Wanted::Whole,
            "not ours to read"
        );
        // If-Range: only for these bytes.
        assert_eq!(
            ask(&[("range", "bytes=0-9"), ("if-range", "\"other\"")]),
            Wanted::Whole
        );
        assert_eq!(
            ask(&[("range", "bytes=0-9"), ("if-range", tag)]),
            Wanted::Part(0..=9)
        );
        assert_eq!(
            ask(&[("range", "bytes=0-9"), ("if-range", &http_date(at))]),
            Wanted::Part(0..=9)
        );
    }

    #[test]
    fn the_entity_tag_wins_over_the_date() {
        let tag = "\"abc\"";
        let at = 1_700_000_000_500;
        let date = http_date(at);
        let earlier = http_date(at - 10_000);
        assert!(not_modified(&headers(&[("if-none-match", tag)]), tag, at));
        assert!(not_modified(
            &headers(&[("if-modified-since", &date)]),
            tag,
            at
        ));
        assert!(!not_modified(
            &headers(&[("if-modified-since", &earlier)]),
            tag,
            at
        ));
        assert!(!not_modified(
            &headers(&[("if-none-match", "\"old\""), ("if-modified-since", &date)]),
            tag,
            at
        ));
        assert!(!not_modified(
            &headers(&[("if-modified-since", "yesterday")]),
            tag,
            at
        ));
    }
}
