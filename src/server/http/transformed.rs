//! `GET /img/{id}/{options}`: a stored image resized, cropped, re-encoded and filtered, with options in
//! Cloudflare's syntax. A conditional request is answered from the ETag alone, before any byte is read.

use axum::extract::{Path, Request, State};
use axum::response::Response;

use super::image_response::RequestHead;
use super::limits::client_of;
use super::serve::{from_memory, memory_key, serve, Face, Named, ServeRequest};
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::guard::Signature;
use crate::server::state::AppState;

pub async fn transformed(
    State(state): State<AppState>,
    Path((id, options)): Path<(String, String)>,
    caller: Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let head = RequestHead::of(&request);
    let read = state
        .options_cache
        .read(&state.presets, &options)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let key = memory_key(
        Named::Derivative {
            id: &id,
            read: &read,
        },
        head.headers,
    );
    if let Some(hot) = state.engine.memory().get(&key) {
        return Ok(from_memory(&state, head, &hot));
    }
    let record = state
        .engine
        .record(&id)
        .await?
        .ok_or_else(|| ApiError::no_image(&id))?;
    let uri = request.uri();
    let signature = match uri.query().and_then(signature_of) {
        Some(sig) => state.guard.signature(uri.path(), uri.query(), Some(&sig)),
        None => Signature::Missing,
    };
    let client = client_of(request.extensions());
    let stored = ServeRequest {
        face: Face::Stored {
            presets_only: read.expanded.presets_only,
        },
        record,
        options: read.expanded.options.clone(),
        signature,
        key,
    };
    serve(&state, &caller, client, head, stored).await
}

/// The `sig` query parameter, if any.
fn signature_of(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "sig")
        .map(|(_, value)| value.into_owned())
}
