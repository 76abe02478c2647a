//! The studio's side of generation: the model picker's options, and generations tracked by id so the
//! browser can poll their progress (the engine's progress events, kept as the latest state).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::studio::{
    GenerateForm, GeneratedImage, JobView, ModelOption, SizePreset, Stage, StepsRange,
};
use crate::server::config::Sizes;
use crate::server::engine::progress::Progress;
use crate::server::engine::{CacheStatus, GenerateRequest, Generated};
use crate::server::guard::{Client, Signature};
use crate::server::http::user_message;
use crate::server::AppState;
use crate::urls::placeholder::{parse_size, placeholder_path, Size};

/// How long a finished generation stays pollable.
const KEEP_FOR: Duration = Duration::from_secs(15 * 60);

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
        })
        .collect()
}

/// Starts (or joins) the generation the form describes; the error is in plain words for the form.
/// The caller has checked that the browser may generate ([`crate::server::session`]).
pub fn start(state: &AppState, form: GenerateForm, client: Client) -> Result<String, String> {
    let (request, size) = request(state, form)?;
    let admission = state.guard.ticket(client, Signature::NotRequired);
    let job = state
        .engine
        .submit(request, admission)
        .map_err(|e| user_message(&e))?;
    Ok(state.studio.track(job, size))
}

/// The engine request a studio form describes. A model that takes a seed and was given none gets a
/// random one, so "Re-run" and the result card can name the seed that made the image.
pub fn request(state: &AppState, form: GenerateForm) -> Result<(GenerateRequest, Size), String> {
    let prompt = form.prompt.trim().to_owned();
    if prompt.is_empty() {
        return Err("Type a prompt first.".into());
    }
    let size = parse_size(&format!("{}x{}", form.width, form.height), &state.limits)
        .map_err(|e| format!("Size: {e}."))?;
    let model = Some(form.model).filter(|m| !m.is_empty());
    let takes_seed = state
        .engine
        .models()
        .resolve(model.as_deref())
        .is_ok_and(|m| m.seed);
    let seed = match form.seed {
        None if takes_seed => Some(rand::random::<u32>()),
        seed => seed,
    };
    let request = GenerateRequest {
        model,
        prompt,
        negative_prompt: form.negative_prompt.filter(|n| !n.trim().is_empty()),
        seed,
        steps: form.steps,
        size,
        translate: form.translate,
        redo: false,
    };
    Ok((request, size))
}

/// Generations the studio is following, by id.
#[derive(Default)]
pub struct StudioJobs {
    jobs: Mutex<HashMap<String, Tracked>>,
}

struct Tracked {
    view: Arc<Mutex<JobView>>,
    started: Instant,
}

impl StudioJobs {
    fn track(&self, mut job: crate::server::engine::Job<Generated>, size: Size) -> String {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let view = Arc::new(Mutex::new(JobView {
            stage: Stage::Queued,
            final_prompt: None,
            error: None,
            result: None,
        }));
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.retain(|_, tracked| tracked.started.elapsed() < KEEP_FOR);
            jobs.insert(
                id.clone(),
                Tracked {
                    view: view.clone(),
                    started: Instant::now(),
                },
            );
        }
        tokio::spawn(async move {
            let set = |update: &dyn Fn(&mut JobView)| {
                update(&mut view.lock().unwrap_or_else(|e| e.into_inner()))
            };
            loop {
                match job.progress.recv().await {
                    Ok(Progress::Done { .. } | Progress::Error { .. }) => break,
                    Ok(Progress::Translated { final_prompt, .. }) => set(&|v| {
                        v.stage = Stage::Translated;
                        v.final_prompt = Some(final_prompt.clone());
                    }),
                    Ok(progress) => set(&|v| v.stage = stage(&progress)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
            match job.result.await {
                Ok(generated) => set(&|v| {
                    v.stage = Stage::Done;
                    v.result = Some(image_view(&generated, size));
                }),
                Err(err) => {
                    let message = user_message(&err);
                    set(&|v| {
                        v.stage = Stage::Failed;
                        v.error = Some(message.clone());
                    })
                }
            }
        });
        id
    }

    pub fn status(&self, id: &str) -> Option<JobView> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let tracked = jobs.get(id)?;
        let view = tracked
            .view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Some(view)
    }
}

fn stage(progress: &Progress) -> Stage {
    match progress {
        Progress::Queued => Stage::Queued,
        Progress::Translating => Stage::Translating,
        Progress::Translated { .. } => Stage::Translated,
        Progress::Generating { .. } => Stage::Generating,
        Progress::Storing => Stage::Storing,
        Progress::Done { .. } => Stage::Done,
        Progress::Error { .. } => Stage::Failed,
    }
}

pub fn image_view(generated: &Generated, size: Size) -> GeneratedImage {
    let r = &generated.record;
    GeneratedImage {
        id: r.id.clone(),
        prompt: r.prompt.clone(),
        final_prompt: r.final_prompt.clone(),
        translation: r.translation.as_str().into(),
        translation_note: r.translation_note.clone(),
        model: r.model.clone(),
        seed: r.seed,
        width: r.width,
        height: r.height,
        url: format!("/img/{}", r.id),
        extension: r.format.extension().into(),
        placeholder_url: format!(
            "{}?model={}&seed={}",
            placeholder_path(size, &r.prompt),
            r.model,
            r.seed
        ),
        cached: generated.cache == CacheStatus::Hit,
    }
}
