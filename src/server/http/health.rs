//! `GET /healthz`: 200 when the catalog and the blob store answer, 503 naming the one that does not.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use crate::server::state::AppState;

pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let health = state.engine.health().await;
    let describe = |name: &str, result: Result<(), String>| match result {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::error!(part = name, error = %err, "health check failed");
            "unavailable".to_owned()
        }
    };
    let status = if health.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if health.is_ok() { "ok" } else { "unavailable" },
        "catalog": describe("catalog", health.catalog.map_err(|e| e.to_string())),
        "blobs": describe("blobs", health.blobs.map_err(|e| e.to_string())),
    });
    (status, Json(body))
}
