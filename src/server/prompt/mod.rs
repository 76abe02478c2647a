//! The prompt pipeline: translate to English and optimise for the model family, before generation.
//!
//! One pipeline is chosen at start-up (`[prompt] pipeline`). LLM results are cached in the catalog by
//! (pipeline, family, prompt), so a URL keeps meaning the same image across restarts. On any failure the
//! prompt is used as written and the outcome says why (`translation: fallback`); failures are not cached.

mod builtin;
mod cloudflare;
mod openai;
mod replicate;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::translation::Translation;
use crate::server::config::{Config, ModelFamily, PipelineChoice};
use crate::server::providers::cloudflare::Cloudflare;
use crate::server::providers::replicate::Replicate;
use crate::server::storage::PromptCache;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptOutcome {
    pub final_prompt: String,
    pub translation: Translation,
    /// Why the fallback was used, or what the builtin pipeline could not do.
    pub note: Option<String>,
}

/// An LLM step that did not work. What it prints is stored with the image and shown to anyone, so it
/// names only the kind of failure; what the server said (which can carry an organisation id or a masked
/// key) is `detail`, for the log.
#[derive(Debug, thiserror::Error)]
#[error("{}{failure}", step.map(|s| format!("{s} failed: ")).unwrap_or_default())]
pub struct LlmError {
    /// Which step of a several-step pipeline (`translation`, `optimisation`).
    pub step: Option<&'static str>,
    pub failure: LlmFailure,
    pub detail: String,
}

/// The public category of an LLM failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LlmFailure {
    #[error("the language model service could not be reached")]
    Unreachable,
    #[error("the language model service failed")]
    ServiceFailed,
    #[error("the language model service refused the request: HTTP {0}")]
    Status(u16),
    #[error("the language model service refused Pixzoo's credentials")]
    Credentials,
    #[error("the language model service is rate limiting requests")]
    RateLimited,
    #[error("no answer within {0}s")]
    Timeout(u64),
    #[error("the language model could not run the request")]
    ModelFailed,
    #[error("the language model's answer could not be used")]
    Unusable,
}

impl LlmError {
    pub fn new(failure: LlmFailure, detail: impl Into<String>) -> Self {
        Self {
            step: None,
            failure,
            detail: detail.into(),
        }
    }

    pub fn at(mut self, step: &'static str) -> Self {
        self.step = Some(step);
        self
    }
}

impl From<crate::server::providers::ProviderError> for LlmError {
    fn from(err: crate::server::providers::ProviderError) -> Self {
        use crate::server::providers::ProviderError as P;
        let failure = match &err {
            P::RateLimited { .. } | P::QuotaExhausted { .. } => LlmFailure::RateLimited,
            P::Unauthorized { .. } => LlmFailure::Credentials,
            P::Timeout { after, .. } => LlmFailure::Timeout(after.as_secs()),
            P::Failed { .. } | P::BadRequest { .. } | P::UnknownModel { .. } => {
                LlmFailure::ModelFailed
            }
            P::InvalidOutput { .. } => LlmFailure::Unusable,
            P::Upstream { .. } => LlmFailure::ServiceFailed,
        };
        Self::new(failure, err.to_string())
    }
}

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

/// The system prompt for a model family: keep the subject, English, one line, nothing added that the
/// user did not ask for.
pub(crate) fn system_prompt(family: ModelFamily) -> String {
    let style = match family {
        ModelFamily::Sd => {
            "Write it as comma-separated tags for Stable Diffusion, most important first: subject, \
             setting, style, lighting, quality."
        }
        ModelFamily::Flux | ModelFamily::Dalle | ModelFamily::Placeholder => {
            "Write it as one or two natural, descriptive English sentences."
        }
    };
    format!(
        "You turn image requests into prompts for a text-to-image model. Translate the request into \
         English if it is in another language. Keep its subject and every detail it gives; where it \
         leaves composition, lighting or style open, choose concrete ones that suit it. Never add people, \
         text, violence or nudity that the request does not ask for. {style} Answer with the prompt \
         only, on a single line, with no quotes, labels or explanations."
    )
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
