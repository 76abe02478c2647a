//! `GET /api/images` (keyset pages, search, model filter), `GET` and `DELETE /api/images/{id}`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::types::{ErrorBody, ImagePage};
use crate::domain::kind::ImageKind;
use crate::server::auth::{Action, Caller, Via};
use crate::server::error::ApiError;
use crate::server::image_info::ImageInfo;
use crate::server::paging::{self, PageAsk, PageError, DEFAULT_LIMIT};
use crate::server::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100 (default 24).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Words to find in the prompt or the final prompt; at most `limits.max_search_chars` (200)
    /// characters, else 400.
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
    let ask = PageAsk {
        limit: query.limit.unwrap_or(DEFAULT_LIMIT),
        cursor: query.cursor.as_deref(),
        search: query.q.as_deref(),
        model: query.model.as_deref(),
        kind: query.kind,
        max_search_chars: state.max_search_chars,
    };
    let page = paging::page(&state.engine, ask)
        .await
        .map_err(|err| match err {
            PageError::Engine(err) => ApiError::from(err),
            bad => ApiError::BadRequest(bad.to_string()),
        })?;
    Ok(Json(ImagePage {
        images: page.records.iter().map(ImageInfo::from).collect(),
        next_cursor: page.next_cursor,
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
    if !caller.may(&state.auth, Via::Api, Action::Delete).await {
        return Err(ApiError::Unauthorized);
    }
    if state.engine.delete(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::no_image(&id))
    }
}
