//! What a generation job reports while it runs, for the SSE stream and the studio's live progress.

use serde::Serialize;

use crate::server::prompt::Translation;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Progress {
    Queued,
    Translating,
    Translated {
        final_prompt: String,
        translation: Translation,
        note: Option<String>,
    },
    Generating {
        attempt: u32,
    },
    Storing,
    Done {
        id: String,
    },
    Error {
        message: String,
    },
}
