//! `GET /metrics`: the Prometheus text, for the operator's scraper. Route labels and counts say how the
//! server is used, so strangers do not get them: with `security.metrics_token` set the scraper sends it
//! as a bearer token; without one, only clients on loopback are answered on the main listener (a
//! listener of its own, `server.metrics_addr`, is the operator's to firewall).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};

use crate::server::auth::{may_read_metrics, MetricsListener};
use crate::server::error::ApiError;
use crate::server::state::AppState;

pub async fn on_main_listener(State(state): State<AppState>, request: Request) -> Response {
    answer(&state, &request, MetricsListener::Main)
}

pub async fn on_own_listener(State(state): State<AppState>, request: Request) -> Response {
    answer(&state, &request, MetricsListener::Own)
}

fn answer(state: &AppState, request: &Request, listener: MetricsListener) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let headers = request.headers();
    match may_read_metrics(&state.auth, &state.guard.clients, headers, peer, listener) {
        Ok(()) => crate::server::metrics::render().into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

impl IntoResponse for crate::server::auth::MetricsRefusal {
    fn into_response(self) -> Response {
        match self {
            Self::Token => ApiError::BadToken(
                "`/metrics` needs `Authorization: Bearer <security.metrics_token>`".into(),
            ),
            Self::NotLoopback => ApiError::Forbidden(
                "`/metrics` answers only clients on this machine; set security.metrics_token (PIXZOO_METRICS_TOKEN) to scrape it from elsewhere".into(),
            ),
        }
        .into_response()
    }
}
