//! The one pool for CPU-heavy work: transforms, the builtin renderer, the check and content hash of a
//! provider's output, an upload's decode and a mask's conversion all run here, on tokio's blocking
//! threads, at most `workers` at a time. (Blob file I/O uses those threads directly, outside the pool:
//! it waits on the disk, and holding a worker for it would starve transforms; a small blob the page
//! cache holds whole is read on the serving thread, `storage::blobs`.) Two ways in, because
//! the two kinds of caller can afford different things: a transform anyone may ask for is refused at
//! once when the queue is full ([`CpuPool::try_run`]), while a generation, which may already have cost
//! a provider call, waits its turn ([`CpuPool::run`]). A worker's permit goes with its work onto the
//! blocking thread: a caller that stops waiting (a deadline, a client gone) cannot free the worker's
//! place while the thread still runs, so the bound holds for the threads themselves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error("the server is busy transforming other images; try again shortly")]
    Busy,
    #[error("CPU task failed: {0}")]
    Failed(String),
}

pub struct CpuPool {
    permits: Arc<Semaphore>,
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
            permits: Arc::new(Semaphore::new(workers)),
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
        // Counted out again however the wait ends, a caller that gives up included.
        let waiting = Waiting(self);
        self.report_queue();
        let permit = self.permits.clone().acquire_owned().await;
        drop(waiting);
        let permit = permit.map_err(|_| CpuError::Failed("the CPU pool is closed".into()))?;
        let started = std::time::Instant::now();
        let done = Self::spawn(permit, work).await;
        metrics::histogram!("pixzoo_transform_seconds").record(started.elapsed().as_secs_f64());
        done
    }

    /// Runs `work` once a worker is free, however long that takes.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CpuError::Failed("the CPU pool is closed".into()))?;
        Self::spawn(permit, work).await
    }

    /// Runs `work` on a blocking thread that holds `permit` until the work returns.
    async fn spawn<T: Send + 'static>(
        permit: OwnedSemaphorePermit,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| CpuError::Failed(e.to_string()))
    }

    fn report_queue(&self) {
        metrics::gauge!("pixzoo_transform_queue").set(self.waiting.load(Ordering::SeqCst) as f64);
    }
}

/// A `try_run` caller waiting for a worker.
struct Waiting<'a>(&'a CpuPool);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.report_queue();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::time::Duration;

    /// A caller that gives up (its deadline passed) leaves the worker's place taken until the work
    /// itself ends: the pool never runs more than its workers at once.
    #[tokio::test]
    async fn a_worker_counts_until_its_work_ends_not_until_its_caller_leaves() {
        let pool = Arc::new(CpuPool::new(1, 4));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let abandoned = tokio::time::timeout(
            Duration::from_millis(50),
            pool.run(move || released.recv().ok()),
        )
        .await;
        assert!(abandoned.is_err(), "the caller stopped waiting");
        assert_eq!(pool.permits.available_permits(), 0, "the work still runs");
        // A transform that gives up waiting leaves the queue.
        assert!(pool.try_run(|| ()).now_or_never().is_none());
        assert_eq!(pool.waiting.load(Ordering::SeqCst), 0);

        release.send(()).unwrap();
        let next = tokio::time::timeout(Duration::from_secs(10), pool.run(|| 7)).await;
        assert_eq!(next.unwrap().unwrap(), 7);
        assert_eq!(pool.permits.available_permits(), 1);
    }
}
