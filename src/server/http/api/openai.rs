//! `POST /v1/images/generations`, `/v1/images/edits` and `/v1/images/variations`: the OpenAI Images
//! API, so existing OpenAI clients work. Errors come in OpenAI's
//! `{"error": {"message", "type", "param", "code"}}` shape.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rejection::json_rejection;
use crate::server::auth::{Action, Caller, Via};
use crate::server::engine::{intake, Admission, Edit, EngineError, GenerateRequest, Seed};
use crate::server::error::ApiError;
use crate::server::http::limits::Admit;
use crate::server::http::sources::{File, Form};
use crate::server::image_info::ImageInfo;
use crate::server::state::AppState;
use crate::server::storage::ImageRecord;
use crate::urls::placeholder::{parse_size, Size};

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
            ApiError::BadRequest(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_) => ("invalid_request_error", None),
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
    if !caller.may(&state.auth, Via::Api, Action::Generate).await {
        return Err(ApiError::Unauthorized.into());
    }
    let Json(body) = body.map_err(json_rejection)?;
    let n = count(body.n)?;
    let prompt = intake::prompt(&body.prompt)
        .map_err(|_| param("prompt", "prompt must not be empty".into()))?;
    let size = size(&state, body.size.as_deref())?;
    let as_url = as_url(body.response_format.as_deref())?;
    let job = Job {
        model: body.model.filter(|m| !m.is_empty()),
        prompt,
        n,
        size,
        edit: None,
    };
    answer(&state, &headers, admission, job, as_url).await
}

/// `POST /v1/images/edits` and `/v1/images/variations`: a multipart form, as OpenAI's clients send.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // The schema of the form; the handler reads it part by part.
pub struct EditForm {
    /// The image to edit (`image[]` is accepted too; one image).
    #[schema(value_type = String, format = Binary)]
    pub image: Vec<u8>,
    /// Where to change it: transparent (or white) areas change.
    #[schema(value_type = Option<String>, format = Binary)]
    pub mask: Option<Vec<u8>>,
    /// What to make of it (edits only).
    pub prompt: Option<String>,
    pub model: Option<String>,
    /// 1 to 4.
    pub n: Option<u32>,
    /// "WxH", or "auto" (default): the source's size.
    pub size: Option<String>,
    /// `b64_json` (default) or `url`.
    pub response_format: Option<String>,
}

