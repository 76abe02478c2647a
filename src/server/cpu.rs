//! The one pool for CPU-heavy work: transforms, the builtin renderer, the check and content hash of a
//! provider's output, an upload's decode and a mask's conversion all run here, on tokio's blocking
//! threads, at most `workers` at a time. (Blob file I/O uses those threads directly, outside the pool:
//! it waits on the disk, and holding a worker for it would starve transforms; a small blob the page
//! cache holds whole is read on the serving thread, `storage::blobs`.) Two ways in, because
//! the two kinds of caller can afford different things: a transform anyone may ask for is refused at
//! once when the queue is full ([`CpuPool::try_run`]), while a generation, which may already have cost
//! a provider call, waits its turn ([`CpuPool::run`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error("the server is busy transforming other images; try again shortly")]
    Busy,
    #[error("CPU task failed: {0}")]
    Failed(String),
}

pub struct CpuPool {
    permits: Semaphore,
    /// Callers of `try_run` waiting for a worker or running.
    waiting: AtomicUsize,
    queue_limit: usize,
}

impl CpuPool {
    /// `workers` 0 means one per core; `queue_limit` bounds how many refusable jobs may wait.
    pub fn new(workers: usize, queue_limit: usize) -> Self {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        Self {
            permits: Semaphore::new(workers),
            waiting: AtomicUsize::new(0),
            queue_limit,
        }
    }

    /// Runs `work` once a worker is free, or refuses at once when none is and the queue is full
    /// (renders and checks hold workers too, so they count against that).
    pub async fn try_run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst)
            >= self.queue_limit + self.permits.available_permits()
        {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(CpuError::Busy);
        }
        self.report_queue();
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.report_queue();
        let _permit = permit.map_err(|_| CpuError::Failed("the CPU pool is closed".into()))?;
        let started = std::time::Instant::now();
        let done = Self::spawn(work).await;
        metrics::histogram!("pixzoo_transform_seconds").record(started.elapsed().as_secs_f64());
        done
    }

    /// Runs `work` once a worker is free, however long that takes.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CpuError::Failed("the CPU pool is closed".into()))?;
        Self::spawn(work).await
    }

    async fn spawn<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| CpuError::Failed(e.to_string()))
    }

    fn report_queue(&self) {
        metrics::gauge!("pixzoo_transform_queue").set(self.waiting.load(Ordering::SeqCst) as f64);
    }
}
