//! The studio's Edit mode: pick the image to change (drop a file, paste one, choose a file, or take one
//! from the gallery; an image page's "Edit this image" comes here with it chosen), paint a mask over
//! it, set the strength, and say what to make of it. The form is a real multipart form: without
//! JavaScript it posts the chosen file to `/studio/edit`; with it, files are uploaded as soon as they
//! are chosen and the edit runs and reports like any generation.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::server_fns::images::gallery_page;
use crate::ui::mask::MaskPainter;
use crate::ui::state::{studio_state, StudioState};
use crate::urls::image::{derivative_path, image_path};
use crate::wire::images::ImageSummary;
use crate::wire::studio::ModelOption;

const FIELD: &str =
    "mt-1 w-full rounded-lg border border-stone-300 bg-white px-3 py-2 text-base shadow-sm \
                     focus:outline-none focus-visible:ring-2 focus-visible:ring-violet-500 \
                     dark:border-stone-700 dark:bg-stone-900";
const BUTTON: &str = "rounded-lg border border-stone-300 px-3 py-1.5 text-sm hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-violet-500 dark:border-stone-700 dark:hover:bg-stone-800";
/// The file types the server reads.
const ACCEPT: &str = "image/png,image/jpeg,image/webp";

/// Uploads a file from this computer and makes it the source.
fn take_file(file: Option<web_sys::File>) {
    let Some(file) = file else {
        return;
    };
    let state = studio_state();
    state.problem.set(None);
    state.uploading.set(true);
    spawn_local(async move {
        match upload_blob(file.into()).await {
            Ok(id) => {
                state.mask.set(None);
                state.source.set(Some(id));
            }
            Err(reason) => state.problem.set(Some(reason)),
        }
        state.uploading.set(false);
    });
}

#[cfg(feature = "hydrate")]
async fn upload_blob(blob: web_sys::Blob) -> Result<String, String> {
    crate::ui::upload::upload(&blob).await
}

#[cfg(not(feature = "hydrate"))]
async fn upload_blob(_: web_sys::Blob) -> Result<String, String> {
    Err("uploads run in the browser".into())
}

/// The first image file among `files`.
fn first_image(files: Option<web_sys::FileList>) -> Option<web_sys::File> {
    let files = files?;
    (0..files.length())
        .filter_map(|i| files.get(i))
        .find(|f| f.type_().starts_with("image/"))
}

/// Runs the edit: the mask (if painted) is uploaded first, then the job starts like any other.
fn run_edit() {
    let state = studio_state();
    if state.running.get_untracked() || state.uploading.get_untracked() {
        return;
    }
    if state.source.get_untracked().is_none() {
        state
            .problem
            .set(Some("Choose the image to edit first.".into()));
        return;
    }
    let painted = state.mask.get_untracked();
    spawn_local(async move {
        let mask = match painted {
            None => None,
            Some(data_url) => {
                state.uploading.set(true);
                let uploaded = match crate::ui::mask::export(&data_url).await {
                    Some(blob) => upload_blob(blob).await,
                    None => {
                        Err("The painted mask could not be read; clear it and paint again.".into())
                    }
                };
                state.uploading.set(false);
                match uploaded {
                    Ok(id) => Some(id),
                    Err(reason) => {
                        state.problem.set(Some(reason));
                        return;
                    }
                }
            }
        };
        crate::ui::job::generate(state.edit_form(mask));
    });
}