/// Edit an image (OpenAI Images API).
#[utoipa::path(
    post,
    path = "/v1/images/edits",
    operation_id = "editImagesOpenAI",
    request_body(content = EditForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = GenerationResponse),
        (status = 400, body = OpenAiErrorBody),
        (status = 401, body = OpenAiErrorBody),
        (status = 404, body = OpenAiErrorBody),
        (status = 413, body = OpenAiErrorBody),
        (status = 415, body = OpenAiErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = OpenAiErrorBody),
        (status = 502, body = OpenAiErrorBody),
        (status = 504, body = OpenAiErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn edits(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Admit(admission): Admit,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<GenerationResponse>, OpenAiError> {
    edit_or_vary(state, caller, headers, admission, multipart, true).await
}

/// Make variations of an image (OpenAI Images API): image-to-image with no prompt.
#[utoipa::path(
    post,
    path = "/v1/images/variations",
    operation_id = "createImageVariationsOpenAI",
    request_body(content = EditForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = GenerationResponse),
        (status = 400, body = OpenAiErrorBody),
        (status = 401, body = OpenAiErrorBody),
        (status = 413, body = OpenAiErrorBody),
        (status = 415, body = OpenAiErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = OpenAiErrorBody),
        (status = 502, body = OpenAiErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn variations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Admit(admission): Admit,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<GenerationResponse>, OpenAiError> {
    edit_or_vary(state, caller, headers, admission, multipart, false).await
}

async fn edit_or_vary(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    admission: Arc<dyn Admission>,
    multipart: Result<Multipart, MultipartRejection>,
    with_prompt: bool,
) -> Result<Json<GenerationResponse>, OpenAiError> {
    if !caller.may(&state.auth, Via::Api, Action::Generate).await {
        return Err(ApiError::Unauthorized.into());
    }
    let multipart = multipart.map_err(|e| {
        param(
            "image",
            format!("send a multipart/form-data form: {}", e.body_text()),
        )
    })?;
    let mut form = Form::read(multipart, state.max_upload_bytes).await?;
    let n = count(form.text("n").map(parse_n).transpose()?)?;
    let size = size(&state, form.text("size"))?;
    let as_url = as_url(form.text("response_format"))?;
    let prompt = match (with_prompt, form.text("prompt")) {
        (true, Some(prompt)) => intake::prompt(prompt)
            .map_err(|_| param("prompt", "prompt must not be empty".into()))?,
        (true, None) => return Err(param("prompt", "an edit needs a prompt".into())),
        (false, _) => String::new(),
    };
    let model = form
        .text("model")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let mut images = form.take_files(&["image", "image[]"]);
    let image = match images.len() {
        1 => images.remove(0),
        0 => return Err(param("image", "no image: send the file as `image`".into())),
        n => {
            return Err(param(
                "image",
                format!("{n} images sent; this server edits one image at a time"),
            ))
        }
    };
    let mask = match with_prompt {
        true => form.take_files(&["mask"]).into_iter().next(),
        false => None,
    };
    // Each source is read on its own, so a problem with one is reported as that field's; the image
    // first, so the mask is judged against it before it is decoded.
    let source = read_source(&state, "image", image, admission.as_ref()).await?;
    let mask = match mask {
        Some(mut mask) => {
            mask.bytes = state
                .engine
                .mask_from_transparency(&source, mask.bytes)
                .await
                .map_err(|err| OpenAiError {
                    error: ApiError::from(err),
                    param: Some("mask"),
                })?;
            Some(read_source(&state, "mask", mask, admission.as_ref()).await?)
        }
        None => None,
    };
    let edit = Edit {
        source,
        mask,
        strength: None,
    };
    let job = Job {
        model,
        prompt,
        n,
        size,
        edit: Some(edit),
    };
    answer(&state, &headers, admission, job, as_url).await
}

/// The stored image an edit's `field` holds (uploaded first), its problems reported as that field's.
async fn read_source(
    state: &AppState,
    field: &'static str,
    file: File,
    admission: &dyn Admission,
) -> Result<ImageRecord, OpenAiError> {
    state
        .engine
        .source(field, file.into_source(), admission)
        .await
        .map_err(|err| OpenAiError {
            error: ApiError::from(err),
            param: Some(field),
        })
}

/// What every endpoint here asks of the engine: n images of one request.
struct Job {
    model: Option<String>,
    prompt: String,
    n: u32,
    /// `None`: an edit's source size, else the intake's default.
    size: Option<Size>,
    edit: Option<Edit>,
}

fn param(param: &'static str, message: String) -> OpenAiError {
    OpenAiError {
        error: ApiError::BadRequest(message),
        param: Some(param),
    }
}

fn parse_n(n: &str) -> Result<u32, OpenAiError> {
    n.trim()
        .parse()
        .map_err(|_| param("n", format!("n must be between 1 and 4, not `{n}`")))
}

fn count(n: Option<u32>) -> Result<u32, OpenAiError> {
    let n = n.unwrap_or(1);
    if !(1..=4).contains(&n) {
        return Err(param("n", format!("n must be between 1 and 4, not {n}")));
    }
    Ok(n)
}

/// `WxH`, or `None` for "auto" or nothing.
fn size(state: &AppState, size: Option<&str>) -> Result<Option<Size>, OpenAiError> {
    match size.map(str::trim) {
        None | Some("") | Some("auto") => Ok(None),
        Some(size) => parse_size(size, &state.limits)
            .map(Some)
            .map_err(|e| param("size", format!("size: {e}"))),
    }
}

fn as_url(format: Option<&str>) -> Result<bool, OpenAiError> {
    match format.unwrap_or("b64_json") {
        "b64_json" => Ok(false),
        "url" => Ok(true),
        other => Err(param(
            "response_format",
            format!("response_format `{other}` must be b64_json or url"),
        )),
    }
}

/// Plans the n images (each with its own seed, so they differ; all planned before any starts), makes
/// them, and answers them in OpenAI's shape.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    admission: Arc<dyn Admission>,
    job: Job,
    as_url: bool,
) -> Result<Json<GenerationResponse>, OpenAiError> {
    let plans = (0..job.n)
        .map(|i| {
            state.engine.plan(GenerateRequest {
                model: job.model.clone(),
                prompt: job.prompt.clone(),
                negative_prompt: None,
                seed: Seed::Nth(i),
                steps: None,
                size: job.size,
                translate: true,
                redo: false,
                edit: job.edit.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| match err {
            EngineError::UnknownModel(e) => OpenAiError {
                error: ApiError::NotFound(e.to_string()),
                param: Some("model"),
            },
            EngineError::Incapable(message) => OpenAiError {
                error: ApiError::BadRequest(message),
                param: Some("model"),
            },
            other => ApiError::from(other).into(),
        })?;
    let base = public_base(state, headers);
    let jobs = plans
        .into_iter()
        .map(|plan| state.engine.generate(plan, admission.clone()));
    let mut data = Vec::new();
    for result in futures::future::join_all(jobs).await {
        let generated = result.map_err(ApiError::from)?;
        let view = ImageInfo::from(&generated.record);
        // A stored image's bytes are read only when the answer carries them.
        let b64_json = if as_url {
            None
        } else {
            let bytes = state
                .engine
                .original_of(&generated)
                .await
                .map_err(ApiError::from)?;
            Some(base64::engine::general_purpose::STANDARD.encode(&bytes))
        };
        data.push(GenerationData {
            b64_json,
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
