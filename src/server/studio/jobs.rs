//! The studio's generations by id, so the browser can poll their progress: the engine's progress
//! events kept as the latest state, for a while after they finish. With several instances each state is
//! also published through the catalog (`Coordination::publish_job`), so a poll may reach any of them.
//! The table is bounded per client and in all: a client's oldest entry makes room for its next one
//! beyond [`PER_CLIENT`], and the oldest of all beyond [`MAX_JOBS`].

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::stage::Stage;
use crate::server::engine::progress::Progress;
use crate::server::engine::{Generated, Job};
use crate::server::error::user_message;
use crate::server::guard::Client;
use crate::server::image_info::generated_image;
use crate::server::storage::{CatalogError, Coordination};
use crate::urls::placeholder::Size;
use crate::wire::studio::JobView;

/// How long a finished generation stays pollable.
const KEEP_FOR: Duration = Duration::from_secs(15 * 60);
/// Generations one client's studio can follow at once (a page follows one; a few tabs, a few).
pub const PER_CLIENT: usize = 16;
/// Generations followed in all.
pub const MAX_JOBS: usize = 4096;

/// Generations the studio is following, by id.
pub struct StudioJobs {
    jobs: Mutex<HashMap<String, Tracked>>,
    coordination: Arc<dyn Coordination>,
}

struct Tracked {
    view: Arc<Mutex<JobView>>,
    started: Instant,
    client: Client,
}

impl StudioJobs {
    pub fn new(coordination: Arc<dyn Coordination>) -> Self {
        Self {
            jobs: Mutex::default(),
            coordination,
        }
    }

    /// Follows `job` (asked at `size` by `client`) and returns the id to poll it by, once every
    /// instance can answer a poll for it.
    pub async fn track(&self, mut job: Job<Generated>, size: Size, client: Client) -> String {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let view = Arc::new(Mutex::new(JobView {
            stage: Stage::Queued,
            final_prompt: None,
            error: None,
            result: None,
            step: None,
        }));
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            make_room(&mut jobs, &client);
            jobs.insert(
                id.clone(),
                Tracked {
                    view: view.clone(),
                    started: Instant::now(),
                    client,
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
                        Progress::Generating {
                            step: Some(step),
                            steps: Some(steps),
                            ..
                        } => set(&|v| {
                            v.stage = Stage::Generating;
                            v.step = Some((step, steps));
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
                    // The result carries the final prompt; it is not kept twice.
                    v.final_prompt = None;
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

/// Drops what has expired, then the client's oldest entries while it holds [`PER_CLIENT`], then the
/// oldest of all while the table holds [`MAX_JOBS`], so one more fits.
fn make_room(jobs: &mut HashMap<String, Tracked>, client: &Client) {
    jobs.retain(|_, tracked| tracked.started.elapsed() < KEEP_FOR);
    let oldest = |jobs: &HashMap<String, Tracked>, of: Option<&Client>| {
        jobs.iter()
            .filter(|(_, t)| of.is_none_or(|c| &t.client == c))
            .min_by_key(|(_, t)| t.started)
            .map(|(id, _)| id.clone())
    };
    while jobs.values().filter(|t| &t.client == client).count() >= PER_CLIENT {
        let Some(id) = oldest(jobs, Some(client)) else {
            break;
        };
        jobs.remove(&id);
    }
    while jobs.len() >= MAX_JOBS {
        let Some(id) = oldest(jobs, None) else { break };
        jobs.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(client: &Client, age: Duration) -> Tracked {
        Tracked {
            view: Arc::new(Mutex::new(JobView {
                stage: Stage::Done,
                final_prompt: None,
                error: None,
                result: None,
                step: None,
            })),
            started: Instant::now() - age,
            client: client.clone(),
        }
    }

    #[test]
    fn the_table_is_bounded_per_client_and_in_all() {
        let rules = crate::server::guard::ClientRules::default();
        let (a, b) = (
            rules.ip("192.0.2.1".parse().unwrap()),
            rules.ip("192.0.2.2".parse().unwrap()),
        );
        let mut jobs = HashMap::new();
        for n in 0..PER_CLIENT {
            let age = Duration::from_secs(100 - n as u64);
            jobs.insert(format!("a{n}"), tracked(&a, age));
        }
        jobs.insert("b".into(), tracked(&b, Duration::from_secs(500)));
        jobs.insert(
            "expired".into(),
            tracked(&b, KEEP_FOR + Duration::from_secs(1)),
        );
        make_room(&mut jobs, &a);
        assert!(!jobs.contains_key("expired"));
        assert!(!jobs.contains_key("a0"), "the client's oldest made room");
        assert!(jobs.contains_key("a1") && jobs.contains_key("b"));
        assert_eq!(jobs.len(), PER_CLIENT);

        let mut full = HashMap::new();
        for n in 0..MAX_JOBS {
            let client = rules.ip(std::net::IpAddr::from([10, 0, (n / 256) as u8, n as u8]));
            full.insert(
                format!("{n}"),
                tracked(&client, Duration::from_millis(n as u64)),
            );
        }
        make_room(&mut full, &a);
        assert_eq!(full.len(), MAX_JOBS - 1);
        assert!(
            !full.contains_key(&format!("{}", MAX_JOBS - 1)),
            "the oldest of all"
        );
    }
}
