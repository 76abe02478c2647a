//! Logging: `tracing` to stderr, filtered by `RUST_LOG` or `server.log`. Lines are written by a
//! background thread (`tracing-appender`), so a request never waits on a slow terminal or pipe; if
//! that thread falls a long way behind, lines are dropped rather than requests slowed. Colour codes only
//! when stderr is a terminal, never into a log file or a collector.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber. Keep the guard until the process ends: dropping it flushes what is queued.
pub fn init(default_filter: &str) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Buffered: the writer thread drains every queued line into the buffer and flushes once the queue
    // is empty, so a busy server makes one `write` per batch instead of one per line.
    let stderr = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking(stderr);
    // A second init (tests that start the server twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .try_init();
    guard
}
