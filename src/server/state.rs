//! What every handler and server function can reach, built once by `server::build`.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::auth::Authority;
use crate::server::config::SecurityConfig;
use crate::server::engine::Engine;
use crate::server::guard::Guard;
use crate::server::studio::jobs::StudioJobs;
use crate::urls::placeholder::UrlLimits;

/// Cheap to clone: every layer and extractor of every request takes its own copy, so the parts sit
/// behind one `Arc` (cloning them one by one, Leptos's options and the security settings' strings
/// included, was measured at several percent of a cached image's serving time).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub engine: Engine,
    pub limits: UrlLimits,
    /// `limits.max_upload_bytes`, for the bodies that carry uploads.
    pub max_upload_bytes: usize,
    /// `limits.max_search_chars`, for every face that searches the catalog (`paging::page`).
    pub max_search_chars: usize,
    /// The API key, studio sign-ins and the metrics token: what the one authorisation check reads.
    pub auth: Authority,
    /// `server.public_url`, for absolute URLs in API answers.
    pub public_url: String,
    /// Generations the studio is polling.
    pub studio: Arc<StudioJobs>,
    /// Signatures, rate limits, budgets.
    pub guard: Arc<Guard>,
    /// The browser bundle's hashed files, when the build made them.
    pub bundle: Option<crate::server::assets::Bundle>,
    /// `[presets]`: named option strings for `/img/{id}/preset=NAME`.
    pub presets: crate::server::presets::Presets,
    /// Options strings as URLs spell them, read with `presets`: kept, as hits ask the same again.
    pub options_cache: crate::server::options_cache::OptionsCache,
    /// `[security]`: request size limits and the request timeout.
    pub security: SecurityConfig,
    /// How often a progress stream sends a comment when it has nothing to say: well within
    /// `server.idle_timeout_secs`, which would close a quiet connection.
    pub stream_keep_alive: std::time::Duration,
    /// `/metrics` has a listener of its own (`server.metrics_addr`), so the main one does not serve it.
    pub metrics_apart: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
