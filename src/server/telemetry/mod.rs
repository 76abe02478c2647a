//! Logging: `tracing` to stderr, filtered by `RUST_LOG` or `server.log`. Lines are written by a
//! background thread in batches (`batched`), so a request never waits on a slow terminal or pipe nor
//! pays a system call for its line; if that thread falls a long way behind, lines are dropped (and
//! counted in the log) rather than requests slowed. Colour codes only when stderr is a terminal, never
//! into a log file or a collector.

mod batched;
mod clock;
mod fields;

use std::io::IsTerminal;

pub use batched::Flush;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber. Keep the guard until the process ends: dropping it writes what waits.
pub fn init(default_filter: &str) -> std::io::Result<Flush> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let (writer, flush) = batched::Batched::new(std::io::stderr())?;
    // A second init (tests that start the server twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .fmt_fields(fields::PlainFields)
        .with_timer(clock::Clock)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .try_init();
    Ok(flush)
}
