//! `GET /{W}x{H}/{slug}`: the URL is the prompt. Paths whose first segment is not a size go to the
//! site's static files and 404 page, as if this route did not exist.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::image_response::image_response;
use crate::server::engine::GenerateRequest;
use crate::server::AppState;
use crate::urls::placeholder::{parse_size, prompt_from_slug, SizeError};

#[derive(Debug, Deserialize)]
pub struct PlaceholderQuery {
    model: Option<String>,
    seed: Option<String>,
    translate: Option<String>,
}

pub async fn placeholder(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<PlaceholderQuery>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let Path((size, slug)) = match path {
        Ok(path) => path,
        Err(rejection) => return ApiError::BadRequest(rejection.body_text()).into_response(),
    };
    let size = match parse_size(&size, &state.limits) {
        Ok(size) => size,
        Err(SizeError::NotASize(_)) => {
            let not_ours = leptos_axum::file_and_error_handler::<AppState, _>(crate::app::shell);
            return not_ours(uri, State(state), request).await;
        }
        Err(err) => return ApiError::BadRequest(err.to_string()).into_response(),
    };
    let result = async {
        let prompt = prompt_from_slug(&slug, &state.limits)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        let seed = query.seed.as_deref().map(parse_seed).transpose()?;
        let translate = query
            .translate
            .as_deref()
            .map(parse_flag)
            .transpose()?
            .unwrap_or(true);
        let generated = state
            .engine
            .generate(GenerateRequest {
                model: query.model,
                prompt,
                negative_prompt: None,
                seed,
                steps: None,
                size,
                translate,
            })
            .await?;
        let fitted = state.engine.fit(&generated, size).await?;
        let mut response = image_response(
            &headers,
            &fitted.etag,
            fitted.format,
            fitted.bytes,
            Some(generated.cache),
        );
        // The stored original behind this URL, for `/img/{id}` and the API.
        if let Ok(id) = HeaderValue::from_str(&generated.record.id) {
            response.headers_mut().insert("x-image-id", id);
        }
        Ok::<_, ApiError>(response)
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

fn parse_flag(value: &str) -> Result<bool, ApiError> {
    match value {
        "" | "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "translate `{other}` must be true or false"
        ))),
    }
}

fn parse_seed(seed: &str) -> Result<u32, ApiError> {
    seed.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "seed `{seed}` must be a whole number from 0 to {}",
            u32::MAX
        ))
    })
}
