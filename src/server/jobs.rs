//! The studio's generations by id, so the browser can poll their progress: the engine's progress
//! events kept as the latest state, for a while after they finish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::studio::JobView;
use crate::domain::stage::Stage;
use crate::server::engine::progress::Progress;
use crate::server::engine::{Generated, Job};
use crate::server::error::user_message;
use crate::server::view::generated_image;
use crate::urls::placeholder::Size;

/// How long a finished generation stays pollable.
const KEEP_FOR: Duration = Duration::from_secs(15 * 60);

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
    /// Follows `job` (asked at `size`) and returns the id to poll it by.
    pub fn track(&self, mut job: Job<Generated>, size: Size) -> String {
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
                    Ok(progress) => set(&|v| v.stage = progress.stage()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
            match job.result.await {
                Ok(generated) => set(&|v| {
                    v.stage = Stage::Done;
                    v.result = Some(generated_image(&generated, size));
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
