//! `GET /img/{id}/{options}`: a stored image resized, cropped, re-encoded and filtered, with options in
//! Cloudflare's syntax. A conditional request is answered from the ETag alone, before any byte is read.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::image_response::{
    hot_response, image_response, not_modified, not_modified_response, Asked, ImageReply, Lifetime,
};
use super::limits::client_of;
use super::negotiate::negotiate;
use crate::domain::format::ImageFormat;
use crate::server::auth::Caller;
use crate::server::engine::derive::{etag, without_ignored, DeriveRequest, Enlarge};
use crate::server::error::ApiError;
use crate::server::guard::{self, Signature};
use crate::server::memory::{self, HotImage};
use crate::server::spelled::Spelling;
use crate::server::state::AppState;
use crate::urls::options::{Fit, OutputFormat};

pub async fn transformed(
    State(state): State<AppState>,
    Path((id, options)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let (key, spelling) = memory_key(&state, &id, &options, headers)?;
    let options = spelling.expanded.options.clone();
    if let Some(hot) = state.engine.memory().get(&key) {
        return Ok(from_memory(&state, Asked::of(&request), &hot));
    }
    let record = state
        .engine
        .record(&id)
        .await?
        .ok_or_else(|| ApiError::no_image(&id))?;
    let negotiated = negotiate(options.format, record.format, headers);
    let signature = match request.uri().query().and_then(signature_of) {
        Some(sig) => state
            .guard
            .signature(request.uri().path(), request.uri().query(), Some(&sig)),
        None => Signature::Missing,
    };
    let client = client_of(request.extensions());
    // The limits layer left the caller's credentials; without it, nobody is vouched for.
    let may_enlarge = request
        .extensions()
        .get::<Caller>()
        .is_some_and(|caller| caller.vouched(signature));
    let wants = if spelling.expanded.presets_only {
        guard::Asked::Presets
    } else {
        guard::Asked::Options
    };
    let admission = state
        .guard
        .derivative_ticket(client, signature, may_enlarge, wants);
    let derive = DeriveRequest {
        options,
        format: negotiated.format,
        default_fit: Fit::ScaleDown,
        enlarge: if may_enlarge {
            Enlarge::Unlimited
        } else {
            Enlarge::Limited
        },
    };
    let tag = etag(&record, &derive);
    if not_modified(headers, &tag, record.created_at) {
        return Ok(not_modified_response(
            &tag,
            record.created_at,
            negotiated.vary,
            Lifetime::Immutable,
        ));
    }
    let derived = state
        .engine
        .derive(&record, None, derive, admission.as_ref())
        .await?;
    let stored_key = derived.stored_key;
    let reply = ImageReply {
        etag: derived.etag,
        last_modified_ms: record.created_at,
        format: derived.format,
        bytes: derived.bytes,
        cache: Some(derived.cache),
        vary_accept: negotiated.vary,
        image_id: Some(record.id.clone()),
        lifetime: Lifetime::Immutable,
    };
    if let Some(hot) = reply.to_memory(&record.id, stored_key) {
        state.engine.memory().keep_derivative(key, hot);
    }
    Ok(image_response(Asked::of(&request), reply))
}

/// The memory cache's key for `/img/{id}/{options}` asked with these headers: the options without what
/// the output ignores whatever the image, so those do not split memory either (the derivative's own
/// key goes further, from the image's size, which this answers without reading); and the options
/// as read, presets expanded.
pub(super) fn memory_key(
    state: &AppState,
    id: &str,
    options: &str,
    headers: &HeaderMap,
) -> Result<(String, Arc<Spelling>), ApiError> {
    let spelling = state
        .spellings
        .read(&state.presets, options)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let options = &spelling.expanded.options;
    // `format=auto` answers by `Accept`, whatever the source's format; every other choice is fixed
    // by the options and the image.
    let known = options
        .format
        .map(|_| negotiate(options.format, ImageFormat::Jpeg, headers).format);
    let chosen = known.filter(|_| options.format == Some(OutputFormat::Auto));
    let canonical = spelling.canonical(known, || {
        without_ignored(options, known, Fit::ScaleDown).to_string()
    });
    let key = memory::key(id, canonical, chosen);
    Ok((key, spelling))
}

/// A response kept in memory, sent again: a derivative's hit counts as served for eviction.
pub(super) fn from_memory(state: &AppState, asked: Asked, hot: &HotImage) -> Response {
    state.engine.served_from_memory(hot);
    hot_response(asked, hot)
}

/// The `sig` query parameter, if any.
fn signature_of(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "sig")
        .map(|(_, value)| value.into_owned())
}
