//! `GET /img/{id}/{options}`: a stored image resized, cropped, re-encoded and filtered, with options in
//! Cloudflare's syntax. A conditional request is answered from the ETag alone, before any byte is read.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::image_response::{
    image_response, not_modified, not_modified_response, ImageReply, Lifetime,
};
use super::limits::Admit;
use super::negotiate::negotiate;
use crate::server::engine::derive::{etag, DeriveRequest};
use crate::server::error::ApiError;
use crate::server::state::AppState;
use crate::urls::options::{Fit, TransformOptions};

pub async fn transformed(
    State(state): State<AppState>,
    Path((id, options)): Path<(String, String)>,
    Admit(admission): Admit,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options =
        TransformOptions::parse(&options).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let record = state
        .engine
        .record(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no image with id `{id}`")))?;
    let negotiated = negotiate(options.format, record.format, &headers);
    let request = DeriveRequest {
        options,
        format: negotiated.format,
        default_fit: Fit::ScaleDown,
    };
    let tag = etag(&record, &request);
    if not_modified(&headers, &tag, record.created_at) {
        return Ok(not_modified_response(
            &tag,
            record.created_at,
            negotiated.vary,
            Lifetime::Immutable,
        ));
    }
    let derived = state
        .engine
        .derive(&record, None, request, admission.as_ref())
        .await?;
    Ok(image_response(
        &headers,
        ImageReply {
            etag: derived.etag,
            last_modified_ms: record.created_at,
            format: derived.format,
            bytes: derived.bytes,
            cache: None,
            vary_accept: negotiated.vary,
            image_id: Some(record.id),
            lifetime: Lifetime::Immutable,
        },
    ))
}
