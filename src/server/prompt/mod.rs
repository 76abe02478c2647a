//! The prompt pipeline: translate to English and optimise for the model family, before generation.
//!
//! One pipeline is chosen at start-up (`[prompt] pipeline`). LLM results are cached in the catalog by
//! (pipeline, family, prompt), so a URL keeps meaning the same image across restarts. On any failure the
//! prompt is used as written and the outcome says why (`translation: fallback`); failures are not cached.

mod builtin;
mod cloudflare;
mod llm;
mod openai;
mod outcome;
mod replicate;

pub use llm::{LlmError, LlmFailure};
pub use outcome::PromptOutcome;

use std::sync::Arc;
use std::time::Duration;

use crate::domain::translation::Translation;
use crate::server::config::{Config, ModelFamily, PipelineChoice};
use crate::server::providers::cloudflare::Cloudflare;
use crate::server::providers::replicate::Replicate;
use crate::server::storage::PromptCache;

enum Kind {
    Off,
    Builtin,
    OpenAi(openai::ChatClient),
    Cloudflare(cloudflare::CloudflarePrompts),
    Replicate(replicate::ReplicatePrompts),
}

pub struct PromptPipeline {
    kind: Kind,
    timeout: Duration,
    cache: Arc<dyn PromptCache>,
}

impl PromptPipeline {
    pub fn new(
        config: &Config,
        cloudflare: Option<Arc<Cloudflare>>,
        replicate: Option<Arc<Replicate>>,
        cache: Arc<dyn PromptCache>,
    ) -> Self {
        let llm = openai::ChatClient::from_config(config);
        let kind = match (config.prompt.pipeline, llm, cloudflare, replicate) {
            (PipelineChoice::Off, ..) => Kind::Off,
            (PipelineChoice::Builtin, ..) => Kind::Builtin,
            (PipelineChoice::Openai | PipelineChoice::Auto, Some(llm), ..) => Kind::OpenAi(llm),
            (PipelineChoice::Cloudflare | PipelineChoice::Auto, _, Some(cf), _) => {
                Kind::Cloudflare(cloudflare::CloudflarePrompts::new(
                    cf,
                    &config.prompt.cloudflare,
                ))
            }
            (PipelineChoice::Replicate | PipelineChoice::Auto, _, _, Some(client)) => {
                Kind::Replicate(replicate::ReplicatePrompts::new(
                    client,
                    &config.prompt.replicate,
                ))
            }
            (choice, ..) => {
                if choice != PipelineChoice::Auto {
                    tracing::warn!(
                        ?choice,
                        "the chosen prompt pipeline is not configured; using builtin"
                    );
                }
                Kind::Builtin
            }
        };
        Self {
            kind,
            timeout: Duration::from_secs(config.prompt.timeout_secs),
            cache,
        }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Off => "off",
            Kind::Builtin => "builtin",
            Kind::OpenAi(_) => "openai",
            Kind::Cloudflare(_) => "cloudflare",
            Kind::Replicate(_) => "replicate",
        }
    }

    /// The prompt to send to a model of `family`. Never fails: failures fall back to the prompt as written.
    /// Whether [`run`](Self::run) would call the LLM (which costs money) rather than answer from the
    /// cache or the builtin rules.
    pub async fn needs_llm(&self, prompt: &str, family: ModelFamily, translate: bool) -> bool {
        if !translate
            || family == ModelFamily::Placeholder
            || matches!(self.kind, Kind::Off | Kind::Builtin)
        {
            return false;
        }
        !matches!(
            self.cache
                .cached_prompt(self.name(), family.as_str(), prompt)
                .await,
            Ok(Some(_))
        )
    }

    pub async fn run(&self, prompt: &str, family: ModelFamily, translate: bool) -> PromptOutcome {
        if !translate || matches!(self.kind, Kind::Off) {
            return PromptOutcome {
                final_prompt: prompt.to_owned(),
                translation: Translation::Off,
                note: None,
            };
        }
        // The placeholder renderer prints the prompt: clean it, never rewrite it.
        if family == ModelFamily::Placeholder || matches!(self.kind, Kind::Builtin) {
            return builtin::run(prompt, family);
        }
        match self
            .cache
            .cached_prompt(self.name(), family.as_str(), prompt)
            .await
        {
            Ok(Some(final_prompt)) => {
                return PromptOutcome {
                    final_prompt,
                    translation: Translation::Llm,
                    note: None,
                }
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "prompt cache unavailable"),
        }
        let llm = async {
            match &self.kind {
                Kind::OpenAi(client) => client.rewrite(prompt, family).await,
                Kind::Cloudflare(cf) => cf.rewrite(prompt, family).await,
                Kind::Replicate(client) => client.rewrite(prompt, family).await,
                Kind::Off | Kind::Builtin => unreachable!("handled above"),
            }
        };
        let result = match tokio::time::timeout(self.timeout, llm).await {
            Ok(result) => result,
            Err(_) => Err(LlmError::new(
                LlmFailure::Timeout(self.timeout.as_secs()),
                "the prompt pipeline's own deadline passed",
            )),
        };
        match result.and_then(|text| clean_answer(&text)) {
            Ok(final_prompt) => {
                if let Err(err) = self
                    .cache
                    .cache_prompt(self.name(), family.as_str(), prompt, &final_prompt)
                    .await
                {
                    tracing::warn!(error = %err, "could not cache a prompt");
                }
                PromptOutcome {
                    final_prompt,
                    translation: Translation::Llm,
                    note: None,
                }
            }
            Err(err) => {
                tracing::warn!(pipeline = self.name(), error = %err, detail = %err.detail, "prompt pipeline failed; using the prompt as written");
                PromptOutcome {
                    final_prompt: prompt.to_owned(),
                    translation: Translation::Fallback,
                    note: Some(format!("the {} prompt pipeline failed: {err}", self.name())),
                }
            }
        }
    }
}

/// One line, no wrapping quotes, bounded: what a model's answer becomes before it is used.
fn clean_answer(text: &str) -> Result<String, LlmError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let line = line
        .trim_matches(|c| matches!(c, '"' | '\'' | '“' | '”' | '`'))
        .trim();
    let line = line.strip_prefix("Prompt:").unwrap_or(line).trim();
    if line.is_empty() {
        return Err(LlmError::new(
            LlmFailure::Unusable,
            "the model answered with an empty prompt",
        ));
    }
    Ok(line.chars().take(1000).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_cleaned_to_one_line() {
        assert_eq!(
            clean_answer("\n\"A red fox in snow.\"\nExplanation: ...").unwrap(),
            "A red fox in snow."
        );
        assert_eq!(clean_answer("Prompt: a cat").unwrap(), "a cat");
        assert!(clean_answer("  \n \"\" ").is_err());
        assert_eq!(clean_answer(&"x".repeat(5000)).unwrap().len(), 1000);
    }

    #[test]
    fn translations_round_trip() {
        for t in [
            Translation::Llm,
            Translation::Builtin,
            Translation::Fallback,
            Translation::Off,
        ] {
            assert_eq!(t.as_str().parse::<Translation>(), Ok(t));
        }
    }
}
