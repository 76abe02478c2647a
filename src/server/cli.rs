//! The command line: `pixzoo [--config PATH]` serves; `pixzoo sign URL` prints a signed URL;
//! `pixzoo migrate --to-catalog URL --to-blobs URL` copies the installation to other stores.

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
    /// Copy this installation (catalog rows, originals, the prompt cache; derivatives with
    /// --derivatives) from the configured stores to others, resumably, checking every blob's SHA-256.
    /// Run it again to go on after an interruption, or to copy what was added since.
    Migrate {
        /// The new catalog: postgres://USER:PASSWORD@HOST:PORT/DB or sqlite://PATH.
        #[arg(
            long,
            env = "MIGRATE_TO_CATALOG",
            value_name = "URL",
            hide_env_values = true
        )]
        to_catalog: String,
        /// The new blob store: s3://BUCKET/PREFIX (AWS_* variables as for serving) or file://PATH.
        #[arg(long, env = "MIGRATE_TO_BLOBS", value_name = "URL")]
        to_blobs: String,
        /// Copy stored derivatives too (otherwise they are made again when asked for).
        #[arg(long)]
        derivatives: bool,
    },
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
    if let Some(Command::Migrate {
        to_catalog,
        to_blobs,
        derivatives,
    }) = args.command
    {
        return migrate(config, to_catalog, to_blobs, derivatives).await;
    }
    let logs = match super::telemetry::init(&config.server.log) {
        Ok(logs) => logs,
        Err(err) => {
            eprintln!("pixzoo: the log's writer thread did not start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = super::serve(config).await;
    if let Err(err) = &result {
        tracing::error!("{err}");
    }
    // The waiting lines reach stderr before the process says anything else or exits.
    drop(logs);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pixzoo: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(
    config: Config,
    to_catalog: String,
    to_blobs: String,
    derivatives: bool,
) -> ExitCode {
    let mut to = config.storage.clone();
    to.catalog_url = super::secret::Secret::new(to_catalog);
    to.blobs_url = to_blobs;
    for (key, check) in [
        ("--to-catalog", to.catalog().map(|_| ())),
        ("--to-blobs", to.blobs().map(|_| ())),
    ] {
        if let Err(reason) = check {
            eprintln!("pixzoo migrate: {key} {reason}");
            return ExitCode::from(2);
        }
    }
    let plan = super::migrate::Migration {
        from: config.storage,
        to,
        derivatives,
    };
    let result = super::migrate::run(&plan, |report| eprintln!("pixzoo migrate: {report}")).await;
    match result {
        Ok(report) => {
            println!("pixzoo migrate: done: {report}");
            for (id, why) in &report.unreadable {
                eprintln!("pixzoo migrate: image {id} not copied: {why}");
            }
            if report.unreadable.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("pixzoo migrate: {err} (run it again to go on from here)");
            ExitCode::FAILURE
        }
    }
}
