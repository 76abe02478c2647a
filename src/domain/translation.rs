//! How a final prompt was made: stored with every image and shown beside it.

use serde::{Deserialize, Serialize};

/// How the final prompt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Translation {
    /// Translated and optimised by an LLM.
    Llm,
    /// Cleaned up and expanded offline.
    Builtin,
    /// The LLM failed; the prompt was used as written.
    Fallback,
    /// Translation was switched off.
    Off,
}

impl Translation {
    pub fn as_str(self) -> &'static str {
        match self {
            Translation::Llm => "llm",
            Translation::Builtin => "builtin",
            Translation::Fallback => "fallback",
            Translation::Off => "off",
        }
    }
}

impl std::str::FromStr for Translation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "llm" => Ok(Translation::Llm),
            "builtin" => Ok(Translation::Builtin),
            "fallback" => Ok(Translation::Fallback),
            "off" => Ok(Translation::Off),
            _ => Err(format!("unknown translation `{s}`")),
        }
    }
}
