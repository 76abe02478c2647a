//! The command line: `pixzoo [--config PATH]` serves; `pixzoo sign URL` prints a signed URL;
//! `pixzoo models list` lists the local diffusion models;
//! `pixzoo migrate --to-blobs URL` copies the installation to other stores, the new catalog's URL
//! (and its password) in `MIGRATE_TO_CATALOG` or a file, never an argument `ps` would show.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::config::Config;
use super::secret::Secret;

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
        /// The new catalog as a URL without a password: sqlite://PATH or postgres://USER@HOST:PORT/DB
        /// (the password from PGPASSWORD). One with a password goes in the MIGRATE_TO_CATALOG
        /// variable or in --to-catalog-file, not here: arguments are visible to `ps`.
        #[arg(long, value_name = "URL", conflicts_with = "to_catalog_file")]
        to_catalog: Option<String>,
        /// A file holding the new catalog's URL (postgres://USER:PASSWORD@HOST:PORT/DB).
        #[arg(long, value_name = "PATH")]
        to_catalog_file: Option<PathBuf>,
        /// The new blob store: s3://BUCKET/PREFIX (AWS_* variables as for serving) or file://PATH.
        #[arg(long, env = "MIGRATE_TO_BLOBS", value_name = "URL")]
        to_blobs: String,
        /// Copy stored derivatives too (otherwise they are made again when asked for).
        #[arg(long)]
        derivatives: bool,
    },
    /// The local diffusion models ([providers.local] models_dir).
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Every model directory found, what it is, its size and how it runs, or why it cannot.
    List,
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
        to_catalog_file,
        to_blobs,
        derivatives,
    }) = args.command
    {
        let env = std::env::var(TO_CATALOG_ENV).ok();
        let to_catalog = match target_catalog(to_catalog, to_catalog_file, env) {
            Ok(url) => url,
            Err(err) => {
                eprintln!("pixzoo migrate: {err}");
                return ExitCode::from(2);
            }
        };
        return migrate(config, to_catalog, to_blobs, derivatives).await;
    }
    if let Some(Command::Models {
        command: ModelsCommand::List,
    }) = args.command
    {
        print!("{}", list_models(&config));
        return ExitCode::SUCCESS;
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

/// `pixzoo models list`: a table of the model directories found.
fn list_models(config: &Config) -> String {
    use super::providers::local::models::scan;
    let dir = config.providers.local.models_dir(&config.storage.data_dir);
    let found = scan(&dir);
    let mut out = format!("models directory: {}\n", dir.display());
    if found.is_empty() {
        out.push_str("no models: put a diffusers-layout model directory (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) there as <id>/\n");
        return out;
    }
    out.push_str(&format!(
        "{:<28} {:<22} {:>9} {:>7} {:>6} {:>8}\n",
        "ID", "ARCHITECTURE", "SIZE", "NATIVE", "STEPS", "GUIDANCE"
    ));
    for entry in found {
        match entry.model {
            Ok(m) => out.push_str(&format!(
                "{:<28} {:<22} {:>7.1}GB {:>7} {:>6} {:>8}\n",
                m.id,
                m.architecture,
                m.bytes as f64 / 1e9,
                m.native,
                m.steps.default,
                m.guidance
            )),
            Err(reason) => out.push_str(&format!("{:<28} not usable: {reason}\n", entry.id)),
        }
    }
    out
}

/// Where `pixzoo migrate` reads the new catalog's URL when no argument gives it.
const TO_CATALOG_ENV: &str = "MIGRATE_TO_CATALOG";

/// Why `pixzoo migrate` has no new catalog to copy to. No variant holds the URL: it may hold a
/// password.
#[derive(Debug, thiserror::Error)]
enum TargetError {
    #[error(
        "--to-catalog carries a password, which `ps` and shell history show; give the URL in \
         {TO_CATALOG_ENV} or in a file with --to-catalog-file PATH (or the password in PGPASSWORD)"
    )]
    PasswordInArgument,
    #[error("--to-catalog-file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--to-catalog-file {0} is empty")]
    EmptyFile(PathBuf),
    #[error(
        "no new catalog: set {TO_CATALOG_ENV}, or pass --to-catalog-file PATH or --to-catalog URL \
         (without a password)"
    )]
    Missing,
}

/// The new catalog's URL: from `--to-catalog` (refused with a password in it: it would already be
/// on `ps`, and refusing stops that becoming a habit), else the file, else the environment.
fn target_catalog(
    argument: Option<String>,
    file: Option<PathBuf>,
    env: Option<String>,
) -> Result<Secret, TargetError> {
    if let Some(url) = argument {
        if has_password(&url) {
            return Err(TargetError::PasswordInArgument);
        }
        return Ok(Secret::new(url));
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).map_err(|source| TargetError::File {
            path: path.clone(),
            source,
        })?;
        let url = text.trim();
        if url.is_empty() {
            return Err(TargetError::EmptyFile(path));
        }
        return Ok(Secret::new(url));
    }
    env.filter(|url| !url.trim().is_empty())
        .map(|url| Secret::new(url.trim()))
        .ok_or(TargetError::Missing)
}

/// Whether a catalog URL holds a password, as `user:password@` or sqlx's `?password=`.
fn has_password(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|url| {
        url.password().is_some() || url.query_pairs().any(|(key, _)| key == "password")
    })
}

async fn migrate(
    config: Config,
    to_catalog: Secret,
    to_blobs: String,
    derivatives: bool,
) -> ExitCode {
    let mut to = config.storage.clone();
    to.catalog_url = to_catalog;
    to.blobs_url = to_blobs;
    for (key, check) in [
        ("the new catalog", to.catalog().map(|_| ())),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_catalog_comes_from_the_environment_or_a_file_never_a_password_argument() {
        let with_password = "postgres://pixzoo:hunter2@db.internal/pixzoo";
        for url in [
            with_password,
            "postgres://pixzoo@db/pixzoo?password=hunter2",
        ] {
            let refused = target_catalog(Some(url.into()), None, None).unwrap_err();
            assert!(matches!(refused, TargetError::PasswordInArgument));
            assert!(!refused.to_string().contains("hunter2"));
        }
        let plain = "postgres://pixzoo@db.internal/pixzoo";
        let read = |argument: Option<&str>, file, env: Option<&str>| {
            target_catalog(argument.map(Into::into), file, env.map(Into::into))
                .map(|url| url.expose().to_owned())
        };
        assert_eq!(read(Some(plain), None, None).unwrap(), plain);
        assert_eq!(
            read(Some("sqlite://new.db"), None, None).unwrap(),
            "sqlite://new.db"
        );
        assert_eq!(
            read(None, None, Some(with_password)).unwrap(),
            with_password
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("catalog-url");
        std::fs::write(&file, format!("{with_password}\n")).unwrap();
        assert_eq!(
            read(None, Some(file.clone()), Some("postgres://ignored")).unwrap(),
            with_password
        );
        std::fs::write(&file, "  \n").unwrap();
        assert!(matches!(
            read(None, Some(file), None),
            Err(TargetError::EmptyFile(_))
        ));
        assert!(matches!(read(None, None, None), Err(TargetError::Missing)));
        assert!(matches!(
            read(None, Some(dir.path().join("absent")), None),
            Err(TargetError::File { .. })
        ));
    }
}