#[component]
pub fn EditForm(models: Vec<ModelOption>) -> impl IntoView {
    let StudioState {
        source,
        strength,
        prompt,
        model_id,
        problem,
        running,
        uploading,
        ..
    } = studio_state();
    let editors: Vec<ModelOption> = models.into_iter().filter(ModelOption::edits).collect();
    let chosen = model_id.get_untracked();

    view! {
        <form method="post" action="/studio/edit" enctype="multipart/form-data" class="mt-4 grid gap-4"
            data-testid="edit-form"
            on:submit=move |ev| {
                ev.prevent_default();
                run_edit();
            }>
            {move || match source.get() {
                Some(id) => view! {
                    <input type="hidden" name="source" value=id.clone() />
                    <MaskPainter source_url=image_path(&id) />
                    <div>
                        <button type="button" class=BUTTON on:click=move |_| { source.set(None); studio_state().mask.set(None); }>
                            "Choose another image"
                        </button>
                    </div>
                }.into_any(),
                None => view! { <SourcePicker /> }.into_any(),
            }}
            <label class="text-sm font-medium">
                {move || format!("Strength: {}.{:02}", strength.get() / 100, strength.get() % 100)}
                <input type="range" name="strength" min="0" max="100" class="mt-1 block w-full accent-violet-600"
                    aria-describedby="strength-help"
                    value=strength.get_untracked() prop:value=move || strength.get().to_string()
                    on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { strength.set(v) } />
                <span id="strength-help" class="text-xs font-normal text-stone-500 dark:text-stone-400">"How far from the source: 0 keeps it, 1 ignores it."</span>
            </label>
            <label class="text-sm font-medium">
                "What to make of it"
                <textarea name="prompt" rows="2" class=FIELD
                    placeholder="Make it a watercolour; leave empty for a variation"
                    prop:value=prompt on:input=move |ev| prompt.set(event_target_value(&ev))>{prompt.get_untracked()}</textarea>
            </label>
            <label class="text-sm font-medium">
                "Model"
                <select name="model" class=FIELD on:change=move |ev| model_id.set(event_target_value(&ev))>
                    <option value="" selected=chosen.is_empty()>"The best one for this edit"</option>
                    {editors.into_iter().map(|m| {
                        let selected = m.id == chosen;
                        view! { <option value=m.id.clone() selected=selected>{m.label.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <div class="flex flex-wrap items-center gap-4">
                <button type="submit" disabled=move || running.get() || uploading.get()
                    class="rounded-lg bg-violet-600 px-5 py-2 font-semibold text-white shadow hover:bg-violet-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-violet-500 disabled:cursor-wait disabled:opacity-60">
                    "Edit"
                </button>
                <crate::ui::job::Progress />
            </div>
            {move || uploading.get().then(|| view! { <p aria-live="polite" class="text-sm text-stone-600 dark:text-stone-400">"Uploading…"</p> })}
            {move || problem.get().map(|problem| view! {
                <p role="alert" class="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">{problem}</p>
            })}
        </form>
    }
}

/// Where the image to edit comes from: this computer (drop, paste, choose) or the gallery.
#[component]
fn SourcePicker() -> impl IntoView {
    let over = RwSignal::new(false);
    let recent = Resource::new(
        || (),
        |_| gallery_page(String::new(), String::new(), String::new(), None),
    );
    view! {
        <div data-testid="drop-zone" tabindex="0" aria-label="Drop or paste the image to edit here"
            class=move || format!(
                "grid place-items-center gap-2 rounded-xl border-2 border-dashed p-6 text-center text-sm focus-visible:outline-2 focus-visible:outline-violet-500 {}",
                if over.get() { "border-violet-500 bg-violet-50 dark:bg-violet-950" } else { "border-stone-300 dark:border-stone-700" }
            )
            on:dragover=move |ev| { ev.prevent_default(); over.set(true); }
            on:dragleave=move |_| over.set(false)
            on:drop=move |ev| {
                ev.prevent_default();
                over.set(false);
                take_file(first_image(ev.data_transfer().and_then(|d| d.files())));
            }
            on:paste=move |ev| take_file(first_image(ev.clipboard_data().and_then(|d| d.files())))>
            <p>"Drop an image here, paste one, or"</p>
            <label class="text-sm font-medium">
                "Choose a file"
                <input type="file" name="image" accept=ACCEPT
                    class="mt-1 block text-sm file:mr-3 file:rounded-lg file:border file:border-stone-300 file:bg-white file:px-3 file:py-1.5 dark:file:border-stone-700 dark:file:bg-stone-900"
                    on:change=move |ev| {
                        use leptos::wasm_bindgen::JsCast;
                        let files = ev
                            .target()
                            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                            .and_then(|input| input.files());
                        take_file(first_image(files));
                    } />
            </label>
            <p class="text-xs text-stone-500 dark:text-stone-400">"PNG, JPEG or WebP"</p>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let images = recent.await.map(|page| page.images).unwrap_or_default();
                (!images.is_empty()).then(|| view! {
                    <div>
                        <h3 class="text-sm font-medium">"Or one from the gallery"</h3>
                        <ul class="mt-2 grid grid-cols-4 gap-2 sm:grid-cols-8">
                            {images.into_iter().take(8).map(|image| view! { <Pick image /> }).collect_view()}
                        </ul>
                    </div>
                })
            })}
        </Transition>
    }
}

#[component]
fn Pick(image: ImageSummary) -> impl IntoView {
    let id = image.id.clone();
    view! {
        <li>
            <button type="button" class="block w-full overflow-hidden rounded-lg focus-visible:outline-2 focus-visible:outline-violet-500"
                aria-label=format!("Edit {}", if image.prompt.is_empty() { "this image" } else { image.prompt.as_str() })
                on:click=move |_| {
                    let state = studio_state();
                    state.mask.set(None);
                    state.source.set(Some(id.clone()));
                }>
                <img src=derivative_path(&image.id, "width=160,height=160,fit=cover,format=webp") alt=""
                    width="160" height="160" loading="lazy" class="aspect-square h-auto w-full bg-stone-200 object-cover dark:bg-stone-800" />
            </button>
        </li>
    }
}
