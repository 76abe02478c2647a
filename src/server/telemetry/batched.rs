//! The log's writer: lines gathered in memory and written by one thread in batches, at most
//! `Batched::EVERY` after the first of them arrived (sooner once `WAKE_AT` bytes wait).
//!
//! Why not `tracing-appender`'s non-blocking writer: it copies each line into an allocation of its
//! own and sends it over a channel whose thread blocks again as soon as the channel is empty, so on a
//! busy origin nearly every line wakes it (a futex wake and a context switch) and is written by a
//! `write(2)` of its own. Measured with `make bench-serve`, that was a fifth of the CPU a stored
//! image's 304 costs. Here a line is a copy into a shared buffer under a lock held for that copy;
//! the thread is woken once per batch, and each batch is one `write`.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Waiting lines beyond this wake the writer at once.
const WAKE_AT: usize = 256 * 1024;
/// Lines beyond this are dropped (and counted) rather than let memory grow: the output is stuck.
const DROP_AT: usize = 16 * 1024 * 1024;

/// What the request threads and the writer thread share.
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the first line of a batch arrives, when `WAKE_AT` is crossed, and at close.
    due: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Lines dropped since the last batch was written.
    dropped: u64,
    closed: bool,
}

/// The `MakeWriter` for the subscriber: each formatted event is one `write` into the batch.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
}

/// Writes what is left and stops the writer thread when dropped.
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Batched {
    /// How long the first line of a batch may wait for others to join it.
    pub const EVERY: Duration = Duration::from_millis(50);

    /// A writer into `out`, written by a thread of its own.
    pub fn new(out: impl Write + Send + 'static) -> io::Result<(Self, Flush)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            due: Condvar::new(),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("pixzoo-log".into())
                .spawn(move || write_batches(&shared, out))?
        };
        Ok((
            Self {
                shared: shared.clone(),
            },
            Flush {
                shared,
                thread: Some(thread),
            },
        ))
    }
}

impl Shared {
    /// The lock, also after a thread panicked holding it: the buffer is bytes, always usable.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread: waits for a line, lets a batch gather, writes it; until closed and empty.
fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::with_capacity(64 * 1024);
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && pending.dropped == 0 && !pending.closed {
            pending = shared.due.wait(pending).unwrap_or_else(|e| e.into_inner());
        }
        let deadline = Instant::now() + Batched::EVERY;
        while pending.bytes.len() < WAKE_AT && !pending.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = shared
                .due
                .wait_timeout(pending, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        std::mem::swap(&mut pending.bytes, &mut batch);
        let (dropped, closed) = (std::mem::take(&mut pending.dropped), pending.closed);
        drop(pending);
        if dropped > 0 {
            batch.extend_from_slice(
                format!(
                    "pixzoo: {dropped} log lines dropped: the log's output could not keep up\n"
                )
                .as_bytes(),
            );
        }
        // Nowhere to report a failing log output but the log itself: the batch is lost.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        // Don't let one burst's buffer be kept for good.
        batch.shrink_to(WAKE_AT);
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.due.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's line, handed to the batch.
pub struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut pending = self.0.lock();
        let before = pending.bytes.len();
        if before + line.len() > DROP_AT {
            pending.dropped += 1;
        } else {
            pending.bytes.extend_from_slice(line);
            // The first line of a batch starts its clock; a full batch goes at once.
            if before == 0 || (before < WAKE_AT && pending.bytes.len() >= WAKE_AT) {
                self.0.due.notify_one();
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read while the writer thread holds it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<u8>>>);

    impl Write for Seen {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_whole_in_order_within_a_batch_and_all_at_the_flush() {
        let seen = Seen::default();
        let (batched, flush) = Batched::new(seen.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let batched = batched.clone();
                std::thread::spawn(move || {
                    for n in 0..1000 {
                        let line = format!("thread {t} line {n}\n");
                        batched.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Written within a batch's wait, without a flush.
        let waited = Instant::now();
        while seen.0.lock().unwrap().is_empty() {
            assert!(waited.elapsed() < Duration::from_secs(10), "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        batched.make_writer().write_all(b"the last line\n").unwrap();
        drop(flush);
        let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4001);
        assert_eq!(lines.last(), Some(&"the last line"));
        for t in 0..4 {
            let own: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..1000).map(|n| format!("thread {t} line {n}")).collect();
            assert_eq!(own, expected, "each thread's lines whole and in order");
        }
    }

    /// An output that takes nothing until it is let go.
    struct Stuck(Arc<(Mutex<bool>, Condvar)>, Seen);

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, opened) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = opened.wait(open).unwrap();
            }
            self.1.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_output_costs_lines_not_memory_and_says_so() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let seen = Seen::default();
        let (batched, flush) = Batched::new(Stuck(gate.clone(), seen.clone())).unwrap();
        // The first batch takes this line and blocks in the output.
        batched.make_writer().write_all(b"first\n").unwrap();
        let waited = Instant::now();
        while !batched.shared.lock().bytes.is_empty() {
            assert!(waited.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(1));
        }
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        let fits = DROP_AT / line.len();
        for _ in 0..fits + 10 {
            batched.make_writer().write_all(&line).unwrap();
        }
        assert!(batched.shared.lock().bytes.len() <= DROP_AT);
        assert_eq!(batched.shared.lock().dropped, 10);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(flush);
        let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with('x')).count(), fits);
        assert!(
            text.contains("pixzoo: 10 log lines dropped"),
            "{}",
            &text[text.len() - 200..]
        );
    }
}
