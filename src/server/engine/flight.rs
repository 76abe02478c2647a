//! Single-flight: identical concurrent requests share one job. The job runs on its own task, so it
//! finishes and stores its image even when every caller has gone; its result (success or failure)
//! reaches every waiter, and the key is released as soon as it ends, so failures are never cached.

use std::collections::HashMap;
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::broadcast;

use super::errors::EngineError;
use super::progress::Progress;

pub type JobResult<T> = Result<T, Arc<EngineError>>;

/// A running or just-finished job that a caller waits on.
pub struct Job<T: Clone> {
    pub result: Shared<BoxFuture<'static, JobResult<T>>>,
    pub progress: broadcast::Receiver<Progress>,
    /// The job was already running: this caller joined it, and it runs on another caller's terms.
    pub joined: bool,
}

impl<T: Clone> Job<T> {
    /// Hands each report of the job's progress to `each`, in order, until the last (`Done` or
    /// `Error`), which is returned instead (`None` when the job ended without one); or until `each`
    /// breaks, which stops following (the job goes on). A follower that fell behind skips what it
    /// missed rather than stopping.
    pub async fn follow<F: Future<Output = ControlFlow<()>>>(
        &mut self,
        mut each: impl FnMut(Progress) -> F,
    ) -> ControlFlow<(), Option<Progress>> {
        loop {
            match self.progress.recv().await {
                Ok(last @ (Progress::Done { .. } | Progress::Error { .. })) => {
                    return ControlFlow::Continue(Some(last))
                }
                Ok(progress) => each(progress).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return ControlFlow::Continue(None),
            }
        }
    }
}

struct Running<T: Clone> {
    result: Shared<BoxFuture<'static, JobResult<T>>>,
    progress: broadcast::Sender<Progress>,
}

/// Jobs in flight by key, for one kind of result (generations, derivatives).
pub struct Flights<T: Clone> {
    running: Arc<Mutex<HashMap<String, Running<T>>>>,
    /// For metrics: `image` or `derivative`.
    kind: &'static str,
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    pub fn new(kind: &'static str) -> Self {
        Self {
            running: Arc::default(),
            kind,
        }
    }

    /// Whether a job for `key` is running now (it may end a moment later: a hint, not a promise).
    pub fn is_running(&self, key: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    /// Joins the job for `key`, or starts one with `start` on a new task.
    pub fn join_or_start<F, Fut>(&self, key: String, start: F) -> Job<T>
    where
        F: FnOnce(broadcast::Sender<Progress>) -> Fut,
        Fut: Future<Output = JobResult<T>> + Send + 'static,
    {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = running.get(&key) {
            metrics::counter!("pixzoo_flight_joins_total", "kind" => self.kind).increment(1);
            return Job {
                result: job.result.clone(),
                progress: job.progress.subscribe(),
                joined: true,
            };
        }
        let (progress, receiver) = broadcast::channel(64);
        let work = start(progress.clone());
        let flights = self.running.clone();
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let result = work.await;
            flights
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&task_key);
            result
        });
        let result = async move {
            task.await.unwrap_or_else(|err| {
                Err(Arc::new(EngineError::Internal(format!(
                    "generation task failed: {err}"
                ))))
            })
        }
        .boxed()
        .shared();
        running.insert(
            key,
            Running {
                result: result.clone(),
                progress,
            },
        );
        Job {
            result,
            progress: receiver,
            joined: false,
        }
    }
}
