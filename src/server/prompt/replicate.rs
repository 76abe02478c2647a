//! A language model on Replicate for prompts, through the image provider's client (token, polling,
//! problem-details errors): the system prompt asks for translation and optimisation in one answer.

use std::sync::Arc;

use serde_json::json;

use super::llm::{system_prompt, LlmError};
use crate::server::config::{ModelFamily, ReplicatePromptConfig};
use crate::server::providers::replicate::Replicate;

pub struct ReplicatePrompts {
    client: Arc<Replicate>,
    model: String,
}

impl ReplicatePrompts {
    pub fn new(client: Arc<Replicate>, config: &ReplicatePromptConfig) -> Self {
        Self {
            client,
            model: config.model.clone(),
        }
    }

    pub async fn rewrite(&self, prompt: &str, family: ModelFamily) -> Result<String, LlmError> {
        let input = json!({
            "prompt": prompt,
            "system_prompt": system_prompt(family),
            "max_tokens": 300,
            "temperature": 0.6,
        });
        self.client
            .run_text(&self.model, input)
            .await
            .map_err(LlmError::from)
    }
}
