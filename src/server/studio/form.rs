//! The studio as a face: the model picker's options, and a form turned into a generation (by its
//! server function, or posted without JavaScript). Its running generations are `jobs.rs`'s.

use crate::server::config::Sizes;
use crate::server::engine::{intake, Admission, EngineError, GenerateRequest, Plan, Seed, Source};
use crate::server::error::user_message;
use crate::server::guard::{Client, Signature};
use crate::server::state::AppState;
use crate::urls::placeholder::{parse_size, Size};
use crate::wire::studio::{FormProblem, GenerateForm, ModelOption, SizePreset, StepsRange};

/// Presets for models that take any size within a range: common aspect ratios near a megapixel.
const COMMON: [(&str, u32, u32); 7] = [
    ("1:1", 1024, 1024),
    ("4:3", 1152, 896),
    ("3:4", 896, 1152),
    ("3:2", 1216, 832),
    ("2:3", 832, 1216),
    ("16:9", 1344, 768),
    ("9:16", 768, 1344),
];

pub fn model_options(state: &AppState) -> Vec<ModelOption> {
    let models = state.engine.models();
    models
        .all()
        .iter()
        .map(|m| ModelOption {
            id: m.id.clone(),
            label: m.label.clone(),
            provider: m.provider.clone(),
            presets: match &m.sizes {
                Sizes::Table(entries) => entries
                    .iter()
                    .map(|e| SizePreset {
                        label: e.ratio.clone(),
                        width: e.width,
                        height: e.height,
                    })
                    .collect(),
                Sizes::Range { .. } | Sizes::Any => COMMON
                    .iter()
                    .map(|(label, width, height)| SizePreset {
                        label: (*label).into(),
                        width: *width,
                        height: *height,
                    })
                    .collect(),
            },
            steps: m.steps.map(|s| StepsRange {
                min: s.min,
                max: s.max,
                default: s.default,
            }),
            negative_prompt: m.negative_prompt,
            seed: m.seed,
            default: m.id == models.default_id(),
            capabilities: m
                .capabilities
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        })
        .collect()
}

/// Starts (or joins) the generation the form describes; the error is in plain words for the form.
/// The caller has checked that the browser may generate (`auth.rs`).
pub async fn start(
    state: &AppState,
    form: GenerateForm,
    client: Client,
) -> Result<String, Problem> {
    let admission = state.guard.ticket(client.clone(), Signature::NotRequired);
    let (plan, size) = plan(state, form, admission.as_ref()).await?;
    let job = state.engine.submit(plan, admission);
    Ok(state.studio.track(job, size, client).await)
}

/// The engine's plan for a studio form, and the size asked for. Without a fixed seed every press of
/// Generate makes a new image, and the result card names the seed that made it. An edit's source and
/// mask are stored images (the studio uploads them first); its prompt may be empty (a variation).
pub async fn plan(
    state: &AppState,
    form: GenerateForm,
    admission: &dyn Admission,
) -> Result<(Plan, Size), Problem> {
    // Checked in the order the form shows them.
    let edit = match form.source {
        Some(source) => Some(
            state
                .engine
                .edit(
                    Source::Id(source),
                    form.mask.map(Source::Id),
                    form.strength,
                    admission,
                )
                .await
                .map_err(|e| Problem::of(&e))?,
        ),
        None => None,
    };
    // The prompt before the size, as the form shows them; the intake trims it, and an edit may have
    // none (a variation).
    if edit.is_none() {
        intake::prompt(&form.prompt).map_err(|e| Problem::of(&e))?;
    }
    // The Edit form asks for the source's size with 0 × 0.
    let size = match &edit {
        Some(_) if form.width == 0 || form.height == 0 => None,
        _ => Some(
            parse_size(&format!("{}x{}", form.width, form.height), &state.limits).map_err(|e| {
                Problem {
                    code: FormProblem::Size,
                    message: format!("Size: {e}."),
                }
            })?,
        ),
    };
    let plan = state
        .engine
        .plan(GenerateRequest {
            model: Some(form.model).filter(|m| !m.is_empty()),
            prompt: form.prompt,
            negative_prompt: form.negative_prompt,
            seed: Seed::given_or(form.seed, Seed::Random),
            steps: form.steps,
            size,
            translate: form.translate,
            redo: false,
            edit,
        })
        .map_err(|e| Problem::of(&e))?;
    let size = plan.size;
    Ok((plan, size))
}

/// What is wrong with a studio request: in full words for the page that asked (a server function's
/// answer), and as a code for a redirect (the form posted without JavaScript).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: FormProblem,
    pub message: String,
}

impl Problem {
    pub fn of(err: &EngineError) -> Self {
        let code = match err {
            EngineError::EmptyPrompt => FormProblem::Prompt,
            EngineError::UnknownModel(_) | EngineError::Incapable(_) => FormProblem::Model,
            EngineError::BadRequest(_) => FormProblem::Settings,
            EngineError::TooLarge(_) | EngineError::Unsupported(_) => FormProblem::Image,
            EngineError::Limited { .. } => FormProblem::Limited,
            EngineError::Busy => FormProblem::Busy,
            EngineError::Forbidden(_) => FormProblem::Refused,
            _ => FormProblem::Failed,
        };
        let message = match err {
            EngineError::EmptyPrompt => FormProblem::Prompt.message().to_owned(),
            other => user_message(other),
        };
        Self { code, message }
    }
}
