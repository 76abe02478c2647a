//! The HTTP edge: routes, one module per endpoint. Handlers parse their wire format, call the engine
//! and map the result; what a request may make of a stored image, and what is kept in memory, is
//! decided in one place for every image URL (`serve.rs`).

mod api;
mod forms;
pub mod limits;

mod health;
mod hits;
pub use hits::Hits;
mod image_response;
mod metrics;
mod negotiate;
mod original;
mod page_cache;
mod pkg;
mod placeholder;
mod request_id;
mod same_origin;
mod serve;
pub mod sources;
mod transformed;

use std::path::PathBuf;

use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

use crate::app::{shell, App};
use crate::server::state::AppState;

/// The listener of its own that `server.metrics_addr` asks for: `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::on_own_listener))
        .with_state(state)
}

/// The studio's pages (and its server functions), with the page-cache rule (`page_cache`).
fn pages(state: &AppState, options: leptos::config::LeptosOptions) -> Router<AppState> {
    Router::new()
        .leptos_routes_with_context(
            state,
            generate_route_list(App),
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(page_cache::cache_control))
}

/// Every route, behind the hit path (`hits`): a stored image in memory is answered before routing.
pub fn router(state: AppState) -> Hits {
    let ids = request_id::Sequential::new();
    let routes = routes(state.clone(), ids.clone());
    Hits::new(state, routes, ids)
}

fn routes(state: AppState, ids: request_id::Sequential) -> Router {
    let options = state.leptos_options.clone();
    let pkg_dir = PathBuf::from(&*options.site_root).join(&*options.site_pkg_dir);
    let pkg = pkg::router(&pkg_dir, state.bundle.clone());

    let metrics = if state.metrics_apart {
        Router::new()
    } else {
        Router::new().route("/metrics", get(metrics::on_main_listener))
    };
    Router::new()
        .merge(api::router(&state))
        .merge(metrics)
        .route("/healthz", get(health::health))
        .route("/auth/sign-in", post(forms::sign_in))
        .route("/auth/sign-out", post(forms::sign_out))
        .route("/studio/generate", post(forms::generate))
        .route(
            "/studio/edit",
            post(forms::edit).layer(axum::extract::DefaultBodyLimit::max(
                state.max_upload_bytes + 64 * 1024,
            )),
        )
        .route("/img/{id}", get(original::original))
        .route("/img/{id}/{options}", get(transformed::transformed))
        // Static segments win over `/{size}/{slug}`, so the bundle never reaches the placeholder route.
        .nest_service("/pkg", pkg)
        .route("/{size}/{slug}", get(placeholder::placeholder))
        .merge(pages(&state, options))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.security.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limits,
        ))
        .layer(api::cors())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            same_origin::preflight,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(ids))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}
