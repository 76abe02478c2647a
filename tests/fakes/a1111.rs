//! AUTOMATIC1111's `/sdapi/v1/txt2img`: base64 PNGs in `images`, and `info` as a JSON document inside a
//! string, which carries the seed actually used.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{b64, mask_hash, pixels_hash, png, serve, unb64, Calls, Fake, GARBAGE};

/// The seed the fake reports for requests that ask for a random one (-1).
pub const RANDOM_SEED: u64 = 3_141_592;

pub async fn start() -> Fake {
    let calls = Calls::default();
    let router = Router::new()
        .route("/sdapi/v1/txt2img", post(txt2img))
        .route("/sdapi/v1/img2img", post(img2img))
        .with_state(calls.clone());
    Fake {
        base: serve(router).await,
        calls,
    }
}

/// `/sdapi/v1/img2img`: txt2img's fields plus `init_images` (base64), `denoising_strength` and, to
/// inpaint, `mask` (base64, white = repaint).
async fn img2img(State(calls): State<Calls>, Json(body): Json<Value>) -> Response {
    calls.hit("img2img");
    let Some(init) = body["init_images"][0].as_str() else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(
                json!({ "detail": [{ "loc": ["body", "init_images"], "msg": "field required" }] }),
            ),
        )
            .into_response();
    };
    calls.hit(&format!("image:{}", pixels_hash(&unb64(init))));
    calls.hit(&format!("strength:{}", body["denoising_strength"]));
    if let Some(mask) = body["mask"].as_str() {
        calls.hit(&format!("mask:{}", mask_hash(&unb64(mask))));
        calls.hit(&format!("invert:{}", body["inpainting_mask_invert"]));
    }
    generate(calls, body).await
}

async fn txt2img(State(calls): State<Calls>, Json(body): Json<Value>) -> Response {
    calls.hit("txt2img");
    generate(calls, body).await
}

async fn generate(_calls: Calls, body: Value) -> Response {
    let prompt = body["prompt"]
        .as_str()
        .unwrap_or_default()
        .replace(' ', "-");
    if body["width"].as_u64().is_none() || body["sampler_name"].as_str().is_none() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "detail": [{ "msg": "field required" }] })),
        )
            .into_response();
    }
    let (w, h) = (
        body["width"].as_u64().unwrap() as u32,
        body["height"].as_u64().unwrap_or(512) as u32,
    );
    let seed = match body["seed"].as_i64() {
        Some(-1) | None => RANDOM_SEED,
        // A server may not honour the seed it was given; the one in `info` is the truth.
        Some(_) if prompt.contains("reseed") => RANDOM_SEED,
        Some(seed) => seed as u64,
    };
    if prompt.contains("hang") {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    let image = if prompt.contains("garbage") {
        b64(GARBAGE)
    } else if prompt.contains("bomb") {
        b64(&super::png_bomb(100_000, 100_000))
    } else if prompt.contains("truncated") {
        let whole = png(w, h);
        b64(&whole[..whole.len() / 2])
    } else {
        b64(&png(w, h))
    };
    let info = json!({ "prompt": prompt, "seed": seed, "width": w, "height": h, "sampler_name": body["sampler_name"] });
    Json(json!({ "images": [image], "parameters": body, "info": info.to_string() })).into_response()
}
