//! The `[limits]` the engine applies to what it makes from what it is sent: new derivatives
//! ([`DeriveLimits`]), uploads ([`UploadLimits`]) and prompts ([`PromptLimits`]).

use super::errors::EngineError;
use super::intake::GenerateRequest;

/// `[limits]` for new derivatives: how large one may be, and how far it may enlarge its source.
#[derive(Debug, Clone, Copy)]
pub struct DeriveLimits {
    /// Largest output, in pixels.
    pub max_pixels: u64,
    /// How far a source may be enlarged per side; 0 = no limit.
    pub max_upscale: f64,
}

impl Default for DeriveLimits {
    fn default() -> Self {
        Self {
            max_pixels: 4096 * 4096,
            max_upscale: 2.0,
        }
    }
}

/// `[limits]` on uploads: how many bytes, and how many pixels.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        let limits = crate::server::config::LimitsConfig::default();
        Self {
            max_bytes: limits.max_upload_bytes,
            max_pixels: limits.max_upload_pixels,
        }
    }
}

/// `limits.max_prompt_chars`: the longest prompt (and negative prompt) any face may send, in
/// characters. Every step after the intake (the prompt pipeline, the providers, the builtin
/// renderer's caption, the catalog) then works on text of a known size.
#[derive(Debug, Clone, Copy)]
pub struct PromptLimits {
    pub max_chars: usize,
}

impl Default for PromptLimits {
    fn default() -> Self {
        Self {
            max_chars: crate::server::config::LimitsConfig::default().max_prompt_chars,
        }
    }
}

impl PromptLimits {
    /// The request's texts within the limit, or a refusal naming the field that is not.
    pub fn check(&self, request: &GenerateRequest) -> Result<(), EngineError> {
        let texts = [
            ("prompt", Some(request.prompt.trim())),
            (
                "negative_prompt",
                request.negative_prompt.as_deref().map(str::trim),
            ),
        ];
        for (field, text) in texts {
            let Some(text) = text else { continue };
            // A character is at most 4 bytes: most texts are judged by their length alone.
            if text.len() <= self.max_chars {
                continue;
            }
            let chars = text.chars().count();
            if chars > self.max_chars {
                return Err(EngineError::BadRequest(format!(
                    "{field} is {chars} characters long; the limit is {} (limits.max_prompt_chars)",
                    self.max_chars
                )));
            }
        }
        Ok(())
    }
}
