//! `/gallery/{id}`: one image with everything known about it (what it was edited from, and its edits),
//! and the URL builder for it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::domain::kind::ImageKind;
use crate::server_fns::images::{delete_image, image_detail};
use crate::ui::gallery::Thumb;
use crate::ui::url_builder::UrlBuilder;
use crate::urls::pages::{gallery_path, sign_in_path, studio_path};
use crate::wire::images::{Deleted, ImageDetails};

#[component]
pub fn DetailPage() -> impl IntoView {
    let params = use_params_map();
    let details = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        image_detail,
    );
    view! {
        <main class="mx-auto max-w-6xl px-4 py-8 sm:px-6">
            <a href="/gallery" class="text-sm text-violet-700 underline dark:text-violet-300">"← Gallery"</a>
            <Suspense fallback=|| view! { <p class="mt-6 text-stone-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Ok(Some(image)) => view! { <Details image /> }.into_any(),
                        Ok(None) => {
                            // The page is rendered whole before it is sent (SsrMode::Async), so the status holds.
                            #[cfg(feature = "ssr")]
                            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                                response.set_status(axum::http::StatusCode::NOT_FOUND);
                            }
                            view! { <p class="mt-6">"There is no such image."</p> }.into_any()
                        }
                        Err(err) => view! { <p role="alert" class="mt-6 text-red-700">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

const BUTTON: &str = "inline-block rounded-lg border border-stone-300 px-3 py-1.5 text-sm hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-violet-500 dark:border-stone-700 dark:hover:bg-stone-800";

/// The studio, filled in with this image's settings.
fn rerun_link(image: &ImageDetails) -> String {
    studio_path(&[
        ("prompt", &image.summary.prompt),
        ("model", &image.summary.model),
        ("seed", &image.seed.to_string()),
        ("width", &image.summary.width.to_string()),
        ("height", &image.summary.height.to_string()),
    ])
}

/// Delete, after a second click to confirm.
#[component]
fn DeleteButton(id: String) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let needs_sign_in = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    let back_here = sign_in_path(&gallery_path(&id), false);
    let delete = move |_| {
        let id = id.clone();
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match delete_image(id).await {
                Ok(Deleted::Deleted) => navigate("/gallery", Default::default()),
                Ok(Deleted::Refused(reason)) => problem.set(Some(reason)),
                Ok(Deleted::NeedsSignIn) => {
                    problem.set(Some(
                        "Sign in with the server's API key to delete images.".into(),
                    ));
                    needs_sign_in.set(true);
                }
                Err(err) => problem.set(Some(err.to_string())),
            }
        });
    };
    view! {
        {move || if confirming.get() {
            view! { <button type="button" class=BUTTON on:click=delete.clone()>"Confirm delete"</button> }.into_any()
        } else {
            view! { <button type="button" class=BUTTON on:click=move |_| confirming.set(true)>"Delete"</button> }.into_any()
        }}
        {move || problem.get().map(|p| view! { <p role="alert" class="w-full text-sm text-red-700 dark:text-red-400">{p}</p> })}
        {move || needs_sign_in.get().then(|| view! { <a href=back_here.clone() class=BUTTON>"Sign in"</a> })}
    }
}

#[component]
fn Details(image: ImageDetails) -> impl IntoView {
    let s = image.summary.clone();
    let rows = vec![
        ("Prompt", s.prompt.clone()),
        ("Final prompt", image.final_prompt.clone()),
        (
            "Negative prompt",
            image.negative_prompt.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "Translation",
            match &image.translation_note {
                Some(note) => format!("{} ({note})", image.translation),
                None => image.translation.clone(),
            },
        ),
        ("Model", format!("{} ({})", s.model, image.provider)),
        ("Seed", image.seed.to_string()),
        (
            "Steps",
            image.steps.map_or_else(|| "—".into(), |s| s.to_string()),
        ),
        (
            "Size",
            format!(
                "{} × {} {} · {} bytes",
                s.width, s.height, image.format, image.bytes
            ),
        ),
        ("Created", s.created_at.clone()),
    ];
    let rows: Vec<_> = match s.kind {
        // An upload has no prompt, model or seed of its own.
        ImageKind::Upload => rows
            .into_iter()
            .filter(|(term, _)| matches!(*term, "Size" | "Created"))
            .collect(),
        _ => rows,
    };
    let title = match (s.kind, s.prompt.is_empty()) {
        (ImageKind::Upload, true) => "Uploaded image".to_owned(),
        (ImageKind::Edit, true) => "A variation".to_owned(),
        _ => s.prompt.clone(),
    };
    let lineage = image.source_id.clone().map(|source| {
        let strength = image
            .strength
            .map(|s| format!(" at strength {}.{:02}", s / 100, s % 100))
            .unwrap_or_default();
        let masked = if image.mask_id.is_some() { ", inside a painted mask" } else { "" };
        view! {
            <p data-testid="edited-from" class="mt-2 text-sm">
                "Edited from "
                <a href=gallery_path(&source) class="text-violet-700 underline dark:text-violet-300">"this image"</a>
                {format!("{strength}{masked}.")}
            </p>
        }
    });
    let edits = (!image.edits.is_empty()).then(|| {
        let edits = image.edits.clone();
        view! {
            <section aria-labelledby="edits-title" class="mt-8">
                <h2 id="edits-title" class="text-lg font-semibold">"Edits of this image"</h2>
                <ul data-testid="edits" class="mt-3 grid grid-cols-2 gap-4 sm:grid-cols-3 lg:grid-cols-4">
                    {edits.into_iter().map(|image| view! { <Thumb image /> }).collect_view()}
                </ul>
            </section>
        }
    });
    let rerun = (s.kind != ImageKind::Upload).then(|| {
        view! {
            <a href=rerun_link(&image) class=BUTTON>"Re-run in the studio"</a>
        }
    });
    view! {
        <Title text=format!("{title} · Pixzoo") />
        <div class="mt-4 grid gap-6 md:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
            <img src=s.url.clone() alt=title.clone() width=s.width height=s.height class="h-auto w-full rounded-xl bg-stone-200 dark:bg-stone-800" />
            <div>
                <h1 class="text-2xl font-bold">{title.clone()}</h1>
                {lineage}
                <dl data-testid="details" class="mt-4 grid grid-cols-[auto_1fr] gap-x-4 gap-y-2 text-sm">
                    {rows.into_iter().map(|(term, value)| view! {
                        <dt class="font-medium text-stone-500 dark:text-stone-400">{term}</dt>
                        <dd class="break-words">{value}</dd>
                    }).collect_view()}
                </dl>
                <div class="mt-4 flex flex-wrap gap-2">
                    <a href=s.url.clone() rel="external" target="_blank" class=BUTTON>"Open full size"</a>
                    {rerun}
                    <a href=studio_path(&[("source", &s.id)]) class=BUTTON>"Edit this image"</a>
                    <DeleteButton id=s.id.clone() />
                </div>
            </div>
        </div>
        {edits}
        <div class="mt-8"><UrlBuilder id=s.id.clone() /></div>
    }
}
