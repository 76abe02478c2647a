//! `GET /api/models`: the models that can run here, in the CF Flux Remix shape plus capabilities.

use axum::extract::State;
use axum::Json;

use super::types::{ModelInfo, ModelList};
use crate::server::state::AppState;

/// The models this server can run.
#[utoipa::path(get, path = "/api/models", operation_id = "listModels", responses((status = 200, body = ModelList)))]
pub async fn list(State(state): State<AppState>) -> Json<ModelList> {
    let models = state.engine.models();
    Json(ModelList {
        models: models
            .all()
            .iter()
            .map(|m| ModelInfo::new(m, m.id == models.default_id()))
            .collect(),
    })
}
