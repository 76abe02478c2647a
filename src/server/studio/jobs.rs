//! The studio's generations by id, so the browser can poll their progress: the engine's progress
//! events kept as the latest state, for a while after they finish. With several instances each state is
//! also published through the catalog (`Coordination::publish_job`), so a poll may reach any of them.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::stage::Stage;
use crate::server::engine::progress::Progress;
use crate::server::engine::{Generated, Job};
use crate::server::error::user_message;
use crate::server::image_info::generated_image;
use crate::server::storage::{CatalogError, Coordination};
use crate::urls::placeholder::Size;
use crate::wire::studio::JobView;

/// How long a finished generation stays pollable.
const KEEP_FOR: Duration = Duration::from_secs(15 * 60);

/// Generations the studio is following, by id.
pub struct StudioJobs {
    jobs: Mutex<HashMap<String, Tracked>>,
    coordination: Arc<dyn Coordination>,
}

struct Tracked {
    view: Arc<Mutex<JobView>>,
    started: Instant,
}

impl StudioJobs {
    pub fn new(coordination: Arc<dyn Coordination>) -> Self {
        Self {
            jobs: Mutex::default(),
            coordination,
        }
    }

    /// Follows `job` (asked at `size`) and returns the id to poll it by, once every instance can
    /// answer a poll for it.
    pub async fn track(&self, mut job: Job<Generated>, size: Size) -> String {
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
        let queued = serde_json::to_string(&*view.lock().unwrap_or_else(|e| e.into_inner()));
        if let Ok(queued) = queued {
            self.coordination.publish_job(&id, &queued).await;
        }
        let (coordination, job_id) = (self.coordination.clone(), id.clone());
        tokio::spawn(async move {
            // Each change is published in order, before the next is looked at.
            let set = |update: &dyn Fn(&mut JobView)| {
                let mut view = view.lock().unwrap_or_else(|e| e.into_inner());
                update(&mut view);
                serde_json::to_string(&*view).ok()
            };
            let publish = |published: Option<String>| {
                let (coordination, job_id) = (coordination.clone(), job_id.clone());
                async move {
                    if let Some(published) = published {
                        coordination.publish_job(&job_id, &published).await;
                    }
                }
            };
            // Never breaks: the job's view follows it to the end.
            let _ = job
                .follow(|progress| {
                    let changed = match progress {
                        Progress::Translated { final_prompt, .. } => set(&|v| {
                            v.stage = Stage::Translated;
                            v.final_prompt = Some(final_prompt.clone());
                        }),
                        progress => set(&|v| v.stage = progress.stage()),
                    };
                    let published = publish(changed);
                    async move {
                        published.await;
                        ControlFlow::Continue(())
                    }
                })
                .await;
            let finished = match job.result.await {
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
            };
            publish(finished).await;
        });
        id
    }

    /// Where job `id` is: from memory when this instance follows it, else as another instance
    /// published it.
    pub async fn status(&self, id: &str) -> Result<Option<JobView>, CatalogError> {
        if let Some(view) = self.local(id) {
            return Ok(Some(view));
        }
        Ok(self
            .coordination
            .job(id)
            .await?
            .and_then(|published| serde_json::from_str(&published).ok()))
    }

    fn local(&self, id: &str) -> Option<JobView> {
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
