//! `POST /api/uploads`: store an image Pixzoo did not make, as a multipart `file` or as the raw body
//! with its `Content-Type`. The same bytes twice are one upload (200 the second time, 201 the first).

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;

use super::types::ErrorBody;
use crate::server::auth::{Action, Caller, Via};
use crate::server::engine::CacheStatus;
use crate::server::error::ApiError;
use crate::server::http::limits::Admit;
use crate::server::http::sources::Form;
use crate::server::image_info::ImageInfo;
use crate::server::state::AppState;

/// Store an uploaded image.
#[utoipa::path(
    post,
    path = "/api/uploads",
    operation_id = "uploadImage",
    request_body(
        description = "A multipart form with the image in `file`, or the image itself as the body (`Content-Type: image/png`, `image/jpeg` or `image/webp`)",
        content(
            (String = "multipart/form-data"),
            (String = "image/png"),
            (String = "image/jpeg"),
            (String = "image/webp"),
        )
    ),
    responses(
        (status = 201, description = "Stored", body = ImageInfo),
        (status = 200, description = "These bytes were uploaded before; that upload", body = ImageInfo),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, description = "Over `limits.max_upload_bytes` or `limits.max_upload_pixels`", body = ErrorBody),
        (status = 415, description = "Not a PNG, JPEG or WebP image", body = ErrorBody),
        (status = 429, description = "Too many uploads; see Retry-After", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Admit(admission): Admit,
    request: Request,
) -> Result<Response, ApiError> {
    // Programs bring the key; the studio's file drop brings its session.
    if !caller.may(&state.auth, Via::Any, Action::Upload).await {
        return Err(ApiError::Unauthorized);
    }
    let (bytes, name) = read(&state, request).await?;
    let uploaded = state.engine.upload(bytes, name, admission.as_ref()).await?;
    let status = match uploaded.cache {
        CacheStatus::Miss => StatusCode::CREATED,
        CacheStatus::Hit => StatusCode::OK,
    };
    Ok((status, Json(ImageInfo::from(&uploaded.record))).into_response())
}

/// The image and its file name, from a multipart form or the raw body.
async fn read(state: &AppState, request: Request) -> Result<(Bytes, Option<String>), ApiError> {
    let max = state.max_upload_bytes;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let mut form = Form::read(multipart, max).await?;
        let mut files = form.take_files(&["file"]);
        return match files.len() {
            1 => {
                let file = files.remove(0);
                Ok((file.bytes, file.name))
            }
            0 => Err(ApiError::BadRequest(
                "no `file` in the form: send the image as the multipart field `file`".into(),
            )),
            n => Err(ApiError::BadRequest(format!(
                "{n} files in `file`: send one image per upload"
            ))),
        };
    }
    if !(content_type.starts_with("image/") || content_type.starts_with("application/octet-stream"))
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the image as multipart/form-data (field `file`) or as the body with its image/* Content-Type, not `{content_type}`"
        )));
    }
    let bytes = Bytes::from_request(request, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the upload is over the limit of {max} bytes (limits.max_upload_bytes)"
            ))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    Ok((bytes, None))
}
