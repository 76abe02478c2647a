//! How image bytes go out: type, length, validators and cache headers, in one place.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_range_header::{EndPosition, StartPosition, SyntacticallyCorrectRange};

use crate::domain::format::ImageFormat;
use crate::server::engine::CacheStatus;
use crate::server::memory::HotImage;
use crate::server::purge::Tags;

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
            tags: Tags::of(id)?,
            etag: HeaderValue::from_str(&self.etag).ok()?,
            last_modified: HeaderValue::from_str(&http_date(self.last_modified_ms)).ok()?,
            last_modified_ms: self.last_modified_ms,
            format: self.format,
            bytes: self.bytes.clone(),
            vary_accept: self.vary_accept,
            // A derivative's response says whether it was made now; sent again, it was made before.
            cache_hit: self.cache.is_some(),
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
/// `etag` (weak comparison, RFC 9110 13.1.2), or, when it is absent, `If-Modified-Since` is no earlier
/// than `last_modified_ms` (RFC 9110 13.2.2: the entity tag wins when both are sent).
pub fn not_modified(request_headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> bool {
    let mut lines = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .peekable();
    if lines.peek().is_some() {
        // The usual revalidation sends back the one tag it was given: that line is a list of one
        // member, ours, which matches without parsing either.
        let sent = request_headers.get_all(header::IF_NONE_MATCH);
        if sent.iter().any(|line| line.as_bytes() == etag.as_bytes()) {
            return true;
        }
        let Some(ours) = EntityTag::parse(etag.as_bytes()) else {
            return false;
        };
        // A field sent on several lines is one list (RFC 9110 5.3).
        return lines
            .flat_map(|line| TagList::of(line.as_bytes()))
            .any(|member| match member {
                Member::Any => true,
                Member::Tag(tag) => tag.weakly_matches(ours),
            });
    }
    request_headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .and_then(|since| since.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|since| since.as_secs() as i64 >= last_modified_ms.max(0) / 1000)
}

/// One entity tag (RFC 9110 8.8.3): the opaque tag with its quotes, and whether it is weak (`W/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// The tag `text` starts with, and what follows it. `etagc` excludes the quote, so the tag ends at
    /// the next one; a comma inside is part of the tag.
    fn split(text: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let (weak, quoted) = match text.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let inside = quoted.strip_prefix(b"\"")?;
        let close = inside.iter().position(|&b| b == b'"')?;
        if !inside[..close].iter().all(|&b| is_etagc(b)) {
            return None;
        }
        let (opaque, rest) = quoted.split_at(close + 2);
        Some((Self { weak, opaque }, rest))
    }

    /// `text` as one tag and nothing else, whitespace around it allowed.
    fn parse(text: &'a [u8]) -> Option<Self> {
        match Self::split(text.trim_ascii())? {
            (tag, []) => Some(tag),
            _ => None,
        }
    }

    /// Weak comparison (RFC 9110 8.8.3.2): the opaque tags are the same, either may be weak.
    fn weakly_matches(self, other: Self) -> bool {
        self.opaque == other.opaque
    }

    /// Strong comparison: the opaque tags are the same and neither is weak.
    fn strongly_matches(self, other: Self) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }
}

/// `etagc`: visible ASCII but the quote, or any byte beyond ASCII (`obs-text`).
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

/// A member of an `If-None-Match` list.
#[derive(Debug, PartialEq, Eq)]
enum Member<'a> {
    /// `*`: any current representation.
    Any,
    Tag(EntityTag<'a>),
}

/// The members of one `If-None-Match` line: comma-separated, empty members and whitespace around
/// them allowed (RFC 9110 5.6.1). It stops at the first member that is neither a tag nor `*`; those
/// before it still count.
struct TagList<'a> {
    rest: &'a [u8],
}

impl<'a> TagList<'a> {
    fn of(line: &'a [u8]) -> Self {
        Self { rest: line }
    }
}

