//! Workers AI's REST API as documented: the `{result, success, errors, messages}` envelope (errors with
//! HTTP 200 too), FLUX answering base64 JPEG in JSON, the SD models answering raw bytes, per-account
//! errors 3036 (daily allocation), 3040 (rate limit) and 10000 (authentication).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{b64, jpeg, mask_hash, pixels_hash, png, serve, Calls, Fake, GARBAGE};

/// Accounts the fake knows: id, token, and how it behaves.
pub const ACCOUNTS: &[(&str, &str)] = &[
    ("acc-ok", "cf-token-ok-secret"),
    ("acc-ok2", "cf-token-ok2-secret"),
    ("acc-quota", "cf-token-quota-secret"),
    ("acc-limited", "cf-token-limited-secret"),
    ("acc-limited-for-a-minute", "cf-token-limited-minute-secret"),
    ("acc-badtoken", "cf-token-revoked-secret"),
];

pub async fn start() -> Fake {
    let calls = Calls::default();
    let router = Router::new()
        .route("/client/v4/accounts/{account}/ai/run/{*model}", post(run))
        .with_state(calls.clone());
    Fake {
        base: serve(router).await,
        calls,
    }
}

fn envelope_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({ "result": null, "success": false, "errors": [{ "code": code, "message": message }], "messages": [] })),
    )
        .into_response()
}

fn ok(result: Value) -> Response {
    Json(json!({ "result": result, "success": true, "errors": [], "messages": [] })).into_response()
}

async fn run(
    State(calls): State<Calls>,
    Path((account, model)): Path<(String, String)>,
    headers: HeaderMap,
    Json(input): Json<Value>,
) -> Response {
    calls.hit(&format!("account:{account}"));
    calls.hit(&format!("model:{model}"));
    let token = ACCOUNTS
        .iter()
        .find(|(id, _)| *id == account)
        .map(|(_, t)| *t);
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if token.is_none()
        || sent != format!("Bearer {}", token.unwrap_or_default())
        || account == "acc-badtoken"
    {
        return envelope_error(StatusCode::UNAUTHORIZED, 10000, "Authentication error");
    }
    match account.as_str() {
        "acc-quota" => {
            return envelope_error(
                StatusCode::TOO_MANY_REQUESTS,
                3036,
                "Account limited: you have used up your daily free allocation of 10,000 neurons",
            )
        }
        "acc-limited" => {
            return envelope_error(
                StatusCode::TOO_MANY_REQUESTS,
                3040,
                "Capacity temporarily exceeded",
            )
        }
        "acc-limited-for-a-minute" => {
            let mut response = envelope_error(
                StatusCode::TOO_MANY_REQUESTS,
                3040,
                "Capacity temporarily exceeded",
            );
            response
                .headers_mut()
                .insert("retry-after", "60".parse().unwrap());
            return response;
        }
        _ => {}
    }
    let prompt = input["prompt"]
        .as_str()
        .unwrap_or_default()
        .replace(' ', "-");
    if model == "@cf/meta/m2m100-1.2b" {
        calls.hit(&format!(
            "translate:{}->{}",
            input["source_lang"].as_str().unwrap_or("?"),
            input["target_lang"].as_str().unwrap_or("?")
        ));
        if input["text"]
            .as_str()
            .unwrap_or_default()
            .contains("翻译失败")
        {
            return envelope_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                3043,
                "Internal server error",
            );
        }
        return ok(json!({ "translated_text": "a sloth wearing sunglasses on the beach" }));
    }
    if model.starts_with("@cf/meta/llama") {
        let user = input["messages"][1]["content"].as_str().unwrap_or_default();
        calls.hit(&format!("optimise:{user}"));
        return ok(json!({ "response": format!("A photograph of {user}, golden hour light.") }));
    }
    if prompt.contains("hang") {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    if prompt.contains("bad-request") {
        return envelope_error(
            StatusCode::BAD_REQUEST,
            5006,
            "Error: oneOf at '/' not met: prompt must be shorter than 2048 characters",
        );
    }
    if prompt.contains("internal-error") {
        // Cloudflare's own failure, in the envelope with HTTP 200.
        return envelope_error(StatusCode::OK, 3043, "Internal server error");
    }
    if prompt.contains("success-false") {
        return envelope_error(
            StatusCode::OK,
            5006,
            "Error: oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt'",
        );
    }
    if model.contains("flux") {
        if input.get("width").is_some() || input["steps"].as_u64().is_some_and(|s| s > 8) {
            return envelope_error(
                StatusCode::BAD_REQUEST,
                5006,
                "flux-1-schnell takes prompt and steps <= 8 only",
            );
        }
        return ok(json!({ "image": b64(&jpeg(1024, 1024)) }));
    }
    let (w, h) = (
        input["width"].as_u64().unwrap_or(1024) as u32,
        input["height"].as_u64().unwrap_or(1024) as u32,
    );
    // The runwayml img2img and inpainting models: images as arrays of byte values.
    let bytes_of = |value: &Value| -> Option<Vec<u8>> {
        value
            .as_array()?
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect()
    };
    let wants_image = model.contains("img2img") || model.contains("inpainting");
    match (wants_image, input.get("image")) {
        (true, None) => {
            return envelope_error(
                StatusCode::BAD_REQUEST,
                5006,
                "Error: required properties at '/' are 'prompt', 'image'",
            )
        }
        (false, Some(_)) => {
            return envelope_error(StatusCode::BAD_REQUEST, 5006, "unexpected property 'image'")
        }
        (true, Some(image)) => {
            let Some(image) = bytes_of(image) else {
                return envelope_error(
                    StatusCode::BAD_REQUEST,
                    5006,
                    "image must be an array of uint8",
                );
            };
            calls.hit(&format!("image:{}", pixels_hash(&image)));
            if !input["strength"]
                .as_f64()
                .is_some_and(|s| (0.0..=1.0).contains(&s))
            {
                return envelope_error(
                    StatusCode::BAD_REQUEST,
                    5006,
                    "strength must be between 0 and 1",
                );
            }
            calls.hit(&format!("strength:{}", input["strength"]));
            match (
                model.contains("inpainting"),
                input.get("mask").and_then(bytes_of),
            ) {
                (true, Some(mask)) => {
                    calls.hit(&format!("mask:{}", mask_hash(&mask)));
                }
                (true, None) => {
                    return envelope_error(
                        StatusCode::BAD_REQUEST,
                        5006,
                        "mask is required for inpainting",
                    )
                }
                (false, _) => {}
            }
        }
        (false, None) => {}
    }
    if input["num_steps"].as_u64().is_some_and(|s| s > 20) {
        return envelope_error(StatusCode::BAD_REQUEST, 5006, "num_steps must be <= 20");
    }
    if prompt.contains("garbage") {
        return ([("content-type", "image/png")], GARBAGE).into_response();
    }
    if prompt.contains("mislabelled") {
        // A JPEG announced as PNG: the format must be sniffed, not taken from the header.
        return ([("content-type", "image/png")], jpeg(w, h)).into_response();
    }
    ([("content-type", "image/png")], png(w, h)).into_response()
}
