//! The home page: the studio's prompt form, the URL maker and the most recent images.

use leptos::prelude::*;

use crate::server_fns::images::gallery_page;
use crate::server_fns::studio::studio_setup;
use crate::ui::gallery::Thumb;
use crate::ui::state::studio_state;
use crate::ui::studio::Studio;
use crate::ui::url_maker::UrlMaker;
use crate::wire::images::ImageSummary;
use crate::wire::studio::Setup;

#[component]
pub fn HomePage() -> impl IntoView {
    let generated = studio_state().generated;
    // The gallery's first page: the newest images.
    let images = Resource::new(
        move || generated.get(),
        |_| gallery_page(String::new(), String::new(), String::new(), None),
    );
    let setup = Resource::new(|| (), |_| studio_setup());

    view! {
        <main class="mx-auto max-w-6xl px-4 py-8 sm:px-6">
            <header class="mb-8">
                <h1 class="text-4xl font-black tracking-tight">
                    "Pix"<span class="text-violet-600 dark:text-violet-400">"zoo"</span>
                </h1>
                <p class="mt-2 text-stone-600 dark:text-stone-400">
                    "Your self-hosted image studio and image origin."
                </p>
            </header>
            <Transition fallback=|| view! { <p class="text-stone-500">"Loading models…"</p> }>
                {move || Suspend::new(async move {
                    match setup.await {
                        Ok(Setup { models, access }) => view! {
                            <Studio models=models.clone() access />
                            <div class="mt-6"><UrlMaker models signs_urls=access.signs_urls /></div>
                        }.into_any(),
                        Err(err) => view! {
                            <p role="alert" class="text-red-700 dark:text-red-400">"Could not load the models: " {err.to_string()}</p>
                        }.into_any(),
                    }
                })}
            </Transition>
            <section aria-labelledby="recent-title" class="mt-10">
                <div class="flex items-center justify-between gap-4">
                    <h2 id="recent-title" class="text-lg font-semibold">"Recent images"</h2>
                    <button type="button" on:click=move |_| images.refetch()
                        class="rounded-lg border border-stone-300 px-3 py-1.5 text-sm font-medium hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-violet-500 dark:border-stone-700 dark:hover:bg-stone-800">
                        "Refresh"
                    </button>
                </div>
                <Transition fallback=|| view! { <p class="mt-4 text-stone-500">"Loading images…"</p> }>
                    {move || Suspend::new(async move {
                        match images.await.map(|page| page.images) {
                            Ok(list) if list.is_empty() => view! { <EmptyState /> }.into_any(),
                            Ok(list) => view! { <Recent images=list /> }.into_any(),
                            Err(err) => view! {
                                <p role="alert" class="mt-4 text-red-700 dark:text-red-400">
                                    "Could not load images: " {err.to_string()}
                                </p>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <div class="mt-4 rounded-2xl border-2 border-dashed border-stone-300 p-8 text-center dark:border-stone-700">
            <p class="font-medium">"No images yet."</p>
            <p class="mt-2 text-stone-600 dark:text-stone-400">
                "Make the first one by opening "
                <a href="/800x600/sunglasses-sloth" rel="external" class="font-mono text-violet-700 underline dark:text-violet-300">
                    "/800x600/sunglasses-sloth"
                </a>
                ", then come back here."
            </p>
        </div>
    }
}

#[component]
fn Recent(images: Vec<ImageSummary>) -> impl IntoView {
    view! {
        <ul class="mt-4 grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-4">
            {images.into_iter().map(|image| view! { <Thumb image /> }).collect_view()}
        </ul>
    }
}
