//! `POST /v1/images/generations`: the OpenAI Images API, so existing OpenAI clients work. Errors come in
//! OpenAI's `{"error": {"message", "type", "param", "code"}}` shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{json_rejection, ApiError};
use crate::server::auth::{Action, Caller, Via};
use crate::server::engine::{intake, EngineError, GenerateRequest, Seed};
use crate::server::http::limits::Admit;
use crate::server::state::AppState;
use crate::server::view::ImageInfo;
use crate::urls::placeholder::parse_size;

/// Other OpenAI fields (`quality`, `style`, `user`…) are accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerationRequest {
    pub prompt: String,
    /// A catalog id; the default model when absent.
    pub model: Option<String>,
    /// 1 to 4 images, each with its own seed.
    pub n: Option<u32>,
    /// "WxH" (default "1024x1024").
    pub size: Option<String>,
    /// `b64_json` (default) or `url` (`/img/{id}` on this server).
    pub response_format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub revised_prompt: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationResponse {
    pub created: u64,
    pub data: Vec<GenerationData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorDetail,
}

/// An [`ApiError`] in OpenAI's error shape, with the same status and headers.
pub struct OpenAiError {
    error: ApiError,
    param: Option<&'static str>,
}

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> Self {
        Self { error, param: None }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let message = self.error.to_string();
        let (kind, code) = match &self.error {
            ApiError::BadRequest(_) | ApiError::PayloadTooLarge(_) => {
                ("invalid_request_error", None)
            }
            ApiError::NotFound(_) => ("invalid_request_error", Some("model_not_found")),
            ApiError::Unauthorized => ("invalid_request_error", Some("invalid_api_key")),
            ApiError::RateLimited { .. } => ("requests", Some("rate_limit_exceeded")),
            _ => ("server_error", None),
        };
        let body = OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message,
                kind: kind.into(),
                param: self.param.map(str::to_owned),
                code: code.map(str::to_owned),
            },
        };
        self.error.with_body(body)
    }
}

/// Create images (OpenAI Images API).
#[utoipa::path(
    post,
    path = "/v1/images/generations",
    operation_id = "createImagesOpenAI",
    request_body = GenerationRequest,
    responses(
        (status = 200, body = GenerationResponse),
        (status = 400, body = OpenAiErrorBody),
        (status = 401, body = OpenAiErrorBody),
        (status = 404, body = OpenAiErrorBody),
        (status = 413, body = OpenAiErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = OpenAiErrorBody),
        (status = 502, body = OpenAiErrorBody),
        (status = 504, body = OpenAiErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn generations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Admit(admission): Admit,
    body: Result<Json<GenerationRequest>, JsonRejection>,
) -> Result<Json<GenerationResponse>, OpenAiError> {
    if !caller.may(&state, Via::Api, Action::Generate).await {
        return Err(ApiError::Unauthorized.into());
    }
    let Json(body) = body.map_err(json_rejection)?;
    let param = |param, message: String| OpenAiError {
        error: ApiError::BadRequest(message),
        param: Some(param),
    };
    let n = body.n.unwrap_or(1);
    if !(1..=4).contains(&n) {
        return Err(param("n", format!("n must be between 1 and 4, not {n}")));
    }
    let prompt = intake::prompt(&body.prompt)
        .map_err(|_| param("prompt", "prompt must not be empty".into()))?;
    let size = parse_size(body.size.as_deref().unwrap_or("1024x1024"), &state.limits)
        .map_err(|e| param("size", format!("size: {e}")))?;
    let as_url = match body.response_format.as_deref().unwrap_or("b64_json") {
        "b64_json" => false,
        "url" => true,
        other => {
            return Err(param(
                "response_format",
                format!("response_format `{other}` must be b64_json or url"),
            ))
        }
    };
    let model = body.model.filter(|m| !m.is_empty());
    // Each of the n images has its own seed, so they differ; all are planned before any starts.
    let plans = (0..n)
        .map(|i| {
            state.engine.plan(GenerateRequest {
                model: model.clone(),
                prompt: prompt.clone(),
                negative_prompt: None,
                seed: Seed::Nth(i),
                steps: None,
                size,
                translate: true,
                redo: false,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| match err {
            EngineError::UnknownModel(e) => OpenAiError {
                error: ApiError::NotFound(e.to_string()),
                param: Some("model"),
            },
            other => ApiError::from(other).into(),
        })?;
    let base = public_base(&state, &headers);
    let jobs = plans
        .into_iter()
        .map(|plan| state.engine.generate(plan, admission.clone()));
    let mut data = Vec::new();
    for result in futures::future::join_all(jobs).await {
        let generated = result.map_err(ApiError::from)?;
        let view = ImageInfo::from(&generated.record);
        data.push(GenerationData {
            b64_json: (!as_url)
                .then(|| base64::engine::general_purpose::STANDARD.encode(&generated.bytes)),
            url: as_url.then(|| format!("{base}{}", view.url)),
            revised_prompt: view.final_prompt,
        });
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Json(GenerationResponse { created, data }))
}

/// `https://host` as clients reach this server: configured, or from the request's `Host`.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if !state.public_url.is_empty() {
        return state.public_url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}
