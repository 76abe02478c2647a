//! The gallery's server functions: a page of images, one image's details, a delete.

use leptos::prelude::*;

use crate::wire::images::{Deleted, Gallery, ImageDetails};

/// Gallery images, newest first: `search` in the prompts, one `model` and one `kind` (`generated`,
/// `upload`, `edit`; empty: all), after `cursor`.
#[server(prefix = "/sfn", endpoint = "gallery_page")]
pub async fn gallery_page(
    search: String,
    model: String,
    #[server(default)] kind: String,
    cursor: Option<String>,
) -> Result<Gallery, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    crate::server::studio::calls::gallery_page(&state, &search, &model, &kind, cursor.as_deref())
        .await
        .map_err(ServerFnError::new)
}

/// One image's details, or `None` when there is no such image.
#[server(prefix = "/sfn", endpoint = "image_detail")]
pub async fn image_detail(id: String) -> Result<Option<ImageDetails>, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    crate::server::studio::calls::image_detail(&state, &id)
        .await
        .map_err(ServerFnError::new)
}

/// Deletes an image, its original and its derivatives. Needs a sign-in when the server has an API key.
#[server(prefix = "/sfn", endpoint = "delete_image")]
pub async fn delete_image(id: String) -> Result<Deleted, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    crate::server::studio::calls::delete_image(&state, &id)
        .await
        .map_err(ServerFnError::new)
}
