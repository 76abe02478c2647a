//! What a generation job reports while it runs: a [`Stage`] with what is known at that point. The SSE
//! stream sends these as they come (event = the stage's name); the studio keeps the latest.

use serde::Serialize;

use crate::domain::stage::Stage;
use crate::domain::translation::Translation;

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
        /// The denoising step just finished, from 1, when the provider reports its steps.
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        steps: Option<u32>,
    },
    Storing,
    Done {
        id: String,
    },
    Error {
        message: String,
    },
}

impl Progress {
    pub fn stage(&self) -> Stage {
        match self {
            Progress::Queued => Stage::Queued,
            Progress::Translating => Stage::Translating,
            Progress::Translated { .. } => Stage::Translated,
            Progress::Generating { .. } => Stage::Generating,
            Progress::Storing => Stage::Storing,
            Progress::Done { .. } => Stage::Done,
            Progress::Error { .. } => Stage::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `event` tag serde writes is the stage's name, so an SSE event and its data always agree.
    #[test]
    fn the_event_tag_is_the_stage_name() {
        let all = [
            Progress::Queued,
            Progress::Translating,
            Progress::Translated {
                final_prompt: "a fox".into(),
                translation: Translation::Off,
                note: None,
            },
            Progress::Generating {
                attempt: 1,
                step: None,
                steps: None,
            },
            Progress::Storing,
            Progress::Done { id: "x".into() },
            Progress::Error {
                message: "no".into(),
            },
        ];
        for progress in all {
            let json = serde_json::to_value(&progress).unwrap();
            assert_eq!(json["event"], progress.stage().name());
        }
    }
}
