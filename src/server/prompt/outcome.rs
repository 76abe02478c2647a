//! What the prompt pipeline answers: [`PromptOutcome`], the prompt to send and how it was made.

use serde::{Deserialize, Serialize};

use crate::domain::translation::Translation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptOutcome {
    pub final_prompt: String,
    pub translation: Translation,
    /// Why the fallback was used, or what the builtin pipeline could not do.
    pub note: Option<String>,
}