impl<'a> Iterator for TagList<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        let text = std::mem::take(&mut self.rest);
        let start = text
            .iter()
            .position(|b| !matches!(b, b',' | b' ' | b'\t'))
            .unwrap_or(text.len());
        let text = &text[start..];
        let (member, rest) = match text.strip_prefix(b"*") {
            Some(rest) => (Member::Any, rest),
            None => {
                let (tag, rest) = EntityTag::split(text)?;
                (Member::Tag(tag), rest)
            }
        };
        // A member ends at a comma or the end of the line.
        let rest = rest.trim_ascii_start();
        if !(rest.is_empty() || rest.starts_with(b",")) {
            return None;
        }
        self.rest = rest;
        Some(member)
    }
}

/// Whether `If-Range` names these bytes: an entity tag by strong comparison, so a weak one never does
/// (RFC 9110 13.1.5), or exactly the `Last-Modified` date.
fn range_is_current(if_range: &HeaderValue, etag: &str, last_modified_ms: i64) -> bool {
    let value = if_range.as_bytes().trim_ascii();
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return EntityTag::parse(value)
            .zip(EntityTag::parse(etag.as_bytes()))
            .is_some_and(|(theirs, ours)| theirs.strongly_matches(ours));
    }
    value == http_date(last_modified_ms).as_bytes()
}

/// A 304 for `etag` of image `image_id`, with the headers a cache needs to keep using its copy.
pub fn not_modified_response(
    etag: &str,
    image_id: &str,
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
    let tags = Tags::of(image_id);
    let head = Head {
        etag: &etag,
        last_modified: &last_modified,
        last_modified_ms,
        format: ImageFormat::Png,
        vary_accept,
        cache: None,
        image_id: None,
        tags: tags.as_ref(),
        lifetime,
    };
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    headers_of_304(response.headers_mut(), &head);
    response
}

/// What a request asks of an image response: its method (a `Range` is read for `GET` only) and its
/// headers.
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}

impl<'a> RequestHead<'a> {
    pub fn of<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            headers: request.headers(),
        }
    }
}

/// What a `Range` header asks of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(std::ops::RangeInclusive<u64>),
    /// 416: a range that starts beyond the bytes, or ends before it starts.
    Unsatisfiable,
}

/// The part asked for. A `Range` is ignored (RFC 9110 14.2) on any method but `GET` (`HEAD` answers as
/// `GET` without it would), when it does not parse, when its `If-Range` names other bytes than these,
/// and when it asks for several ranges: their answer would be a `multipart/byteranges` body, which we
/// do not make (CDNs and players ask for one range; several are mostly a way to make an origin work).
fn wanted(asked: RequestHead, etag: &str, last_modified_ms: i64, len: u64) -> Wanted {
    if asked.method != Method::GET {
        return Wanted::Whole;
    }
    let Some(range) = asked
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Wanted::Whole;
    };
    if let Some(if_range) = asked.headers.get(header::IF_RANGE) {
        if !range_is_current(if_range, etag, last_modified_ms) {
            return Wanted::Whole;
        }
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return Wanted::Whole;
    };
    match parsed.ranges[..] {
        [one] => part(one, len),
        _ => Wanted::Whole,
    }
}

/// One range of `len` bytes (RFC 9110 14.1.2). Worked out here rather than by the crate's `validate`,
/// which refuses a suffix longer than the bytes: that asks for all of them (RFC 9110 14.1.3).
fn part(range: SyntacticallyCorrectRange, len: u64) -> Wanted {
    // Nothing can be cut from no bytes: `Content-Range` cannot name a part of them.
    let Some(last) = len.checked_sub(1) else {
        return Wanted::Whole;
    };
    let (first, end) = match (range.start, range.end) {
        (StartPosition::FromLast(suffix), _) => (len.saturating_sub(suffix), last),
        (StartPosition::Index(first), EndPosition::LastByte) => (first, last),
        (StartPosition::Index(first), EndPosition::Index(end)) => (first, end.min(last)),
    };
    if first > end {
        return Wanted::Unsatisfiable;
    }
    Wanted::Part(first..=end)
}

pub fn image_response(asked: RequestHead, reply: ImageReply) -> Response {
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
    let tags = reply.image_id.as_deref().and_then(Tags::of);
    let head = Head {
        etag: &etag,
        last_modified: &last_modified,
        last_modified_ms: reply.last_modified_ms,
        format: reply.format,
        vary_accept: reply.vary_accept,
        cache: reply.cache,
        image_id: image_id.as_ref(),
        tags: tags.as_ref(),
        lifetime: reply.lifetime,
    };
    respond(asked, &head, reply.bytes)
}

