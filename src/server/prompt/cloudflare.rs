//! Workers AI for prompts: m2m100 translates (`{text, source_lang, target_lang}` →
//! `result.translated_text`), an instruct model optimises (`{messages}` → `result.response`). Uses the
//! image provider's accounts, rotation and cooldowns.

use std::sync::Arc;

use serde_json::json;

use super::builtin::iso_639_1;
use super::llm::{system_prompt, LlmError, LlmFailure};
use crate::server::config::{CloudflarePromptConfig, ModelFamily};
use crate::server::providers::cloudflare::Cloudflare;

pub struct CloudflarePrompts {
    client: Arc<Cloudflare>,
    translate: bool,
    translate_model: String,
    optimize_model: String,
}

impl CloudflarePrompts {
    pub fn new(client: Arc<Cloudflare>, config: &CloudflarePromptConfig) -> Self {
        Self {
            client,
            translate: config.translate,
            translate_model: config.translate_model.clone(),
            optimize_model: config.optimize_model.clone(),
        }
    }

    pub async fn rewrite(&self, prompt: &str, family: ModelFamily) -> Result<String, LlmError> {
        let mut text = prompt.to_owned();
        if let Some(source) = iso_639_1(prompt).filter(|_| self.translate) {
            let result = self
                .client
                .run_json(
                    &self.translate_model,
                    &json!({ "text": prompt, "source_lang": source, "target_lang": "en" }),
                )
                .await
                .map_err(|err| LlmError::from(err).at("translation"))?;
            text = result["translated_text"]
                .as_str()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    LlmError::new(LlmFailure::Unusable, "the translation came back empty")
                        .at("translation")
                })?
                .to_owned();
        }
        let result = self
            .client
            .run_json(
                &self.optimize_model,
                &json!({ "messages": [
                    { "role": "system", "content": system_prompt(family) },
                    { "role": "user", "content": text },
                ] }),
            )
            .await
            .map_err(|err| LlmError::from(err).at("optimisation"))?;
        result["response"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                LlmError::new(
                    LlmFailure::Unusable,
                    "the optimisation has no result.response",
                )
                .at("optimisation")
            })
    }
}
