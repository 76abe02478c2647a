//! `POST /api/image`: generate from the last user message, as CF Flux Remix clients expect, optionally
//! streaming progress as server-sent events.

use std::convert::Infallible;
use std::ops::ControlFlow;

use axum::extract::{FromRequest, Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::rejection::json_rejection;
use super::types::{ErrorBody, ImageRequest, ImageResponse};
use crate::domain::stage::Stage;
use crate::server::auth::{Action, Caller, Via};
use crate::server::engine::{
    intake, Admission, Engine, EngineError, GenerateRequest, Generated, Plan, Seed,
};
use crate::server::error::ApiError;
use crate::server::http::limits::Admit;
use crate::server::http::sources;
use crate::server::image_info::ImageInfo;
use crate::server::state::AppState;
use crate::urls::placeholder::{parse_size, Size, UrlLimits};

/// What this face says when there is no prompt.
const NO_PROMPT: &str =
    "no user message with text: send messages: [{\"role\": \"user\", \"content\": \"…\"}]";

/// Generate an image from the last user message.
#[utoipa::path(
    post,
    path = "/api/image",
    operation_id = "createImage",
    request_body = ImageRequest,
    responses(
        (status = 200, description = "The image; with `stream: true`, server-sent events `queued`, `translating`, `translated`, `generating`, `storing`, then `done` (data: this same JSON) or `error` (data: `{\"error\": \"...\"}`)", content(
            (ImageResponse = "application/json"),
            (String = "text/event-stream"),
        )),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "Unknown model", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 502, description = "Provider failure", body = ErrorBody),
        (status = 504, description = "Provider timeout", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Admit(admission): Admit,
    request: Request,
) -> Result<Response, ApiError> {
    if !caller.may(&state.auth, Via::Api, Action::Generate).await {
        return Err(ApiError::Unauthorized);
    }
    let body = read_body(&state, request).await?;
    let plan = plan(&state, &body, admission.as_ref()).await?;
    if !body.stream {
        let generated = state.engine.generate(plan, admission).await?;
        return Ok(Json(response(&state.engine, &generated).await?).into_response());
    }
    let mut job = state.engine.submit(plan, admission);
    let engine = state.engine.clone();
    let (sender, receiver) = mpsc::channel::<Result<Event, Infallible>>(32);
    tokio::spawn(async move {
        let followed = job
            .follow(|progress| {
                let sender = &sender;
                async move {
                    let event = Event::default()
                        .event(progress.stage().name())
                        .json_data(&progress);
                    let Ok(event) = event else {
                        return ControlFlow::Continue(());
                    };
                    // The client left; the job goes on and is stored.
                    if sender.send(Ok(event)).await.is_err() {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
            })
            .await;
        if followed.is_break() {
            return;
        }
        let answered = match job.result.await {
            Ok(generated) => response(&engine, &generated).await,
            Err(err) => Err(err.into()),
        };
        let last = match answered {
            Ok(body) => Event::default().event(Stage::Done.name()).json_data(body),
            Err(err) => Event::default()
                .event(Stage::Failed.name())
                .json_data(ErrorBody {
                    error: err.to_string(),
                }),
        };
        if let Ok(event) = last {
            let _ = sender.send(Ok(event)).await;
        }
    });
    Ok(Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(state.stream_keep_alive))
        .into_response())
}

/// The request's JSON. A body may be larger than `security.max_body_bytes` only to carry images
/// (`data:` URIs in `image` and `mask`), up to what two uploads take as base64: everything else in it
/// must fit the ordinary limit. That is checked before the document is built, by a pass that reads
/// only where `image` and `mask` are ([`ImagesOnly`]: no allocation, whatever the rest holds), so a
/// large body of anything else (an array of a million zeros as a message's `content`) never becomes
/// a tree in memory.
async fn read_body(state: &AppState, request: Request) -> Result<ImageRequest, ApiError> {
    let (parts, body) = request.into_parts();
    let room = state.max_upload_bytes * 3 + state.security.max_body_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body is over the server's limit (security.max_body_bytes, {} bytes; larger only for images sent as data: URIs, up to limits.max_upload_bytes each)",
            state.security.max_body_bytes
        ))
    };
    let bytes = axum::body::to_bytes(body, room)
        .await
        .map_err(|_| too_large())?;
    if bytes.len() > state.security.max_body_bytes {
        let images = serde_json::from_slice::<ImagesOnly>(&bytes).map_err(|_| too_large())?;
        if bytes.len() - images.data_uri_bytes() > state.security.max_body_bytes {
            return Err(too_large());
        }
    }
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    let Json(body) = Json::<ImageRequest>::from_request(request, state)
        .await
        .map_err(json_rejection)?;
    Ok(body)
}

/// `image` and `mask` of a request body, as the JSON text they are, and nothing else: every other
/// field is skipped as it is read.
#[derive(serde::Deserialize)]
struct ImagesOnly<'a> {
    #[serde(borrow)]
    image: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    mask: Option<&'a serde_json::value::RawValue>,
}

