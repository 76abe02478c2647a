//! Everything that only runs on the server: configuration, the engine, providers, storage and the HTTP
//! edge. Nothing here is compiled into the browser bundle.

pub mod allocator;
pub mod cli;
pub mod config;
pub mod engine;
pub mod guard;
pub mod http;
pub mod metrics;
pub mod prompt;
pub mod providers;
pub mod secret;
pub mod session;
pub mod storage;
pub mod studio;
mod telemetry;
pub mod transform;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRef;
use axum::Router;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

use crate::api::images::ImageSummary;
use crate::urls::placeholder::UrlLimits;
use config::Config;
use engine::{Engine, EngineError};
use storage::ImageRecord;

/// What every handler and server function can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub engine: Engine,
    pub limits: UrlLimits,
    pub api_key: secret::Secret,
    /// `server.public_url`, for absolute URLs in API answers.
    pub public_url: String,
    /// Generations the studio is polling.
    pub studio: std::sync::Arc<studio::StudioJobs>,
    /// Signatures, rate limits, budgets.
    pub guard: std::sync::Arc<guard::Guard>,
    /// `[security]`: request size limits and the request timeout.
    pub security: config::SecurityConfig,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start: {0}")]
    Engine(#[from] EngineError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// The Leptos runtime options, built from `[server]` rather than read from a file.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(env!("CARGO_PKG_NAME"))
        .site_root(config.server.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.server.addr)
        .build()
}

/// Opens the engine and builds the router; the caller decides where to serve it.
pub async fn build(config: &Config) -> Result<(Router, AppState), StartError> {
    metrics::install();
    let engine = Engine::open(config).await?;
    let guard = std::sync::Arc::new(guard::Guard::new(
        &config.security,
        engine.catalog().clone(),
    ));
    let state = AppState {
        leptos_options: leptos_options(config),
        engine,
        limits: config.limits.url_limits(),
        api_key: config.auth.api_key.clone(),
        public_url: config.server.public_url.clone(),
        studio: Default::default(),
        guard,
        security: config.security.clone(),
    };
    Ok((http::router(state.clone()), state))
}

/// Serves until SIGINT or SIGTERM, lets in-flight requests finish, then closes the catalog.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let (router, state) = build(&config).await?;
    warn_if_open(&state);
    // Rate-limit buckets of clients gone quiet are dropped, so memory follows recent clients only.
    tokio::spawn({
        let guard = state.guard.clone();
        async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                guard.forget_idle();
            }
        }
    });
    let addr = config.server.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(
        models = ?state.engine.models().ids().collect::<Vec<_>>(),
        default_model = state.engine.models().default_id(),
        prompt_pipeline = state.engine.prompt_pipeline(),
        "listening on http://{local}"
    );
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(StartError::Serve)?;
    state.engine.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// A paid provider without signed URLs lets anyone mint images on the owner's bill. Read from the model
/// catalog, which lists only models whose provider is configured.
fn warn_if_open(state: &AppState) {
    const PAID: [&str; 3] = ["replicate", "cloudflare", "openai"];
    let mut paid: Vec<&str> = state
        .engine
        .models()
        .all()
        .iter()
        .map(|m| m.provider.as_str())
        .filter(|p| PAID.contains(p))
        .collect();
    paid.sort_unstable();
    paid.dedup();
    if !paid.is_empty() && !state.guard.signs_urls() {
        tracing::warn!(
            providers = ?paid,
            "no signing key (PIXZOO_SIGNING_KEY): anyone who can reach /{{W}}x{{H}}/{{slug}} can make new images on a paid provider; see README, \"Running it in public\""
        );
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

impl From<&ImageRecord> for ImageSummary {
    fn from(record: &ImageRecord) -> Self {
        ImageSummary {
            url: format!("/img/{}", record.id),
            id: record.id.clone(),
            prompt: record.prompt.clone(),
            model: record.model.clone(),
            width: record.width,
            height: record.height,
            created_at: rfc3339(record.created_at),
        }
    }
}

/// Now, in Unix milliseconds (UTC), as the catalog stores times.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn rfc3339(unix_millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
