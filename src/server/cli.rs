//! The command line: `pixzoo [--config PATH]` serves; `pixzoo sign URL` prints a signed URL.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "pixzoo",
    version,
    about = "Self-hosted AI image studio and image origin"
)]
struct Args {
    /// Configuration file (default: ./Leptos.toml when present; built-in defaults otherwise).
    #[arg(long, env = "PIXZOO_CONFIG", value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print URL with a `sig` that lets it make a new image when signed URLs are on (the first key in
    /// security.signing_keys / PIXZOO_SIGNING_KEY signs). URL may be a path: /800x600/a-sloth
    Sign { url: String },
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
    if let Some(Command::Sign { url }) = args.command {
        return match super::guard::signing::sign_url(&config.security.signing_keys(), &url) {
            Ok(signed) => {
                println!("{signed}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("pixzoo sign: {err}");
                ExitCode::from(2)
            }
        };
    }
    let logs = super::telemetry::init(&config.server.log);
    let result = super::serve(config).await;
    if let Err(err) = &result {
        tracing::error!("{err}");
    }
    // The queued lines reach stderr before the process says anything else or exits.
    drop(logs);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pixzoo: {err}");
            ExitCode::FAILURE
        }
    }
}