impl ImagesOnly<'_> {
    /// The bytes the `data:` URIs among them take in the body.
    fn data_uri_bytes(&self) -> usize {
        [self.image, self.mask]
            .into_iter()
            .flatten()
            .map(serde_json::value::RawValue::get)
            .filter(|raw| {
                raw.strip_prefix('"')
                    .is_some_and(|text| text.trim_start().starts_with("data:"))
            })
            .map(str::len)
            .sum()
    }
}

/// The answer carries the image itself: a stored one's bytes are read for it.
async fn response(engine: &Engine, generated: &Generated) -> Result<ImageResponse, ApiError> {
    let bytes = engine.original_of(generated).await?;
    let v = ImageInfo::from(&generated.record);
    Ok(ImageResponse {
        image: base64::engine::general_purpose::STANDARD.encode(&bytes),
        cached: generated.cache == crate::server::engine::CacheStatus::Hit,
        translation: v.translation,
        translated_prompt: v.final_prompt,
        prompt: v.prompt,
        id: v.id,
        url: v.url,
        model: v.model,
        seed: v.seed,
        width: v.width,
        height: v.height,
        translation_note: v.translation_note,
    })
}

/// The prompt is the LAST user message; the size comes from `size`, `width`/`height` or `aspect_ratio`,
/// else an edit's source, else 1024x1024.
async fn plan(
    state: &AppState,
    body: &ImageRequest,
    admission: &dyn Admission,
) -> Result<Plan, ApiError> {
    let prompt = body
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| text_of(&m.content))
        .transpose()?
        .unwrap_or_default();
    let size = requested_size(body, &state.limits)?;
    let strength = body.strength.map(intake::strength).transpose()?;
    let edit = match (&body.image, &body.mask) {
        (Some(image), mask) => {
            let image = sources::from_json("image", image)?;
            let mask = mask
                .as_deref()
                .map(|m| sources::from_json("mask", m))
                .transpose()?;
            Some(state.engine.edit(image, mask, strength, admission).await?)
        }
        (None, Some(_)) => {
            return Err(ApiError::BadRequest(
                "a `mask` says where to change an `image`: send the image too".into(),
            ))
        }
        (None, None) if body.strength.is_some() => {
            return Err(ApiError::BadRequest(
                "`strength` says how far to change an `image`: send the image too".into(),
            ))
        }
        (None, None) => None,
    };
    let request = GenerateRequest {
        model: body.model.clone().filter(|m| !m.is_empty()),
        prompt,
        negative_prompt: body.negative_prompt.clone(),
        seed: Seed::given_or(body.seed, Seed::FromPrompt),
        steps: body.steps,
        size,
        translate: body.translate.unwrap_or(true),
        redo: false,
        edit,
    };
    // Without an image to vary, a request needs a prompt; this face names where it goes.
    state.engine.plan(request).map_err(|err| match err {
        EngineError::EmptyPrompt => ApiError::BadRequest(NO_PROMPT.into()),
        other => other.into(),
    })
}

fn text_of(content: &serde_json::Value) -> Result<String, ApiError> {
    match content {
        serde_json::Value::String(text) => Ok(text.clone()),
        serde_json::Value::Array(parts) => Ok(parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" ")),
        _ => Err(ApiError::BadRequest(
            "message content must be a string or a list of text parts".into(),
        )),
    }
}

/// The size the request names, if it names one.
fn requested_size(body: &ImageRequest, limits: &UrlLimits) -> Result<Option<Size>, ApiError> {
    let bad = |e: String| ApiError::BadRequest(e);
    if let Some(size) = &body.size {
        return parse_size(size, limits)
            .map(Some)
            .map_err(|e| bad(format!("size: {e}")));
    }
    match (body.width, body.height) {
        (Some(w), Some(h)) => {
            return parse_size(&format!("{w}x{h}"), limits)
                .map(Some)
                .map_err(|e| bad(e.to_string()))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(bad("give both width and height, or size \"WxH\"".into()))
        }
        (None, None) => {}
    }
    if let Some(ratio) = &body.aspect_ratio {
        let parsed = ratio
            .split_once(':')
            .and_then(|(w, h)| Some((w.trim().parse::<f64>().ok()?, h.trim().parse::<f64>().ok()?)))
            .filter(|(w, h)| {
                *w > 0.0
                    && *h > 0.0
                    && (w / h).is_finite()
                    && (1.0 / 16.0..=16.0).contains(&(w / h))
            })
            .ok_or_else(|| {
                bad(format!(
                    "aspect_ratio `{ratio}` must look like 16:9 (between 1:16 and 16:1)"
                ))
            })?;
        let long = 1024.0;
        let (w, h) = if parsed.0 >= parsed.1 {
            (long, long * parsed.1 / parsed.0)
        } else {
            (long * parsed.0 / parsed.1, long)
        };
        return Ok(Some(Size {
            width: (w.round() as u32).max(1),
            height: (h.round() as u32).max(1),
        }));
    }
    Ok(None)
}
