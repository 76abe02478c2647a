//! Replicate's predictions API as documented: `Prefer: wait`, 201 with a prediction that may still be
//! running, polling through `urls.get`, output as URL array / URL / data URI, problem-details errors.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{b64, jpeg, png, Calls, Fake, GARBAGE};

pub const TOKEN: &str = "r8-test-token-0123456789";

#[derive(Clone)]
struct Ctx {
    base: String,
    calls: Calls,
}

pub async fn start() -> Fake {
    let calls = Calls::default();
    // The router needs its own base URL for `urls.get` and file links: bind first, then build.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ctx = Ctx {
        base: base.clone(),
        calls: calls.clone(),
    };
    let router = Router::new()
        .route("/v1/models/{owner}/{name}/predictions", post(create))
        .route("/v1/predictions", post(create_version))
        .route("/v1/predictions/{id}", get(poll))
        .route("/files/{name}", get(file))
        .with_state(ctx);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Fake { base, calls }
}

/// The size flux-schnell uses for an aspect ratio.
fn size_for(ratio: &str) -> (u32, u32) {
    match ratio {
        "16:9" => (1344, 768),
        "21:9" => (1536, 640),
        "3:2" => (1216, 832),
        "2:3" => (832, 1216),
        "4:5" => (896, 1088),
        "5:4" => (1088, 896),
        "3:4" => (896, 1152),
        "4:3" => (1152, 896),
        "9:16" => (768, 1344),
        "9:21" => (640, 1536),
        _ => (1024, 1024),
    }
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({ "title": title, "detail": detail, "status": status.as_u16() })),
    )
        .into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn prediction(ctx: &Ctx, id: &str, status: &str, output: Value) -> Value {
    json!({
        "id": id,
        "status": status,
        "output": output,
        "error": if status == "failed" { json!("NSFW content detected. Try running it again, or try a different prompt.") } else { Value::Null },
        "urls": { "get": format!("{}/v1/predictions/{id}", ctx.base), "cancel": format!("{}/v1/predictions/{id}/cancel", ctx.base) },
    })
}

/// `POST /v1/predictions` with a `version`: a community model's pinned version.
async fn create_version(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some(version) = body["version"].as_str().map(str::to_owned) else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid version",
            "version is required",
        );
    };
    ctx.calls.hit(&format!("version:{version}"));
    predict(ctx, "version".into(), version, headers, body).await
}

async fn create(
    State(ctx): State<Ctx>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    predict(ctx, owner, name, headers, body).await
}

/// A data URI's bytes.
fn data_uri(value: &Value) -> Option<Vec<u8>> {
    let (meta, data) = value.as_str()?.strip_prefix("data:")?.split_once(',')?;
    meta.ends_with(";base64").then(|| super::unb64(data))
}

