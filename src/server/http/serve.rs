//! The one place that serves an image made from a stored one: `/img/{id}/{options}` and
//! `/{W}x{H}/{slug}` parse their own URLs, find or generate the image, and hand it here with the
//! request's `Caller`. Here it is decided what this request may make (`security.derivatives`, the
//! enlargement rules), the format is negotiated, a client's current copy gets its 304, the derivative is
//! made or read, and the reply is sent and kept in memory under the key [`memory_key`] builds, the same
//! key the hit path (`hits.rs`) and the faces look up.

use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use super::image_response::{
    hot_response, image_response, not_modified, not_modified_response, ImageReply, Lifetime,
    RequestHead,
};
use super::negotiate::negotiate;
use crate::domain::format::ImageFormat;
use crate::server::auth::Caller;
use crate::server::engine::derive::{etag, without_ignored, DeriveRequest, Enlarge};
use crate::server::engine::CacheStatus;
use crate::server::error::ApiError;
use crate::server::guard::{Client, DerivativeAsk, Signature};
use crate::server::memory::{self, HotImage};
use crate::server::options_cache::ReadOptions;
use crate::server::state::AppState;
use crate::server::storage::ImageRecord;
use crate::urls::options::{Fit, OutputFormat, TransformOptions};
use crate::urls::placeholder::Size;

/// Which URL asks, with what its rules need to know.
pub enum Face {
    /// `/img/{id}/{options}`: a stored image, with options of named presets only or not.
    Stored { presets_only: bool },
    /// `/{W}x{H}/{slug}`: the image generated (or found) for the URL, cropped to its `size`.
    Placeholder {
        size: Size,
        /// Whether this request generated the image (`Miss`) or found it stored.
        generated: CacheStatus,
        /// The original's bytes, when this request has them already (it just made them).
        original: Option<Bytes>,
        /// Images the URL takes as sources (an edit's source and mask): its response goes with them.
        sources: Vec<String>,
    },
}

impl Face {
    /// The fit when the options name none: a stored image is never enlarged to fill a box unless
    /// asked; a placeholder URL is exactly its size.
    fn default_fit(&self) -> Fit {
        match self {
            Face::Stored { .. } => Fit::ScaleDown,
            Face::Placeholder { .. } => Fit::Cover,
        }
    }
}

/// What a face asks to be served.
pub struct ServeRequest {
    pub face: Face,
    pub record: ImageRecord,
    pub options: TransformOptions,
    /// The URL's signature, as the face reads its own URL.
    pub signature: Signature,
    /// Where the reply is kept in memory: [`memory_key`] of what the URL names.
    pub key: String,
}

