//! What the studio's prompt form exchanges with the server: the models it can offer, a generation to
//! start, and the state of a running generation (polled for live progress). Types only: the server
//! functions that carry them are in `src/server_fns/studio.rs`.

use serde::{Deserialize, Serialize};

use crate::domain::stage::Stage;

/// Why the form, posted without JavaScript, came back (`/?…&error=<code>`). A code from this list,
/// never text: the studio shows only what the server itself could have said, so a link cannot make
/// the page tell its reader anything its author likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormProblem {
    SignIn,
    Prompt,
    Size,
    Number,
    Model,
    Settings,
    Limited,
    Busy,
    Refused,
    Failed,
    Image,
}

impl FormProblem {
    const ALL: [FormProblem; 11] = [
        FormProblem::SignIn,
        FormProblem::Prompt,
        FormProblem::Size,
        FormProblem::Number,
        FormProblem::Model,
        FormProblem::Settings,
        FormProblem::Limited,
        FormProblem::Busy,
        FormProblem::Refused,
        FormProblem::Failed,
        FormProblem::Image,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FormProblem::SignIn => "sign-in",
            FormProblem::Prompt => "prompt",
            FormProblem::Size => "size",
            FormProblem::Number => "number",
            FormProblem::Model => "model",
            FormProblem::Settings => "settings",
            FormProblem::Limited => "limited",
            FormProblem::Busy => "busy",
            FormProblem::Refused => "refused",
            FormProblem::Failed => "failed",
            FormProblem::Image => "image",
        }
    }

    /// The problem a redirect names; anything else is not ours and shows nothing.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The words for this problem with the size the form came back with (numbers the page parsed,
    /// never text from the URL).
    pub fn describe(self, size: Option<(u32, u32)>) -> String {
        match (self, size) {
            (FormProblem::Size, Some((width, height))) => format!(
                "Size: {width}×{height} is out of range for this server; pick a preset or a smaller size."
            ),
            (problem, _) => problem.message().to_owned(),
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            FormProblem::SignIn => "Sign in with the server's API key to generate.",
            FormProblem::Prompt => "Type a prompt first.",
            FormProblem::Size => "Size: the width or height is out of range for this server; pick a preset or a smaller size.",
            FormProblem::Number => "Width, height, steps and seed must be whole numbers.",
            FormProblem::Model => "That model is not offered here; pick one from the list.",
            FormProblem::Settings => "The model does not accept these settings (steps, seed or negative prompt); check them against the model.",
            FormProblem::Limited => "Too many new images just now; wait a little and try again.",
            FormProblem::Busy => "The server is busy; try again shortly.",
            FormProblem::Refused => "This server does not allow that request.",
            FormProblem::Failed => "The image could not be made; try again, or pick another model.",
            FormProblem::Image => "Choose a PNG, JPEG or WebP image to edit, within this server's size limits.",
        }
    }
}

/// A size a model can make, offered as a one-click preset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizePreset {
    pub label: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepsRange {
    pub min: u32,
    pub max: u32,
    pub default: u32,
}

/// A model as the picker shows it: what it is and what it can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOption {
    pub id: String,
    pub label: String,
    pub provider: String,
    /// The sizes it generates natively; any other width and height is cropped from the nearest.
    pub presets: Vec<SizePreset>,
    pub steps: Option<StepsRange>,
    pub negative_prompt: bool,
    pub seed: bool,
    pub default: bool,
    /// What it can be asked: `generate`, `edit`, `inpaint`, `variations`.
    pub capabilities: Vec<String>,
}

impl ModelOption {
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Offered in the studio's Edit mode: it edits a source, with a mask or without.
    pub fn edits(&self) -> bool {
        self.can("edit") || self.can("inpaint")
    }
}

/// The prompt form's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateForm {
    pub prompt: String,
    pub model: String,
    /// 0 × 0 with a `source`: the source's size.
    pub width: u32,
    pub height: u32,
    pub steps: Option<u32>,
    pub seed: Option<u32>,
    pub negative_prompt: Option<String>,
    pub translate: bool,
    /// Edit mode: the stored image to change (an upload or any other), the mask painted on it (also
    /// uploaded first), and how far to go, in hundredths.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub mask: Option<String>,
    #[serde(default)]
    pub strength: Option<u8>,
}

/// A finished image, with everything the result card shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedImage {
    pub id: String,
    pub prompt: String,
    pub final_prompt: String,
    /// llm, builtin, fallback or off.
    pub translation: String,
    /// Why the fallback was used, when it was.
    pub translation_note: Option<String>,
    pub model: String,
    pub seed: u32,
    pub width: u32,
    pub height: u32,
    /// The stored original, and its file extension.
    pub url: String,
    pub extension: String,
    /// The same image by URL, `/{W}x{H}/{slug}?model=…&seed=…`.
    pub placeholder_url: String,
    pub cached: bool,
    /// An edit's source, for the before/after view.
    pub source_url: Option<String>,
}

/// A generation as the studio polls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub stage: Stage,
    pub final_prompt: Option<String>,
    /// In plain words, when the generation failed.
    pub error: Option<String>,
    pub result: Option<GeneratedImage>,
    /// `(step, steps)` while generating, from providers that report their steps (local models).
    #[serde(default)]
    pub step: Option<(u32, u32)>,
}

/// What the studio needs to draw itself: the models this server can run, and what this browser may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    pub models: Vec<ModelOption>,
    pub access: Access,
}

/// What became of a request to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Started {
    /// The job to poll.
    Job(String),
    /// Refused, with the reason in plain words (bad input, unknown model, no permission).
    Refused(String),
}

/// Whether this browser may generate and delete. The key itself never reaches the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// The server has an API key, so generating and deleting need a sign-in.
    pub key_required: bool,
    pub signed_in: bool,
    /// New images by URL need a signature (`sig`), which `server_fns::studio::sign_placeholder_url` gives.
    pub signs_urls: bool,
}

impl Access {
    pub fn allowed(self) -> bool {
        !self.key_required || self.signed_in
    }
}

/// What became of a request to sign a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signing {
    Signed(String),
    /// Refused, with the reason in plain words.
    Refused(String),
}
