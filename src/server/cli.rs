//! The command line: `pixzoo [--config PATH]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use super::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "pixzoo",
    version,
    about = "Self-hosted AI image studio and image origin"
)]
struct Args {
    /// Configuration file (default: ./Leptos.toml when present; built-in defaults otherwise).
    #[arg(long, env = "PIXZOO_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
}

pub async fn run() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("pixzoo: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    super::telemetry::init(&config.server.log);
    match super::serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("pixzoo: {err}");
            ExitCode::FAILURE
        }
    }
}