async fn predict(
    ctx: Ctx,
    owner: String,
    name: String,
    headers: HeaderMap,
    body: Value,
) -> Response {
    if !authorised(&headers) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            "You did not pass a valid authentication token",
        );
    }
    let input = &body["input"];
    let prompt = input["prompt"].as_str().unwrap_or_default().to_owned();
    if owner == "meta" {
        return language_model(&ctx, &name, input);
    }
    // Slugs arrive with spaces for dashes; the scenario words are written with dashes.
    let words = prompt.replace(' ', "-");
    let attempt = ctx.calls.hit(&format!("create:{prompt}"));
    ctx.calls.hit("create");
    ctx.calls.hit(&format!("model:{owner}/{name}"));
    if headers.get("prefer").and_then(|v| v.to_str().ok()) == Some("wait") {
        ctx.calls.hit("prefer-wait");
    }
    if let Some(ratio) = input["aspect_ratio"].as_str() {
        ctx.calls.hit(&format!("aspect_ratio:{ratio}"));
    }
    if prompt.is_empty() || words.contains("invalid-input") {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "title": "Input validation failed",
                "detail": "- input: prompt is required",
                "status": 422,
                "invalid_fields": [{ "type": "required", "field": "input.prompt", "description": "prompt is required" }],
            })),
        )
            .into_response();
    }
    let (mut width, mut height) = size_for(input["aspect_ratio"].as_str().unwrap_or("1:1"));
    // Edits: FLUX Kontext's `input_image` (its output keeps the input's shape), or Stable Diffusion
    // inpainting's `image` and `mask` at `width`×`height`. Data URIs, as Pixzoo sends them.
    if let Some(source) = input.get("input_image") {
        let Some(source) = data_uri(source) else {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Input validation failed",
                "- input_image: must be a URI",
            );
        };
        ctx.calls
            .hit(&format!("image:{}", super::pixels_hash(&source)));
        if input["aspect_ratio"] != "match_input_image" {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Input validation failed",
                "- aspect_ratio: expected match_input_image for an edit",
            );
        }
        (width, height) = image::load_from_memory(&source)
            .map(|i| (i.width(), i.height()))
            .unwrap_or((1024, 1024));
    }
    if let Some(source) = input.get("image") {
        let (Some(source), Some(mask)) = (data_uri(source), input.get("mask").and_then(data_uri))
        else {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Input validation failed",
                "- image, mask: both are required data or http URIs",
            );
        };
        ctx.calls
            .hit(&format!("image:{}", super::pixels_hash(&source)));
        ctx.calls.hit(&format!("mask:{}", super::mask_hash(&mask)));
        ctx.calls
            .hit(&format!("prompt_strength:{}", input["prompt_strength"]));
        (width, height) = (
            input["width"].as_u64().unwrap_or(512) as u32,
            input["height"].as_u64().unwrap_or(512) as u32,
        );
    }
    let file = format!("{}/files/{width}x{height}.png", ctx.base);
    if words.contains("throttle-header") && attempt == 1 {
        let mut response = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Request was throttled",
            "Request was throttled.",
        );
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return response;
    }
    if words.contains("throttle-text") && attempt == 1 {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Request was throttled",
            "Request was throttled. Your rate limit resets in ~1s.",
        );
    }
    if words.contains("throttled-for-an-hour") {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Request was throttled",
            "Request was throttled. Your rate limit resets in ~3600s.",
        );
    }
    if words.contains("always-throttled") {
        let mut response = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Request was throttled",
            "Request was throttled.",
        );
        response
            .headers_mut()
            .insert("retry-after", "0".parse().unwrap());
        return response;
    }
    if words.contains("server-error") {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "something broke",
        );
    }
    if words.contains("hang") {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    if words.contains("slow") {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let id = format!("pred{}", ctx.calls.count("create"));
    let body = if words.contains("async") {
        prediction(
            &ctx,
            &format!("{id}-{width}x{height}"),
            "starting",
            Value::Null,
        )
    } else if words.contains("nsfw") {
        prediction(&ctx, &id, "failed", Value::Null)
    } else if words.contains("single-url") {
        prediction(&ctx, &id, "succeeded", json!(file))
    } else if words.contains("data-uri") {
        prediction(
            &ctx,
            &id,
            "succeeded",
            json!(format!(
                "data:image/png;base64,{}",
                b64(&png(width, height))
            )),
        )
    } else if words.contains("jpeg-file") {
        // A JPEG behind a `.png` name, served as image/png: the format comes from the bytes.
        prediction(
            &ctx,
            &id,
            "succeeded",
            json!([format!("{}/files/jpeg-{width}x{height}.png", ctx.base)]),
        )
    } else if words.contains("garbage") {
        prediction(
            &ctx,
            &id,
            "succeeded",
            json!([format!("{}/files/garbage", ctx.base)]),
        )
    } else if words.contains("foreign-host") {
        prediction(
            &ctx,
            &id,
            "succeeded",
            json!(["http://files.example.invalid/out.png"]),
        )
    } else {
        prediction(&ctx, &id, "succeeded", json!([file]))
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn poll(State(ctx): State<Ctx>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if !authorised(&headers) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            "You did not pass a valid authentication token",
        );
    }
    let polls = ctx.calls.hit(&format!("poll:{id}"));
    let size = id.rsplit('-').next().unwrap_or("1024x1024").to_owned();
    if polls < 2 {
        return Json(prediction(&ctx, &id, "processing", Value::Null)).into_response();
    }
    Json(prediction(
        &ctx,
        &id,
        "succeeded",
        json!([format!("{}/files/{size}.png", ctx.base)]),
    ))
    .into_response()
}

/// Output files are public: no auth, and a request that carries one is refused so the test notices.
async fn file(State(ctx): State<Ctx>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    ctx.calls.hit("file");
    if headers.contains_key("authorization") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    if name == "garbage" {
        return ([("content-type", "image/png")], GARBAGE).into_response();
    }
    let jpeg_inside = name.starts_with("jpeg-");
    let (w, h) = name
        .trim_start_matches("jpeg-")
        .trim_end_matches(".png")
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((1024, 1024));
    let bytes = if jpeg_inside { jpeg(w, h) } else { png(w, h) };
    ([("content-type", "image/png")], bytes).into_response()
}

/// A language model (Llama 3 Instruct): `prompt` and `system_prompt` in, the answer streamed out as an
/// array of text pieces.
fn language_model(ctx: &Ctx, name: &str, input: &Value) -> Response {
    let prompt = input["prompt"].as_str().unwrap_or_default();
    ctx.calls.hit(&format!("llm:{name}:{prompt}"));
    if !input["system_prompt"]
        .as_str()
        .is_some_and(|s| s.contains("English"))
    {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Input validation failed",
            "- input: system_prompt is required",
        );
    }
    if prompt.contains("llm down") {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "the model crashed",
        );
    }
    let pieces: Vec<String> = if prompt
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    {
        [
            "A sloth",
            " wearing",
            " sunglasses",
            " on a sunny",
            " beach.",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        vec![
            "A detailed picture of ".into(),
            prompt.to_owned(),
            ".".into(),
        ]
    };
    let id = format!("llm{}", ctx.calls.count("llm"));
    ctx.calls.hit("llm");
    Json(prediction(ctx, &id, "succeeded", json!(pieces))).into_response()
}
