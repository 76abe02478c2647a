//! The OpenAI API as documented: images (`b64_json` or `url` outputs) and chat completions, with errors in
//! `{"error": {"message", "type", "param", "code"}}`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{b64, png, Calls, Fake, GARBAGE};

pub const KEY: &str = "sk-test-openai-key-secret";

#[derive(Clone)]
struct Ctx {
    base: String,
    calls: Calls,
}

pub async fn start() -> Fake {
    let calls = Calls::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/v1/images/generations", post(images))
        .route("/v1/images/edits", post(edits))
        .route("/v1/chat/completions", post(chat))
        .route(
            "/files/out.png",
            get(|| async { ([("content-type", "image/png")], png(1024, 1024)) }),
        )
        .with_state(Ctx {
            base: base.clone(),
            calls: calls.clone(),
        });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Fake { base, calls }
}

fn error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })),
    )
        .into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
}

async fn images(State(ctx): State<Ctx>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    ctx.calls.hit("images");
    if !authorised(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            "invalid_api_key",
        );
    }
    let prompt = body["prompt"]
        .as_str()
        .unwrap_or_default()
        .replace(' ', "-");
    ctx.calls
        .hit(&format!("size:{}", body["size"].as_str().unwrap_or("?")));
    ctx.calls.hit(&format!("prompt:{prompt}"));
    if prompt.contains("rate-limited") && ctx.calls.hit(&format!("attempt:{prompt}")) == 1 {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for images per minute.",
            "requests",
            "rate_limit_exceeded",
        );
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return response;
    }
    if prompt.contains("always-limited") {
        // OpenAI's 429 without a Retry-After header: the engine backs off on its own.
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for images per minute.",
            "requests",
            "rate_limit_exceeded",
        );
    }
    if prompt.contains("hang") {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    if prompt.contains("slow") {
        // Long enough for identical requests to overlap, or for an instance to die meanwhile.
        let seconds = if prompt.contains("very-slow") { 4 } else { 1 };
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    }
    if prompt.contains("policy") {
        return error(
            StatusCode::BAD_REQUEST,
            "Your request was rejected as a result of our safety system.",
            "invalid_request_error",
            "content_policy_violation",
        );
    }
    let (w, h) = body["size"]
        .as_str()
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((1024, 1024));
    let item = if prompt.contains("garbage") {
        json!({ "b64_json": b64(GARBAGE) })
    } else if prompt.contains("url-output") {
        json!({ "url": format!("{}/files/out.png", ctx.base), "revised_prompt": prompt })
    } else {
        json!({ "b64_json": b64(&png(w, h)), "revised_prompt": prompt })
    };
    Json(json!({ "created": 1_700_000_000, "data": [item] })).into_response()
}

/// `POST /v1/images/edits`: multipart with `image` (or `image[]`), an optional `mask` PNG whose
/// transparent pixels are the ones to change, `prompt`, `model`, `n`, `size`; `response_format` is
/// refused for GPT Image models, as OpenAI does.
async fn edits(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    mut form: axum::extract::Multipart,
) -> Response {
    ctx.calls.hit("edits");
    if !authorised(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            "invalid_api_key",
        );
    }
    let mut texts = std::collections::HashMap::new();
    let (mut image, mut mask) = (None, None);
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.unwrap_or_default();
        match name.as_str() {
            "image" | "image[]" => {
                ctx.calls.hit(&format!("field:{name}"));
                image = Some(bytes);
            }
            "mask" => mask = Some(bytes),
            _ => {
                texts.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let model = texts.get("model").cloned().unwrap_or_default();
    let Some(image) = image else {
        return error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'image'.",
            "invalid_request_error",
            "missing_required_parameter",
        );
    };
    if model.starts_with("gpt-image") && texts.contains_key("response_format") {
        return error(
            StatusCode::BAD_REQUEST,
            "Unknown parameter: 'response_format'.",
            "invalid_request_error",
            "unknown_parameter",
        );
    }
    let prompt = texts
        .get("prompt")
        .cloned()
        .unwrap_or_default()
        .replace(' ', "-");
    if prompt.contains("policy") {
        return error(
            StatusCode::BAD_REQUEST,
            "Your request was rejected as a result of our safety system.",
            "invalid_request_error",
            "content_policy_violation",
        );
    }
    ctx.calls
        .hit(&format!("image:{}", super::pixels_hash(&image)));
    if let Some(mask) = mask {
        let decoded = image::load_from_memory(&mask).unwrap();
        if !decoded.color().has_alpha() {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid mask: the mask must have an alpha channel.",
                "invalid_request_error",
                "invalid_image",
            );
        }
        ctx.calls
            .hit(&format!("mask:{}", super::alpha_mask_hash(&mask)));
    }
    let (w, h) = texts
        .get("size")
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((1024, 1024));
    Json(json!({ "created": 1_700_000_000, "data": [{ "b64_json": b64(&png(w, h)) }] }))
        .into_response()
}

async fn chat(State(ctx): State<Ctx>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    ctx.calls.hit("chat");
    if !authorised(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            "invalid_api_key",
        );
    }
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    let user = body["messages"][1]["content"].as_str().unwrap_or_default();
    let words = user.replace(' ', "-");
    if !system.contains("English") {
        return error(
            StatusCode::BAD_REQUEST,
            "unexpected system prompt",
            "invalid_request_error",
            "bad_prompt",
        );
    }
    if words.contains("llm-down") {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is overloaded.",
            "server_error",
            "overloaded",
        );
    }
    let content = if user.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
        "\"A sloth wearing sunglasses, relaxing on a sunny beach.\"".to_owned()
    } else {
        format!("A detailed picture of {user}.")
    };
    Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
    }))
    .into_response()
}
