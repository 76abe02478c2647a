//! Chat completions on any OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM):
//! `POST /v1/chat/completions` → `choices[0].message.content`.

use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use reqwest::Url;
use serde_json::{json, Value};

use super::llm::{system_prompt, LlmError, LlmFailure};
use crate::server::config::{Config, ModelFamily};
use crate::server::providers::openai::error_message;
use crate::server::secret::Secret;

pub struct ChatClient {
    client: reqwest::Client,
    base: Url,
    key: Secret,
    model: String,
}

impl ChatClient {
    /// A client when an LLM is configured: its own base URL, or the OpenAI image provider's settings.
    pub fn from_config(config: &Config) -> Option<Self> {
        let llm = &config.prompt.openai;
        let images = &config.providers.openai;
        let (base, key) = if !llm.base_url.is_empty() {
            (
                llm.base_url.as_str(),
                if llm.api_key.is_empty() {
                    &images.api_key
                } else {
                    &llm.api_key
                },
            )
        } else if images.is_configured() {
            (
                images.base_url.as_str(),
                if llm.api_key.is_empty() {
                    &images.api_key
                } else {
                    &llm.api_key
                },
            )
        } else {
            return None;
        };
        Some(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(config.prompt.timeout_secs))
                .build()
                .ok()?,
            base: Url::parse(base).ok()?,
            key: key.clone(),
            model: llm.model.clone(),
        })
    }

    pub async fn rewrite(&self, prompt: &str, family: ModelFamily) -> Result<String, LlmError> {
        let url = crate::server::providers::http::endpoint(&self.base, "v1/chat/completions");
        let mut call = self.client.post(url).json(&json!({
            "model": self.model,
            "messages": [
                { "role": "system", "content": system_prompt(family) },
                { "role": "user", "content": prompt },
            ],
            "temperature": 0.2,
            "max_tokens": 300,
        }));
        if !self.key.is_empty() {
            call = call.header(AUTHORIZATION, format!("Bearer {}", self.key.expose()));
        }
        let response = call.send().await.map_err(|err| {
            LlmError::new(
                LlmFailure::Unreachable,
                format!("the LLM server did not answer: {}", err.without_url()),
            )
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|err| {
            LlmError::new(
                LlmFailure::Unreachable,
                format!("reading the LLM answer failed: {}", err.without_url()),
            )
        })?;
        if !status.is_success() {
            let message = error_message(&body).unwrap_or_else(|| "no details".into());
            return Err(LlmError::new(
                LlmFailure::Status(status.as_u16()),
                format!(
                    "the LLM server answered HTTP {}: {message}",
                    status.as_u16()
                ),
            ));
        }
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| LlmError::new(LlmFailure::Unusable, "the LLM answer is not JSON"))?;
        answer["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                LlmError::new(
                    LlmFailure::Unusable,
                    "the LLM answer has no choices[0].message.content",
                )
            })
    }
}
