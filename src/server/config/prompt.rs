//! `[prompt]`: how prompts are translated and optimised before generation.

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, http_url};
use super::ConfigError;
use crate::server::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineChoice {
    /// openai when an LLM is configured, else cloudflare when Cloudflare is, else replicate when
    /// Replicate is, else builtin.
    Auto,
    Builtin,
    Openai,
    Cloudflare,
    Replicate,
    /// Prompts are used exactly as written.
    Off,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptConfig {
    pub pipeline: PipelineChoice,
    pub timeout_secs: u64,
    pub openai: LlmConfig,
    pub cloudflare: CloudflarePromptConfig,
    pub replicate: ReplicatePromptConfig,
}

impl Default for PromptConfig {
    fn default() -> Self {
        Self {
            pipeline: PipelineChoice::Auto,
            timeout_secs: 20,
            openai: LlmConfig::default(),
            cloudflare: CloudflarePromptConfig::default(),
            replicate: ReplicatePromptConfig::default(),
        }
    }
}

impl PromptConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        http_url("prompt.openai.base_url", &self.openai.base_url, false)?;
        at_least_one("prompt.timeout_secs", self.timeout_secs)
    }
}

/// An OpenAI-compatible chat completions server (OpenAI, Ollama, llama.cpp, vLLM…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Empty: the image provider's `providers.openai.base_url`.
    pub base_url: String,
    /// Empty: `providers.openai.api_key`.
    pub api_key: Secret,
    pub model: String,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: Secret::default(),
            model: "gpt-4o-mini".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudflarePromptConfig {
    /// Translate non-English prompts with `translate_model` before optimising.
    pub translate: bool,
    pub translate_model: String,
    pub optimize_model: String,
}

impl Default for CloudflarePromptConfig {
    fn default() -> Self {
        Self {
            translate: true,
            translate_model: "@cf/meta/m2m100-1.2b".into(),
            optimize_model: "@cf/meta/llama-3.1-8b-instruct".into(),
        }
    }
}

/// A language model on Replicate, run with the image provider's token: translation and optimisation in
/// one instruction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicatePromptConfig {
    /// `owner/name` of an instruct model taking `prompt` and `system_prompt`.
    pub model: String,
}

impl Default for ReplicatePromptConfig {
    fn default() -> Self {
        Self {
            model: "meta/meta-llama-3-8b-instruct".into(),
        }
    }
}
