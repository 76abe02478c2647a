//! What each of the studio's server functions (`crate::server_fns`) answers. A refusal the page should
//! show is an answer (`Started::Refused`, `Deleted::NeedsSignIn`, …); an error is a server failure,
//! said in words fit for the page, with the cause in the log.

use crate::server::auth::{Action, Caller, Via};
use crate::server::guard::Client;
use crate::server::image_info::ImageInfo;
use crate::server::paging::{self, PageAsk, PageError, DEFAULT_LIMIT};
use crate::server::state::AppState;
use crate::server::studio::form;
use crate::wire::images::{Deleted, Gallery, ImageDetails, ImageSummary, EDITS_SHOWN};
use crate::wire::studio::{Access, GenerateForm, JobView, Setup, Signing, Started};

/// What a server function says when the catalog fails it (the cause goes to the log).
const UNAVAILABLE: &str = "the image catalog is unavailable right now";

/// The credentials the limits layer read for this server function's request (none outside it).
async fn caller() -> Caller {
    leptos_axum::extract::<axum::Extension<Caller>>()
        .await
        .map(|axum::Extension(caller)| caller)
        .unwrap_or_default()
}

/// The client the limits layer identified for this server function's request.
async fn client() -> Client {
    leptos_axum::extract::<axum::Extension<Client>>()
        .await
        .map(|axum::Extension(client)| client)
        .unwrap_or_else(|_| Client::unknown())
}

pub async fn setup(state: &AppState) -> Setup {
    let caller = caller().await;
    let key_required = state.auth.key_required();
    Setup {
        models: form::model_options(state),
        access: Access {
            key_required,
            signed_in: key_required && caller.may(&state.auth, Via::Studio, Action::Generate).await,
            signs_urls: state.guard.signs_urls(),
        },
    }
}

pub async fn start(state: &AppState, form: GenerateForm) -> Started {
    if !caller()
        .await
        .may(&state.auth, Via::Studio, Action::Generate)
        .await
    {
        return Started::Refused("Sign in with the server's API key to generate.".into());
    }
    match form::start(state, form, client().await).await {
        Ok(job) => Started::Job(job),
        Err(problem) => Started::Refused(problem.message),
    }
}

pub async fn status(state: &AppState, job: &str) -> Result<Option<JobView>, &'static str> {
    state.studio.status(job).await.map_err(|err| {
        tracing::warn!(error = %err, "could not read a studio job's progress");
        UNAVAILABLE
    })
}

pub async fn sign(state: &AppState, path: &str) -> Signing {
    if !caller()
        .await
        .may(&state.auth, Via::Studio, Action::Sign)
        .await
    {
        return Signing::Refused(if state.auth.key_required() {
            "Sign in with the server's API key to sign URLs.".into()
        } else {
            "This server has no API key, so it signs URLs only on its command line (`pixzoo sign URL`).".into()
        });
    }
    if !path.starts_with('/') || path.starts_with("//") {
        return Signing::Refused("Only paths on this server can be signed.".into());
    }
    match crate::server::guard::signing::sign_url(state.guard.signing_keys(), path) {
        Ok(signed) => Signing::Signed(signed),
        Err(err) => Signing::Refused(err.to_string()),
    }
}

/// The gallery's page: as `GET /api/images` reads it (`paging`), with the gallery's page size; an
/// unknown `kind` is all kinds, as the filter's "any" sends none.
pub async fn gallery_page(
    state: &AppState,
    search: &str,
    model: &str,
    kind: &str,
    cursor: Option<&str>,
) -> Result<Gallery, String> {
    let ask = PageAsk {
        limit: DEFAULT_LIMIT,
        cursor,
        search: Some(search),
        model: Some(model),
        kind: kind.parse().ok(),
        max_search_chars: state.max_search_chars,
    };
    let page = paging::page(&state.engine, ask)
        .await
        .map_err(|err| match err {
            PageError::Engine(err) => {
                tracing::error!(error = %err, "gallery page failed");
                UNAVAILABLE.to_owned()
            }
            bad => bad.to_string(),
        })?;
    Ok(Gallery {
        images: page.records.iter().map(summary).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One image's details with its newest edits, or `None` when there is no such image.
pub async fn image_detail(
    state: &AppState,
    id: &str,
) -> Result<Option<ImageDetails>, &'static str> {
    let unavailable = |err: crate::server::engine::EngineError| {
        tracing::error!(error = %err, "image detail failed");
        UNAVAILABLE
    };
    let Some(record) = state.engine.record(id).await.map_err(unavailable)? else {
        return Ok(None);
    };
    let edits = state
        .engine
        .edits_of(id, EDITS_SHOWN)
        .await
        .map_err(unavailable)?;
    let mut details = ImageDetails::from(&ImageInfo::from(&record));
    details.edits = edits.iter().map(summary).collect();
    Ok(Some(details))
}

pub async fn delete_image(state: &AppState, id: &str) -> Result<Deleted, &'static str> {
    if !caller()
        .await
        .may(&state.auth, Via::Studio, Action::Delete)
        .await
    {
        return Ok(Deleted::NeedsSignIn);
    }
    match state.engine.delete(id).await {
        Ok(true) => Ok(Deleted::Deleted),
        Ok(false) => Ok(Deleted::Refused("There is no such image.".into())),
        Err(err) => {
            tracing::error!(error = %err, "deleting an image failed");
            Err(UNAVAILABLE)
        }
    }
}

fn summary(record: &crate::server::storage::ImageRecord) -> ImageSummary {
    ImageSummary::from(&ImageInfo::from(record))
}
