//! What every LLM-backed pipeline shares: the system prompt it sends ([`system_prompt`]) and how a
//! step fails ([`LlmError`], [`LlmFailure`]).

use crate::server::config::ModelFamily;

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
