//! Any OpenAI-compatible images endpoint: `POST /v1/images/generations` (OpenAI, Together, LocalAI,
//! stable-diffusion.cpp). Answers `{"created", "data": [{"b64_json" | "url", "revised_prompt"?}]}`; errors
//! are `{"error": {"message", "type", "param", "code"}}`.

use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use reqwest::Url;
use serde_json::{json, Value};

use super::http::{self, base64_bytes, download, send_json};
use super::{ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use crate::server::config::OpenAiConfig;
use crate::server::secret::Secret;

const NAME: &str = crate::server::config::ProviderKind::OpenAi.name();

pub struct OpenAi {
    client: reqwest::Client,
    key: Secret,
    base: Url,
    timeout: Duration,
    file_hosts: Vec<String>,
}

impl OpenAi {
    pub fn new(config: &OpenAiConfig) -> Self {
        let timeout = Duration::from_secs(config.timeout_secs);
        Self {
            client: http::client(timeout),
            key: config.api_key.clone(),
            base: Url::parse(&config.base_url).expect("validated base_url"),
            timeout,
            file_hosts: config.file_hosts.clone(),
        }
    }
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
        let url = http::endpoint(&self.base, "v1/images/generations");
        let mut call = self.client.post(url).json(&json!({
            "model": request.upstream_model,
            "prompt": request.prompt,
            "n": 1,
            "size": format!("{}x{}", request.width, request.height),
            "response_format": "b64_json",
        }));
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
