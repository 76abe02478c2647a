//! AUTOMATIC1111 / Forge / sd.cpp: `POST /sdapi/v1/txt2img` (and `/sdapi/v1/img2img` for edits: the
//! source in `init_images`, the mask in `mask`, both base64, white = repaint), answering `{"images": [base64 PNG],
//! "parameters": {...}, "info": "<JSON string>"}`; the seed actually used is read from `info`.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Url;
use serde_json::{json, Value};

use super::http::{self, base64_bytes, send_json};
use super::provider::{ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use crate::server::config::A1111Config;

const NAME: &str = crate::server::config::ProviderKind::A1111.name();

pub struct A1111 {
    client: reqwest::Client,
    base: Url,
    timeout: Duration,
    sampler: String,
    cfg_scale: f32,
}

impl A1111 {
    pub fn new(config: &A1111Config) -> Self {
        let timeout = Duration::from_secs(config.timeout_secs);
        Self {
            client: http::client(timeout),
            base: Url::parse(&config.base_url).expect("validated base_url"),
            timeout,
            sampler: config.sampler.clone(),
            cfg_scale: config.cfg_scale,
        }
    }
}

/// FastAPI's `detail` (or an `error` field) of an error body.
fn error_message(body: &[u8]) -> Option<String> {
    let value = serde_json::from_slice::<Value>(body).ok()?;
    match &value["detail"] {
        Value::String(detail) => Some(detail.clone()),
        Value::Null => value["error"].as_str().map(str::to_owned),
        other => Some(other.to_string()),
    }
}

#[async_trait::async_trait]
impl ImageProvider for A1111 {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError> {
        let endpoint = if request.edit.is_some() {
            "sdapi/v1/img2img"
        } else {
            "sdapi/v1/txt2img"
        };
        let url = http::endpoint(&self.base, endpoint);
        let mut body = json!({
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt.clone().unwrap_or_default(),
            "seed": request.seed.map_or(-1, i64::from),
            "steps": request.steps.unwrap_or(20),
            "cfg_scale": self.cfg_scale,
            "width": request.width,
            "height": request.height,
            "sampler_name": self.sampler,
        });
        if let Some(edit) = &request.edit {
            let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
            body["init_images"] = json!([b64(&edit.image)]);
            body["denoising_strength"] = json!(edit.strength());
            if let Some(mask) = &edit.mask {
                body["mask"] = json!(b64(mask));
                // Repaint where the mask is white, starting from the source's own pixels there.
                body["inpainting_mask_invert"] = json!(0);
                body["inpainting_fill"] = json!(1);
                body["inpaint_full_res"] = json!(false);
            }
        }
        if !request.upstream_model.is_empty() {
            body["override_settings"] = json!({ "sd_model_checkpoint": request.upstream_model });
        }
        let answer: Value = send_json(
            NAME,
            self.timeout,
            self.client.post(url).json(&body),
            error_message,
        )
        .await?;
        let image = answer["images"][0]
            .as_str()
            .ok_or_else(|| ProviderError::InvalidOutput {
                provider: NAME,
                message: "the response has no images".into(),
            })?;
        // `info` is a JSON document inside a string.
        let seed = answer["info"]
            .as_str()
            .and_then(|info| serde_json::from_str::<Value>(info).ok())
            .and_then(|info| info["seed"].as_u64())
            .and_then(|seed| u32::try_from(seed).ok())
            .or(request.seed);
        Ok(ProviderImage {
            bytes: base64_bytes(NAME, image)?,
            seed,
        })
    }
}