/// A response from memory, with the headers it was first sent with.
pub fn hot_response(asked: RequestHead, hot: &HotImage) -> Response {
    hot_response_of(asked, hot, hot.bytes.clone())
}

/// [`hot_response`] with `bytes` read for it: a response kept without them ([`MemoryCache::on_disk`]).
///
/// [`MemoryCache::on_disk`]: crate::server::memory::MemoryCache::on_disk
pub fn hot_response_of(asked: RequestHead, hot: &HotImage, bytes: Bytes) -> Response {
    let head = Head {
        etag: &hot.etag,
        last_modified: &hot.last_modified,
        last_modified_ms: hot.last_modified_ms,
        format: hot.format,
        vary_accept: hot.vary_accept,
        // A stored derivative or a placeholder URL says it made nothing; an original never says.
        cache: (hot.cache_hit || hot.placeholder).then_some(CacheStatus::Hit),
        image_id: Some(&hot.id_header),
        tags: Some(&hot.tags),
        lifetime: if hot.placeholder {
            Lifetime::Day
        } else {
            Lifetime::Immutable
        },
    };
    respond(asked, &head, bytes)
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
    /// The image's purge tags (`purge::tags`), on every response a CDN may keep.
    tags: Option<&'a Tags>,
    lifetime: Lifetime,
}

fn respond(asked: RequestHead, head: &Head, bytes: Bytes) -> Response {
    // Header values are visible ASCII (`from_str` checked them), so this never fails.
    let etag = head.etag.to_str().unwrap_or_default();
    if not_modified(asked.headers, etag, head.last_modified_ms) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        headers_of_304(response.headers_mut(), head);
        return response;
    }
    let len = bytes.len() as u64;
    let (status, body, range) = match wanted(asked, etag, head.last_modified_ms, len) {
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
        Wanted::Unsatisfiable => return unsatisfiable(head, len),
    };
    let body_len = body.len();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(14);
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

