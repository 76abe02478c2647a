//! Any OpenAI-compatible images endpoint: `POST /v1/images/generations` (OpenAI, Together, LocalAI,
//! stable-diffusion.cpp), and `POST /v1/images/edits` (multipart: the source and a mask whose
//! transparent pixels are the ones to change) for edits. Both answer `{"created", "data": [{"b64_json" | "url", "revised_prompt"?}]}`; errors
//! are `{"error": {"message", "type", "param", "code"}}`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::AUTHORIZATION;
use reqwest::multipart::{Form, Part};
use reqwest::Url;
use serde_json::{json, Value};

use super::http::{self, base64_bytes, download, send_json};
use super::provider::{ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use crate::server::config::OpenAiConfig;
use crate::server::cpu::CpuPool;
use crate::server::secret::Secret;
use crate::server::transform::encode::encode;

const NAME: &str = crate::server::config::ProviderKind::OpenAi.name();

pub struct OpenAi {
    client: reqwest::Client,
    key: Secret,
    base: Url,
    timeout: Duration,
    file_hosts: Vec<String>,
    /// Where the mask is converted: decoding and encoding a PNG is CPU work.
    cpu: Arc<CpuPool>,
}

impl OpenAi {
    pub fn new(config: &OpenAiConfig, cpu: Arc<CpuPool>) -> Self {
        let timeout = Duration::from_secs(config.timeout_secs);
        Self {
            client: http::client(timeout),
            key: config.api_key.clone(),
            base: Url::parse(&config.base_url).expect("validated base_url"),
            timeout,
            file_hosts: config.file_hosts.clone(),
            cpu,
        }
    }
}

/// OpenAI's mask: the source's size, transparent where the image is to change. Ours is white there.
async fn transparent_where_white(cpu: &CpuPool, mask: &Bytes) -> Result<Bytes, ProviderError> {
    let mask = mask.clone();
    let failed = |message: String| ProviderError::BadRequest {
        provider: NAME,
        message,
    };
    cpu.run(move || {
        let gray = image::load_from_memory_with_format(&mask, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?
            .to_luma8();
        let rgba = image::RgbaImage::from_fn(gray.width(), gray.height(), |x, y| {
            image::Rgba([0, 0, 0, 255 - gray.get_pixel(x, y).0[0]])
        });
        encode(
            &image::DynamicImage::ImageRgba8(rgba),
            crate::domain::format::ImageFormat::Png,
            100,
        )
        .map(|(png, _)| Bytes::from(png))
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| failed(format!("converting the mask stopped: {e}")))?
    .map_err(|e| failed(format!("the mask cannot be converted: {e}")))
}

/// `error.message` of an OpenAI error body.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
}

#[async_trait::async_trait]
impl ImageProvider for OpenAi {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError> {
        let size = format!("{}x{}", request.width, request.height);
        let mut call = match &request.edit {
            None => self
                .client
                .post(http::endpoint(&self.base, "v1/images/generations"))
                .json(&json!({
                    "model": request.upstream_model,
                    "prompt": request.prompt,
                    "n": 1,
                    "size": size,
                    "response_format": "b64_json",
                })),
            Some(edit) => {
                let gpt_image = request.upstream_model.starts_with("gpt-image");
                let png = |bytes: Bytes, name: &'static str| {
                    Part::stream(bytes)
                        .file_name(name)
                        .mime_str("image/png")
                        .expect("a valid MIME type")
                };
                let mut form = Form::new()
                    .text("model", request.upstream_model.clone())
                    .text("prompt", request.prompt.clone())
                    .text("n", "1")
                    .text("size", size)
                    .part(
                        if gpt_image { "image[]" } else { "image" },
                        png(edit.image.clone(), "image.png"),
                    );
                // GPT Image models always answer base64 and refuse the parameter.
                if !gpt_image {
                    form = form.text("response_format", "b64_json");
                }
                if let Some(mask) = &edit.mask {
                    form = form.part(
                        "mask",
                        png(transparent_where_white(&self.cpu, mask).await?, "mask.png"),
                    );
                }
                self.client
                    .post(http::endpoint(&self.base, "v1/images/edits"))
                    .multipart(form)
            }
        };
        if !self.key.is_empty() {
            call = call.header(AUTHORIZATION, format!("Bearer {}", self.key.expose()));
        }
        let answer: Value = send_json(NAME, self.timeout, call, error_message).await?;
        let first = &answer["data"][0];
        let bytes = if let Some(b64) = first["b64_json"].as_str() {
            base64_bytes(NAME, b64)?
        } else if let Some(url) = first["url"].as_str() {
            download(
                NAME,
                &self.client,
                self.timeout,
                url,
                &self.base,
                &self.file_hosts,
            )
            .await?
        } else {
            return Err(ProviderError::InvalidOutput {
                provider: NAME,
                message: "data[0] has neither b64_json nor url".into(),
            });
        };
        Ok(ProviderImage { bytes, seed: None })
    }
}
