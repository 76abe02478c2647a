//! `/gallery/{id}`: one image with everything known about it, and the URL builder for it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::images::{image_detail, ImageDetails};
use crate::ui::url_builder::UrlBuilder;

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
    view! {
        <Title text=format!("{} · Pixzoo", s.prompt) />
        <div class="mt-4 grid gap-6 md:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
            <img src=s.url.clone() alt=s.prompt.clone() width=s.width height=s.height class="h-auto w-full rounded-xl bg-stone-200 dark:bg-stone-800" />
            <div>
                <h1 class="text-2xl font-bold">{s.prompt.clone()}</h1>
                <dl data-testid="details" class="mt-4 grid grid-cols-[auto_1fr] gap-x-4 gap-y-2 text-sm">
                    {rows.into_iter().map(|(term, value)| view! {
                        <dt class="font-medium text-stone-500 dark:text-stone-400">{term}</dt>
                        <dd class="break-words">{value}</dd>
                    }).collect_view()}
                </dl>
                <a href=s.url.clone() rel="external" target="_blank" class="mt-4 inline-block rounded-lg border border-stone-300 px-3 py-1.5 text-sm dark:border-stone-700">"Open full size"</a>
            </div>
        </div>
        <div class="mt-8"><UrlBuilder id=s.id.clone() /></div>
    }
}
