//! Where a generation is: the one vocabulary of progress. The engine reports [`Stage`]s (with data, in
//! `server::engine::progress`), the SSE stream names its events after them and the studio shows them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Queued,
    Translating,
    Translated,
    Generating,
    Storing,
    Done,
    Failed,
}

impl Stage {
    /// The name programs see: the SSE event of `POST /api/image` and the `event` tag of its data.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Translating => "translating",
            Stage::Translated => "translated",
            Stage::Generating => "generating",
            Stage::Storing => "storing",
            Stage::Done => "done",
            Stage::Failed => "error",
        }
    }

    /// The words the studio shows for this stage.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Queued => "Queued",
            Stage::Translating => "Translating and optimising the prompt",
            Stage::Translated => "Prompt ready",
            Stage::Generating => "Generating the image",
            Stage::Storing => "Storing",
            Stage::Done => "Done",
            Stage::Failed => "Failed",
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, Stage::Done | Stage::Failed)
    }
}