/// 416: the length, and nothing else of the image. Its body is empty, so it has no image type, and it
/// is an error, which is never kept (`no-store`, as `ApiError`'s), least of all for a year.
fn unsatisfiable(head: &Head, len: u64) -> Response {
    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(range) = HeaderValue::from_str(&format!("bytes */{len}")) {
        headers.insert(header::CONTENT_RANGE, range);
    }
    if let Some(id) = head.image_id {
        headers.insert("x-image-id", id.clone());
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    response
}

/// A 304's headers, with room for those the layers outside add (CORS, the request id, the length),
/// so the map is allocated once.
fn headers_of_304(headers: &mut HeaderMap, head: &Head) {
    headers.reserve(10);
    validators(headers, head);
}

/// What a 304 repeats of the full answer: how long to keep it, what purges it, its validators, what
/// it varies on.
fn validators(headers: &mut HeaderMap, head: &Head) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(head.lifetime.cache_control()),
    );
    if let Some(tags) = head.tags {
        tags.insert_into(headers);
    }
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

    fn get<'a>(headers: &'a HeaderMap) -> RequestHead<'a> {
        RequestHead {
            method: &Method::GET,
            headers,
        }
    }

    #[test]
    fn ranges_are_one_part_the_whole_or_refused() {
        let tag = "\"abc\"";
        let at = 1_700_000_000_000;
        let ask = |pairs: &[(&'static str, &str)]| wanted(get(&headers(pairs)), tag, at, 100);
        assert_eq!(ask(&[]), Wanted::Whole);
        assert_eq!(ask(&[("range", "bytes=0-9")]), Wanted::Part(0..=9));
        assert_eq!(ask(&[("range", "bytes=90-")]), Wanted::Part(90..=99));
        assert_eq!(ask(&[("range", "bytes=-10")]), Wanted::Part(90..=99));
        assert_eq!(ask(&[("range", "bytes=50-500")]), Wanted::Part(50..=99));
        assert_eq!(ask(&[("range", "bytes=99-99")]), Wanted::Part(99..=99));
        // A suffix longer than the bytes is all of them.
        assert_eq!(ask(&[("range", "bytes=-100")]), Wanted::Part(0..=99));
        assert_eq!(ask(&[("range", "bytes=-500")]), Wanted::Part(0..=99));
        assert_eq!(ask(&[("range", "bytes=100-")]), Wanted::Unsatisfiable);
        assert_eq!(ask(&[("range", "bytes=100-200")]), Wanted::Unsatisfiable);
        assert_eq!(ask(&[("range", "bytes=9-5")]), Wanted::Unsatisfiable);
        // Several ranges would be a multipart body: the whole instead.
        assert_eq!(ask(&[("range", "bytes=0-1,5-6")]), Wanted::Whole);
        assert_eq!(ask(&[("range", "bytes=0-5,3-9")]), Wanted::Whole);
        assert_eq!(ask(&[("range", "bytes=200-300,400-")]), Wanted::Whole);
        // Nothing to cut from no bytes.
        assert_eq!(
            wanted(get(&headers(&[("range", "bytes=-5")])), tag, at, 0),
            Wanted::Whole
        );
        // Range is for GET: HEAD is answered as GET without it.
        let ranged = headers(&[("range", "bytes=0-9")]);
        let head = RequestHead {
            method: &Method::HEAD,
            headers: &ranged,
        };
        assert_eq!(wanted(head, tag, at, 100), Wanted::Whole);
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
        // If-Range compares strongly: a weak tag never names these bytes.
        assert_eq!(
            ask(&[("range", "bytes=0-9"), ("if-range", "W/\"abc\"")]),
            Wanted::Whole
        );
        assert_eq!(
            ask(&[("range", "bytes=0-9"), ("if-range", "\"abc\"  ")]),
            Wanted::Part(0..=9)
        );
    }

    #[test]
    fn if_none_match_compares_weakly_across_every_line() {
        let tag = "\"abc\"";
        let at = 1_700_000_000_000;
        let current = |lines: &[&str]| {
            let mut map = HeaderMap::new();
            for line in lines {
                map.append(header::IF_NONE_MATCH, line.parse().unwrap());
            }
            not_modified(&map, tag, at)
        };
        assert!(current(&["\"abc\""]));
        assert!(current(&["W/\"abc\""]), "a weak tag matches weakly");
        assert!(current(&["\"x\", W/\"abc\""]));
        assert!(current(&["\"x\"", "\"abc\""]), "every line is read");
        assert!(current(&["*"]));
        assert!(current(&["\"x\", *"]));
        assert!(
            current(&["\"a,b\", \"abc\""]),
            "a comma inside a tag separates nothing"
        );
        assert!(
            current(&[" ,\t\"x\" ,, \"abc\"\t"]),
            "whitespace and empty members"
        );
        assert!(!current(&["\"abcd\""]));
        assert!(!current(&["\"a,\"abc\"\""]), "\"abc\" here is no member");
        assert!(!current(&["abc"]), "an unquoted tag is no tag");
        assert!(!current(&["\"abc"]), "nor an unterminated one");
        assert!(
            !current(&["\"x\" junk, \"abc\""]),
            "nothing after a malformed member counts"
        );
        assert!(!current(&["\"x\"", "W/"]));
        // Sent and not matching: the date is not asked.
        let mut map = headers(&[("if-modified-since", &http_date(at))]);
        map.append(header::IF_NONE_MATCH, "W/\"old\"".parse().unwrap());
        assert!(!not_modified(&map, tag, at));
    }

    #[test]
    fn a_derivative_from_memory_is_a_hit_and_an_original_says_nothing() {
        let reply = |cache| ImageReply {
            etag: "\"abc\"".into(),
            last_modified_ms: 1_700_000_000_000,
            format: ImageFormat::Webp,
            bytes: Bytes::from_static(b"image"),
            cache,
            vary_accept: false,
            image_id: Some("id".into()),
            lifetime: Lifetime::Immutable,
        };
        let sent = |cache| {
            let hot = reply(cache).to_memory("id", None).unwrap();
            let response = hot_response(get(&HeaderMap::new()), &hot);
            response.headers().get("x-cache").cloned()
        };
        assert_eq!(
            sent(Some(CacheStatus::Miss)),
            Some(HeaderValue::from_static("HIT"))
        );
        assert_eq!(
            sent(Some(CacheStatus::Hit)),
            Some(HeaderValue::from_static("HIT"))
        );
        assert_eq!(sent(None), None);
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
