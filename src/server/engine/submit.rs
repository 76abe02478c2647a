//! A generation from request to job: [`Engine::plan`] applies the model's rules, [`Engine::submit`]
//! starts the plan's job or joins the one running (single-flight, `flight.rs`), and a caller that
//! joined follows it on its own ticket. The job's steps are `generate.rs`.

use std::sync::Arc;

use super::admission::Admission;
use super::answers::Generated;
use super::errors::EngineError;
use super::flight::Job;
use super::generate::{Reporter, Run};
use super::intake::{GenerateRequest, Plan};
use super::progress::Progress;
use super::Engine;

impl Engine {
    /// The intake: what a face asked for, with the model's rules applied, or the problem with it.
    pub fn plan(&self, request: GenerateRequest) -> Result<Plan, EngineError> {
        self.inner.prompt_limits.check(&request)?;
        Plan::new(&self.inner.models, request)
    }

    /// Serves a stored image for this plan, or generates, stores and records a new one if `admission`
    /// allows.
    pub async fn generate(
        &self,
        plan: Plan,
        admission: Arc<dyn Admission>,
    ) -> Result<Generated, Arc<EngineError>> {
        self.submit(plan, admission).result.await
    }

    /// Starts (or joins) the job for this plan; its progress can be followed while it runs. Only the
    /// request that starts the job is asked for admission. A request that joined a job whose starter
    /// was refused (no signature, or that client's limit) is not refused with it: it tries again with
    /// its own ticket, starting the job or joining whoever did.
    pub fn submit(&self, plan: Plan, admission: Arc<dyn Admission>) -> Job<Generated> {
        let job = self.start_or_join(plan.clone(), admission.clone());
        if job.joined {
            self.follow_as_joiner(job, plan, admission)
        } else {
            job
        }
    }

    /// Follows a joined job on this caller's behalf: its progress is relayed, and if it ends in
    /// someone else's refusal the caller's own ticket is tried, a few times at most (each time the
    /// work may have been started by yet another refused request).
    fn follow_as_joiner(
        &self,
        first: Job<Generated>,
        plan: Plan,
        admission: Arc<dyn Admission>,
    ) -> Job<Generated> {
        use futures::FutureExt;
        use std::ops::ControlFlow;
        const MAX_REJOINS: u32 = 3;
        let (relay, progress) = tokio::sync::broadcast::channel(64);
        let engine = self.clone();
        let task = tokio::spawn(async move {
            let mut job = first;
            let mut rejoins = 0;
            loop {
                let followed = job
                    .follow(|step| {
                        let _ = relay.send(step);
                        std::future::ready(ControlFlow::Continue(()))
                    })
                    .await;
                let end = match followed {
                    ControlFlow::Continue(end) => end,
                    ControlFlow::Break(()) => None,
                };
                let result = job.result.clone().await;
                match &result {
                    Err(err) if err.is_refusal() && job.joined && rejoins < MAX_REJOINS => {
                        rejoins += 1;
                        job = engine.start_or_join(plan.clone(), admission.clone());
                    }
                    _ => {
                        if let Some(end) = end {
                            let _ = relay.send(end);
                        }
                        return result;
                    }
                }
            }
        });
        let result = async move {
            task.await.unwrap_or_else(|err| {
                Err(Arc::new(EngineError::Internal(format!(
                    "following a generation failed: {err}"
                ))))
            })
        }
        .boxed()
        .shared();
        Job {
            result,
            progress,
            joined: true,
        }
    }

    fn start_or_join(&self, plan: Plan, admission: Arc<dyn Admission>) -> Job<Generated> {
        let inner = self.inner.clone();
        self.inner
            .flights
            .join_or_start(plan.request_key(), move |progress| async move {
                let deadline = inner.deadline;
                let ends = tokio::time::Instant::now() + deadline;
                let job = Run {
                    plan: &plan,
                    admission: admission.as_ref(),
                    progress: Reporter(&progress),
                    ends,
                };
                let run = inner.run(&job);
                let result = match tokio::time::timeout(deadline, run).await {
                    Ok(result) => result,
                    Err(_) => Err(EngineError::Deadline(deadline)),
                };
                let _ = progress.send(match &result {
                    Ok(generated) => Progress::Done {
                        id: generated.record.id.clone(),
                    },
                    Err(err) => Progress::Error {
                        message: err.to_string(),
                    },
                });
                result.map_err(Arc::new)
            })
    }
}
