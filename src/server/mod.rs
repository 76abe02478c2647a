//! Everything that only runs on the server: configuration, the engine, providers, storage and the HTTP
//! edge. Nothing here is compiled into the browser bundle.

pub mod allocator;
pub mod assets;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod diffusion;
pub mod engine;
pub mod error;
pub mod guard;
pub mod http;

pub mod image_info;
pub mod listen;
pub mod memory;
pub mod metrics;
pub mod migrate;
pub mod options_cache;
pub mod paging;
pub mod presets;
pub mod prompt;
pub mod providers;
pub mod purge;
pub mod secret;
pub mod session;
pub mod state;
pub mod storage;
pub mod studio;
mod telemetry;
pub mod transform;

use std::net::SocketAddr;
use std::sync::Arc;

use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

use config::Config;
use engine::models::ModelCatalog;
use engine::{Engine, EngineError};
use prompt::PromptPipeline;
use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start: {0}")]
    Engine(#[from] EngineError),
    #[error("cannot start: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// The Leptos runtime options, built from `[server]` rather than read from a file; the bundle's hashed
/// names when the binary has them (`assets::Bundle`).
pub fn leptos_options(config: &Config, bundle: Option<&assets::Bundle>) -> LeptosOptions {
    let site_root = config.server.site_root.to_string_lossy().into_owned();
    LeptosOptions::builder()
        .output_name(env!("CARGO_PKG_NAME"))
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(config.server.addr)
        .hash_files(bundle.is_some())
        .hash_file(Arc::from(
            bundle
                .map(|b| b.hash_file.to_string_lossy().into_owned())
                .unwrap_or_else(|| "hash.txt".into()),
        ))
        .build()
}

/// Wires the server from its configuration: storage, the CPU pool, providers, the model catalog, the
/// prompt pipeline, the engine over them, the guard, and the router. The caller decides where to serve.
pub async fn build(config: &Config) -> Result<(http::Hits, AppState), StartError> {
    metrics::install();
    let storage = storage::open(&config.storage).await?;
    let cpu = Arc::new(cpu::CpuPool::new(
        config.engine.transform_workers,
        config.engine.transform_queue,
    ));
    let configured = providers::from_config(config, &cpu);
    // The local models found on disk join the configured ones; a configured model of the same id wins.
    let mut offered = config.catalog.clone();
    for model in &configured.local_models {
        if !offered.models.iter().any(|m| m.id == model.id) {
            offered.models.push(model.clone());
        }
    }
    let models = ModelCatalog::new(&offered, |p| configured.providers.contains_key(p))
        .map_err(EngineError::Setup)?;
    let prompts = PromptPipeline::new(
        config,
        configured.cloudflare,
        configured.replicate,
        storage.catalog.clone(),
    );
    let catalog = storage.catalog.clone();
    let coordination = storage.coordination.clone();
    let purger = purge::Purger::from_config(&config.purge, &config.server.public_url)
        .map_err(|err| EngineError::Setup(format!("purge: {err}")))?;
    let engine = Engine::new(
        engine::Parts {
            storage,
            memory: memory::MemoryCache::new(config.storage.memory_cache_bytes),
            derivatives_max_bytes: config.storage.derivatives_max_bytes,
            derivative_limits: engine::limits::DeriveLimits {
                max_pixels: config.limits.max_derivative_pixels,
                max_upscale: config.limits.max_upscale,
            },
            upload_limits: engine::limits::UploadLimits {
                max_bytes: config.limits.max_upload_bytes,
                max_pixels: config.limits.max_upload_pixels,
            },
            prompt_limits: engine::limits::PromptLimits {
                max_chars: config.limits.max_prompt_chars,
            },
            models,
            providers: configured.providers,
            prompts,
            cpu,
            purger,
        },
        &config.engine,
    );
    let bundle = assets::Bundle::find(&config.server.site_root, env!("CARGO_PKG_NAME"));
    let guard = Arc::new(guard::Guard::new(
        &config.security,
        catalog.clone(),
        coordination.clone(),
    ));
    let state = AppState::new(state::Shared {
        leptos_options: leptos_options(config, bundle.as_ref()),
        bundle,
        engine,
        limits: config.limits.url_limits(),
        max_upload_bytes: config.limits.max_upload_bytes,
        max_search_chars: config.limits.max_search_chars,
        auth: auth::Authority::new(
            config.auth.api_key.clone(),
            config.security.metrics_token.clone(),
            session::SessionBook::new(
                config.auth.api_key.clone(),
                catalog.clone(),
                &config.server.public_url,
                guard.clients.proxy_header.is_some(),
            ),
        ),
        public_url: config.server.public_url.clone(),
        studio: Arc::new(studio::jobs::StudioJobs::new(coordination)),
        guard,
        // `Config::load` checked them; a configuration built in code gets the same check here.
        presets: presets::Presets::new(&config.presets.0)
            .map_err(|err| EngineError::Setup(format!("presets: {err}")))?,
        options_cache: Default::default(),
        security: config.security.clone(),
        metrics_apart: config.server.metrics_addr.is_some(),
        stream_keep_alive: std::time::Duration::from_secs(15)
            .min(std::time::Duration::from_secs(config.server.idle_timeout_secs) / 2),
    });
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
    if let Some(addr) = config.server.metrics_addr {
        let metrics = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        tracing::info!("metrics on http://{addr}/metrics");
        let router = http::metrics_router(state.clone());
        let limits = listen::limits(&config);
        // Stops with the process: a scrape in flight at shutdown is not worth waiting for.
        tokio::spawn(listen::serve(
            metrics,
            router,
            limits,
            std::future::pending(),
        ));
    }
    let local = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(
        models = ?state.engine.models().ids().collect::<Vec<_>>(),
        default_model = state.engine.models().default_id(),
        prompt_pipeline = state.engine.prompt_pipeline(),
        "listening on http://{local}"
    );
    listen::serve(listener, router, listen::limits(&config), shutdown_signal()).await;
    state.engine.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// A paid provider with a door left open lets anyone mint images on the owner's bill: said once, at
/// start-up, naming each open door. Read from the model catalog, which lists only models whose provider
/// is configured.
fn warn_if_open(state: &AppState) {
    let mut paid: Vec<&str> = state
        .engine
        .models()
        .all()
        .iter()
        .map(|m| m.provider.as_str())
        .filter(|p| config::ProviderKind::from_name(p).is_some_and(|kind| kind.is_paid()))
        .collect();
    paid.sort_unstable();
    paid.dedup();
    if paid.is_empty() {
        return;
    }
    let mut open = Vec::new();
    if !state.auth.key_required() {
        open.push("no API_KEY: POST /api/image, POST /v1/images/generations, the studio (generate, delete) and DELETE /api/images/{id} are open to anyone, and the studio cannot sign URLs");
    }
    if !state.guard.signs_urls() {
        open.push("no signing key (PIXZOO_SIGNING_KEY): any /{W}x{H}/{slug} URL makes a new image for anyone");
    }
    if !open.is_empty() {
        tracing::warn!(
            providers = ?paid,
            "paid providers are reachable by strangers: {}; see README, \"Running it in public\"",
            open.join("; ")
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
