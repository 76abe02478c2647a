//! What a JSON body that fails to extract becomes: the [`ApiError`] the handlers answer with.

use axum::extract::rejection::JsonRejection;

use crate::server::error::ApiError;

/// A body that is not the JSON we expect: 413 when too large, else 400 with serde's reason.
pub(super) fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(
            "the body is over the server's limit (security.max_body_bytes)".into(),
        ),
        _ => ApiError::BadRequest(rejection.body_text()),
    }
}
