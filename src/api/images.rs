//! The image catalog as the UI sees it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::kind::ImageKind;

/// One stored image, as listed on the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    pub kind: ImageKind,
    pub prompt: String,
    pub model: String,
    pub width: u32,
    pub height: u32,
    /// Where the stored original is served.
    pub url: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A page of the gallery and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gallery {
    pub images: Vec<ImageSummary>,
    pub next_cursor: Option<String>,
}

/// Gallery images, newest first: `search` in the prompts, one `model` and one `kind` (`generated`,
/// `upload`, `edit`; empty: all), after `cursor`.
#[server(prefix = "/sfn", endpoint = "gallery_page")]
pub async fn gallery_page(
    search: String,
    model: String,
    #[server(default)] kind: String,
    cursor: Option<String>,
) -> Result<Gallery, ServerFnError> {
    use crate::server::storage::{cursor_after, parse_cursor, PageQuery};
    use crate::server::view::ImageInfo;
    const PER_PAGE: u32 = 24;
    let state = expect_context::<crate::server::state::AppState>();
    let after = cursor.as_deref().and_then(parse_cursor);
    let page = state
        .engine
        .page(&PageQuery {
            limit: PER_PAGE + 1,
            after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
            search: Some(search.trim()).filter(|s| !s.is_empty()),
            model: Some(model.as_str()).filter(|m| !m.is_empty()),
            kind: kind.parse().ok(),
        })
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "gallery page failed");
            ServerFnError::new("the image catalog is unavailable right now")
        })?;
    let more = page.len() > PER_PAGE as usize;
    let images: Vec<_> = page.iter().take(PER_PAGE as usize).collect();
    Ok(Gallery {
        next_cursor: more
            .then(|| images.last().map(|r| cursor_after(r)))
            .flatten(),
        images: images
            .into_iter()
            .map(|r| ImageSummary::from(&ImageInfo::from(r)))
            .collect(),
    })
}

/// Everything about one image, for its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetails {
    pub summary: ImageSummary,
    pub final_prompt: String,
    pub negative_prompt: Option<String>,
    pub provider: String,
    pub seed: u32,
    pub steps: Option<u32>,
    pub format: String,
    pub bytes: u64,
    pub translation: String,
    pub translation_note: Option<String>,
    pub kind: ImageKind,
    /// What an edit was made from and with (image ids), and how far it went, in hundredths.
    pub source_id: Option<String>,
    pub mask_id: Option<String>,
    pub strength: Option<u8>,
    /// The newest images edited from this one.
    pub edits: Vec<ImageSummary>,
}

/// How many of an image's edits its page lists.
pub const EDITS_SHOWN: u32 = 12;

/// One image's details, or `None` when there is no such image.
#[server(prefix = "/sfn", endpoint = "image_detail")]
pub async fn image_detail(id: String) -> Result<Option<ImageDetails>, ServerFnError> {
    use crate::server::view::ImageInfo;
    let state = expect_context::<crate::server::state::AppState>();
    let unavailable = |err: crate::server::engine::EngineError| {
        tracing::error!(error = %err, "image detail failed");
        ServerFnError::new("the image catalog is unavailable right now")
    };
    let Some(record) = state.engine.record(&id).await.map_err(unavailable)? else {
        return Ok(None);
    };
    let edits = state
        .engine
        .edits_of(&id, EDITS_SHOWN)
        .await
        .map_err(unavailable)?;
    let mut details = ImageDetails::from(&ImageInfo::from(&record));
    details.edits = edits
        .iter()
        .map(|r| ImageSummary::from(&ImageInfo::from(r)))
        .collect();
    Ok(Some(details))
}

/// What became of a request to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deleted {
    Deleted,
    /// The server has an API key and this browser has not signed in with it.
    NeedsSignIn,
    /// Refused, with the reason in plain words.
    Refused(String),
}

/// Deletes an image, its original and its derivatives. Needs a sign-in when the server has an API key.
#[server(prefix = "/sfn", endpoint = "delete_image")]
pub async fn delete_image(id: String) -> Result<Deleted, ServerFnError> {
    use crate::server::auth::{server_fn_may, Action};
    let state = expect_context::<crate::server::state::AppState>();
    if !server_fn_may(&state, Action::Delete).await {
        return Ok(Deleted::NeedsSignIn);
    }
    match state.engine.delete(&id).await {
        Ok(true) => Ok(Deleted::Deleted),
        Ok(false) => Ok(Deleted::Refused("There is no such image.".into())),
        Err(err) => {
            tracing::error!(error = %err, "deleting an image failed");
            Err(ServerFnError::new(
                "the image catalog is unavailable right now",
            ))
        }
    }
}
