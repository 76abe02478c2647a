//! `GET /img/{id}`: a stored original, as generated; from memory when it was asked for lately. A
//! conditional request is answered from the image's row alone, before its bytes are read.

use axum::extract::{Path, Request, State};
use axum::response::Response;

use super::image_response::{
    image_response, not_modified, not_modified_response, ImageReply, Lifetime, RequestHead,
};
use super::serve::{from_memory, memory_key, Named};
use crate::server::error::ApiError;
use crate::server::state::AppState;

pub async fn original(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let asked = RequestHead::of(&request);
    let key = memory_key(Named::Original { id: &id }, asked.headers);
    if let Some(hot) = state.engine.memory().get(&key) {
        return Ok(from_memory(&state, asked, &hot));
    }
    let record = state
        .engine
        .record(&id)
        .await?
        .ok_or_else(|| ApiError::no_image(&id))?;
    // The content hash names the bytes, so a current copy needs no read (nor hash) of the blob.
    let etag = format!("\"{}\"", record.content_hash);
    if not_modified(asked.headers, &etag, record.created_at) {
        return Ok(not_modified_response(
            &etag,
            &record.id,
            record.created_at,
            false,
            Lifetime::Immutable,
        ));
    }
    let bytes = state.engine.original_bytes(&record).await?;
    let reply = ImageReply {
        etag,
        last_modified_ms: record.created_at,
        format: record.format,
        bytes,
        cache: None,
        vary_accept: false,
        image_id: Some(record.id),
        lifetime: Lifetime::Immutable,
    };
    state
        .engine
        .memory()
        .keep(key, || reply.to_memory(&id, None));
    Ok(image_response(asked, reply))
}
