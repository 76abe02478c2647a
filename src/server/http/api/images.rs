//! `GET /api/images` (keyset pages, search, model filter), `GET` and `DELETE /api/images/{id}`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{ErrorBody, ImagePage};
use super::ApiError;
use crate::domain::kind::ImageKind;
use crate::server::auth::{Action, Caller, Via};
use crate::server::state::AppState;
use crate::server::storage::{cursor_after, parse_cursor, PageQuery};
use crate::server::view::ImageInfo;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100 (default 24).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Words to find in the prompt or the final prompt.
    q: Option<String>,
    /// Only this model's images.
    model: Option<String>,
    /// Only images of this kind: generated, upload or edit.
    kind: Option<ImageKind>,
}

/// A page of the catalog, newest first.
#[utoipa::path(
    get,
    path = "/api/images",
    operation_id = "listImages",
    params(ListQuery),
    responses((status = 200, body = ImagePage), (status = 400, body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ImagePage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(24);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit {limit} must be between 1 and 100"
        )));
    }
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            parse_cursor(c).ok_or_else(|| {
                ApiError::BadRequest(format!("cursor `{c}` is not one this server gave out"))
            })
        })
        .transpose()?;
    let page = state
        .engine
        .page(&PageQuery {
            // One more than asked tells whether another page follows.
            limit: limit + 1,
            after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
            search: query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()),
            model: query.model.as_deref().filter(|m| !m.is_empty()),
            kind: query.kind,
        })
        .await?;
    let more = page.len() > limit as usize;
    let images: Vec<ImageInfo> = page
        .iter()
        .take(limit as usize)
        .map(ImageInfo::from)
        .collect();
    let next_cursor = more
        .then(|| page.get(limit as usize - 1))
        .flatten()
        .map(cursor_after);
    Ok(Json(ImagePage {
        images,
        next_cursor,
    }))
}

/// One catalog entry.
#[utoipa::path(
    get,
    path = "/api/images/{id}",
    operation_id = "getImage",
    params(("id" = String, Path, description = "Image id")),
    responses((status = 200, body = ImageInfo), (status = 404, body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ImageInfo>, ApiError> {
    let record = state
        .engine
        .record(&id)
        .await?
        .ok_or_else(|| ApiError::no_image(&id))?;
    Ok(Json(ImageInfo::from(&record)))
}

/// Deletes an image, its stored original and its derivatives.
#[utoipa::path(
    delete,
    path = "/api/images/{id}",
    operation_id = "deleteImage",
    params(("id" = String, Path, description = "Image id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !caller.may(&state, Via::Api, Action::Delete).await {
        return Err(ApiError::Unauthorized);
    }
    if state.engine.delete(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::no_image(&id))
    }
}
