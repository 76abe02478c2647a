//! The studio's server functions: what it can offer, start a generation, poll it, sign a URL.

use leptos::prelude::*;

use crate::wire::studio::{GenerateForm, JobView, Setup, Signing, Started};

/// The models and what this browser may do: one call for both, so a page load makes one request, not
/// two.
#[server(prefix = "/sfn", endpoint = "studio_setup")]
pub async fn studio_setup() -> Result<Setup, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    Ok(crate::server::studio::calls::setup(&state).await)
}

/// Starts (or joins) a generation. A refusal is an answer, not a server failure.
#[server(prefix = "/sfn", endpoint = "start_generation")]
pub async fn start_generation(form: GenerateForm) -> Result<Started, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    Ok(crate::server::studio::calls::start(&state, form).await)
}

/// Where a generation is now; `None` when the server does not know the job (restarted, or long done).
#[server(prefix = "/sfn", endpoint = "generation_status")]
pub async fn generation_status(job: String) -> Result<Option<JobView>, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    crate::server::studio::calls::status(&state, &job)
        .await
        .map_err(ServerFnError::new)
}

/// Signs a `/{W}x{H}/{slug}?…` path for the URL maker: whoever may generate in the studio may mint URLs.
#[server(prefix = "/sfn", endpoint = "sign_placeholder_url")]
pub async fn sign_placeholder_url(path: String) -> Result<Signing, ServerFnError> {
    let state = expect_context::<crate::server::state::AppState>();
    Ok(crate::server::studio::calls::sign(&state, &path).await)
}