/// Serves `request` to a request from `client` with `caller`'s credentials.
pub async fn serve(
    state: &AppState,
    caller: &Caller,
    client: Client,
    head: RequestHead<'_>,
    request: ServeRequest,
) -> Result<Response, ApiError> {
    let ServeRequest {
        face,
        record,
        options,
        signature,
        key,
    } = request;
    let vouched = caller.vouched(signature);
    let (ask, enlarge, lifetime) = match &face {
        Face::Stored { presets_only } => (
            if *presets_only {
                DerivativeAsk::Presets
            } else {
                DerivativeAsk::Options
            },
            Enlarge::Limited,
            Lifetime::Immutable,
        ),
        // The picture at the URL's size and format is part of generating it, made under the
        // generation limits and signatures. Anything else of an image that was stored already
        // (another size that maps to the same generation, another format, a filter) is a new
        // derivative like `/img/{id}/{options}`'s, so `security.derivatives` decides whether a
        // stranger may make it. The exact W×H from the model's nearest size is part of generating
        // it too, at any factor (the URL's size is bounded by `limits.max_width`/`max_height`
        // already); options on top of it (`dpr`, `trim`, …) enlarge within `limits.max_upscale`.
        Face::Placeholder {
            size, generated, ..
        } => (
            if options.is_plain_size() && *generated == CacheStatus::Miss {
                DerivativeAsk::OwnPlaceholder
            } else {
                DerivativeAsk::Placeholder
            },
            Enlarge::BeyondCover(*size),
            Lifetime::Day,
        ),
    };
    let enlarge = if vouched { Enlarge::Unlimited } else { enlarge };
    let admission = state
        .guard
        .derivative_ticket(client, signature, vouched, ask);
    let negotiated = negotiate(options.format, record.format, head.headers);
    let derive = DeriveRequest {
        options,
        format: negotiated.format,
        default_fit: face.default_fit(),
        enlarge,
    };
    // A current copy needs nothing read or made: the ETag is known from the row and the request.
    let tag = etag(&record, &derive);
    if not_modified(head.headers, &tag, record.created_at) {
        return Ok(not_modified_response(
            &tag,
            &record.id,
            record.created_at,
            negotiated.vary,
            lifetime,
        ));
    }
    let (original, cache, sources) = match face {
        Face::Stored { .. } => (None, None, None),
        Face::Placeholder {
            original,
            generated,
            sources,
            ..
        } => (original, Some(generated), Some(sources)),
    };
    let derived = state
        .engine
        .derive(&record, original, derive, admission.as_ref())
        .await?;
    let reply = ImageReply {
        etag: derived.etag,
        last_modified_ms: record.created_at,
        format: derived.format,
        bytes: derived.bytes,
        // A placeholder URL says whether it generated; a stored image's derivative whether it was made.
        cache: Some(cache.unwrap_or(derived.cache)),
        vary_accept: negotiated.vary,
        image_id: Some(record.id.clone()),
        lifetime,
    };
    let stored_key = derived.stored_key;
    let memory = state.engine.memory();
    match sources {
        // A stored image's derivative is kept with its headers alone too, for the hit path's cold hits.
        None => {
            if let Some(hot) = reply.to_memory(&record.id, stored_key) {
                memory.keep_derivative(key, hot);
            }
        }
        Some(sources) => memory.keep(key, || {
            Some(HotImage {
                sources,
                ..reply.to_memory(&record.id, stored_key)?
            })
        }),
    }
    Ok(image_response(head, reply))
}

/// A response kept in memory, sent again: a derivative's hit counts as served for eviction.
pub fn from_memory(state: &AppState, head: RequestHead, hot: &HotImage) -> Response {
    state.engine.served_from_memory(hot);
    hot_response(head, hot)
}

/// What an image URL names, for its memory key.
pub enum Named<'a> {
    /// `/img/{id}`: the original.
    Original { id: &'a str },
    /// `/img/{id}/{options}`, with its options as read.
    Derivative { id: &'a str, read: &'a ReadOptions },
    /// `/{W}x{H}/{slug}?…`: what picks the image (the prompt and the generation's parameters),
    /// spelled canonically by the face, and the transform options.
    Placeholder {
        picks: String,
        options: &'a TransformOptions,
    },
}

/// The memory cache's key for what a URL names, asked with these headers: the options without what
/// the output ignores whatever the image, so those do not split memory either (the derivative's own
/// key goes further, from the image's size, which this answers without reading the image); for
/// `format=auto`, the format chosen from `Accept`. Every response kept in memory is kept under a key
/// built here, and every lookup asks with one.
pub fn memory_key(named: Named<'_>, headers: &HeaderMap) -> String {
    match named {
        Named::Original { id } => memory::key(id, "", None),
        Named::Derivative { id, read } => {
            let options = &read.expanded.options;
            let known = output_format(options, headers);
            let canonical = read.canonical(known, || {
                without_ignored(options, known, Fit::ScaleDown).to_string()
            });
            memory::key(id, canonical, chosen(options, known))
        }
        Named::Placeholder { picks, options } => {
            let known = output_format(options, headers);
            let printed = without_ignored(options, known, Fit::Cover).to_string();
            let mut canonical = form_urlencoded::Serializer::new(picks);
            canonical.append_pair("options", &printed);
            memory::placeholder_key(&canonical.finish(), chosen(options, known))
        }
    }
}

/// The output format when the options decide it whatever the source: `format=auto` answers by
/// `Accept`, every other choice is fixed by the options; `None` when the options name no format
/// (the source's is kept).
fn output_format(options: &TransformOptions, headers: &HeaderMap) -> Option<ImageFormat> {
    options
        .format
        .map(|_| negotiate(options.format, ImageFormat::Jpeg, headers).format)
}

/// The format `Accept` chose, for `format=auto` only.
fn chosen(options: &TransformOptions, known: Option<ImageFormat>) -> Option<ImageFormat> {
    known.filter(|_| options.format == Some(OutputFormat::Auto))
}
