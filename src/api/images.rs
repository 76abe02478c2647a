//! The image catalog as the UI sees it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One stored image, as listed on the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    pub prompt: String,
    pub model: String,
    pub width: u32,
    pub height: u32,
    /// Where the stored original is served.
    pub url: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// Most images a single call returns.
pub const MAX_RECENT: u32 = 100;

/// The newest images, newest first.
#[server(prefix = "/sfn", endpoint = "recent_images")]
pub async fn recent_images(limit: u32) -> Result<Vec<ImageSummary>, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    let images = state
        .engine
        .recent(limit.clamp(1, MAX_RECENT))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "listing recent images failed");
            ServerFnError::new("the image catalog is unavailable right now")
        })?;
    Ok(images.iter().map(ImageSummary::from).collect())
}
