//! `/gallery`: every image (generated, uploaded, edited), newest first, with search, model and kind
//! filters and paging; thumbnails
//! come through transform URLs at the size shown.

use leptos::prelude::*;

use crate::domain::kind::ImageKind;
use crate::server_fns::images::gallery_page;
use crate::server_fns::studio::studio_setup;
use crate::urls::image::derivative_path;
use crate::urls::pages::gallery_path;
use crate::wire::images::{Gallery, ImageSummary};

/// Thumbnail URLs for `srcset`: the browser picks the width it needs for the card. WebP rather than
/// `format=auto`: a first visit to the gallery would otherwise wait on dozens of AVIF encodes.
pub fn thumbnail_srcset(image: &ImageSummary) -> String {
    [320, 640, 960]
        .iter()
        .map(|w| format!("{} {w}w", thumbnail(&image.id, *w)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A gallery thumbnail `width` pixels wide.
fn thumbnail(id: &str, width: u32) -> String {
    derivative_path(id, &format!("width={width},format=webp"))
}

pub const GRID_SIZES: &str =
    "(min-width: 1280px) 25vw, (min-width: 1024px) 33vw, (min-width: 640px) 50vw, 100vw";

#[component]
pub fn GalleryPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let applied = RwSignal::new(Filter::default());
    let apply = move || {
        applied.set(Filter {
            search: search.get_untracked(),
            model: model.get_untracked(),
            kind: kind.get_untracked(),
        })
    };
    let setup = Resource::new(|| (), |_| studio_setup());
    let first = Resource::new(
        move || applied.get(),
        |f| gallery_page(f.search, f.model, f.kind, None),
    );

    view! {
        <main class="mx-auto max-w-6xl px-4 py-8 sm:px-6">
            <h1 class="text-3xl font-bold">"Gallery"</h1>
            <form role="search" class="mt-4 flex flex-wrap items-end gap-3" on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
                <label class="text-sm font-medium">"Search prompts"
                    <input type="search" name="q" class="mt-1 block rounded-lg border border-stone-300 bg-white px-3 py-2 dark:border-stone-700 dark:bg-stone-900"
                        prop:value=search on:input=move |ev| search.set(event_target_value(&ev)) />
                </label>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let models = setup.await.map(|s| s.models).unwrap_or_default();
                        let options = models.into_iter().map(|m| view! {
                            <option value=m.id.clone()>{m.label}</option>
                        }).collect_view();
                        view! {
                            <label class="text-sm font-medium">"Model"
                                <select name="model" class="mt-1 block rounded-lg border border-stone-300 bg-white px-3 py-2 dark:border-stone-700 dark:bg-stone-900"
                                    on:change=move |ev| {
                                        model.set(event_target_value(&ev));
                                        apply();
                                    }>
                                    <option value="">"All models"</option>
                                    {options}
                                </select>
                            </label>
                        }
                    })}
                </Transition>
                <label class="text-sm font-medium">"Kind"
                    <select name="kind" class="mt-1 block rounded-lg border border-stone-300 bg-white px-3 py-2 dark:border-stone-700 dark:bg-stone-900"
                        on:change=move |ev| {
                            kind.set(event_target_value(&ev));
                            apply();
                        }>
                        <option value="">"All kinds"</option>
                        {ImageKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="rounded-lg bg-violet-600 px-4 py-2 font-semibold text-white hover:bg-violet-700">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="mt-6 text-stone-500">"Loading images…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Err(err) => view! { <p role="alert" class="mt-6 text-red-700 dark:text-red-400">{super::job::plain(err)}</p> }.into_any(),
                        Ok(page) => view! { <Grid first=page filter=applied.get_untracked() /> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// What the gallery shows: words in the prompts, a model, a kind (empty: any).
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    search: String,
    model: String,
    kind: String,
}

/// The first page as rendered, plus the pages "Load more" appends; a new search makes a new grid.
#[component]
fn Grid(first: Gallery, filter: Filter) -> impl IntoView {
    let more = RwSignal::new(Vec::<ImageSummary>::new());
    let cursor = RwSignal::new(first.next_cursor.clone());
    let loading = RwSignal::new(false);
    let load_more = move |_| {
        let Some(next) = cursor.get_untracked() else {
            return;
        };
        let f = filter.clone();
        loading.set(true);
        leptos::task::spawn_local(async move {
            if let Ok(page) = gallery_page(f.search, f.model, f.kind, Some(next)).await {
                more.update(|images| images.extend(page.images));
                cursor.set(page.next_cursor);
            }
            loading.set(false);
        });
    };
    if first.images.is_empty() {
        return view! {
            <p class="mt-6 rounded-2xl border-2 border-dashed border-stone-300 p-8 text-center dark:border-stone-700">
                "No images match. Make one in the "<a href="/" class="text-violet-700 underline dark:text-violet-300">"studio"</a>"."
            </p>
        }
        .into_any();
    }
    view! {
        <ul data-testid="gallery-grid" class="mt-6 grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-3 xl:grid-cols-4">
            {first.images.into_iter().map(|image| view! { <Thumb image /> }).collect_view()}
            {move || more.get().into_iter().map(|image| view! { <Thumb image /> }).collect_view()}
        </ul>
        {move || cursor.get().map(|_| view! {
            <button type="button" on:click=load_more.clone() disabled=move || loading.get()
                class="mx-auto mt-6 block rounded-lg border border-stone-300 px-4 py-2 dark:border-stone-700">"Load more"</button>
        })}
    }
    .into_any()
}

/// One image in a grid: a thumbnail at the size shown, linking to the image's page.
#[component]
pub fn Thumb(image: ImageSummary) -> impl IntoView {
    let href = gallery_path(&image.id);
    view! {
        <li class="overflow-hidden rounded-xl border border-stone-200 bg-white shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <a href=href class="block focus-visible:outline-2 focus-visible:outline-violet-500">
                <img src=thumbnail(&image.id, 640) srcset=thumbnail_srcset(&image) sizes=GRID_SIZES
                    alt=image.prompt.clone() width=image.width height=image.height loading="lazy" decoding="async"
                    class="h-auto w-full bg-stone-200 dark:bg-stone-800" />
                <div class="p-3">
                    <p class="line-clamp-2 text-sm font-medium">{image.prompt.clone()}</p>
                    <p class="mt-1 text-xs text-stone-500 dark:text-stone-400">{format!("{} × {} · {}", image.width, image.height, image.model)}</p>
                </div>
            </a>
        </li>
    }
}
