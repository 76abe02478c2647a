//! The URL builder for one stored image: every transform option as a control, the resulting URL (printed
//! by the same options type the server parses, so it is always valid), and a live preview.

use std::time::Duration;

use leptos::prelude::*;

use crate::urls::image::{derivative_path, image_path};
use crate::urls::options::{Control, OptionError, TransformOptions, OPTIONS};

const FIELD: &str = "mt-1 w-full rounded-md border border-stone-300 bg-white px-2 py-1 text-sm \
                     focus:outline-none focus-visible:ring-2 focus-visible:ring-violet-500 \
                     dark:border-stone-700 dark:bg-stone-900";

#[component]
pub fn UrlBuilder(id: String) -> impl IntoView {
    // One text per option, in the table's order, as its control holds it.
    let values: Vec<RwSignal<String>> = OPTIONS
        .iter()
        .map(|_| RwSignal::new(String::new()))
        .collect();
    let values = StoredValue::new(values);

    // The options as the controls say, or the first problem (named by the option, as the server would).
    let built = Memo::new(move |_| {
        let mut options = TransformOptions::default();
        for (option, value) in OPTIONS.iter().zip(values.get_value()) {
            let value = value.get();
            if !value.trim().is_empty() {
                options.set(option.name, value.trim())?;
            }
        }
        Ok::<_, OptionError>(options)
    });
    let base = image_path(&id);
    let url = {
        let id = id.clone();
        Memo::new(move |_| {
            built
                .get()
                .ok()
                .map(|options| derivative_path(&id, &options.to_string()))
        })
    };

    // The preview follows the URL once typing pauses: each change cancels the timer the last one set,
    // and leaving the page cancels the last.
    let preview = RwSignal::new(Some(base));
    Effect::new(move |_| {
        let next = url.get();
        if let Ok(timer) =
            set_timeout_with_handle(move || preview.set(next), Duration::from_millis(350))
        {
            on_cleanup(move || timer.clear());
        }
    });
    // What the preview turned out to be, read in the browser once it has loaded: pixels from the image,
    // type and bytes from a HEAD request for the same URL (stored by then, so it is cheap).
    let measured = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        preview.track();
        measured.set(None);
    });
    let on_load = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(img) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlImageElement>().ok())
            else {
                return;
            };
            let (width, height, src) = (img.natural_width(), img.natural_height(), img.src());
            leptos::task::spawn_local(async move {
                let (mime, bytes) = head(&src).await.unwrap_or_default();
                measured.set(Some(format!("{width} × {height} · {mime} · {bytes} bytes")));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let (Some(window), Some(url)) = (web_sys::window(), url.get_untracked()) {
            let origin = window.location().origin().unwrap_or_default();
            let _ = window
                .navigator()
                .clipboard()
                .write_text(&format!("{origin}{url}"));
        }
    };

    view! {
        <section id="builder" aria-labelledby="builder-title" class="rounded-2xl border border-stone-200 bg-white p-5 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <h2 id="builder-title" class="text-lg font-semibold">"URL builder"</h2>
            <div class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-5">
                {OPTIONS.iter().zip(values.get_value()).map(|(option, value)| {
                    let (name, hint) = (option.name, option.allowed);
                    let control = match option.control {
                        Control::Number { step } => view! {
                            <input type="number" step=step min="0" name=name title=hint class=FIELD
                                prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
                        }.into_any(),
                        Control::Colour => view! {
                            <input type="color" name=name title=hint class="mt-1 h-8 w-full rounded-md border border-stone-300 dark:border-stone-700"
                                on:input=move |ev| value.set(event_target_value(&ev)) />
                        }.into_any(),
                        Control::Text { placeholder } => view! {
                            <input type="text" name=name title=hint placeholder=placeholder class=FIELD
                                prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
                        }.into_any(),
                        Control::Choice(choices) => view! {
                            <select name=name title=hint class=FIELD on:change=move |ev| value.set(event_target_value(&ev))>
                                {std::iter::once("").chain(choices.iter().copied()).map(|choice| view! {
                                    <option value=choice>{if choice.is_empty() { "default" } else { choice }}</option>
                                }).collect_view()}
                            </select>
                        }.into_any(),
                    };
                    // A free-text value (trim's four sides) takes a whole row on a phone, so its hint shows.
                    let class = match option.control {
                        Control::Text { .. } => "col-span-2 text-xs font-medium sm:col-span-1",
                        _ => "text-xs font-medium",
                    };
                    view! { <label class=class>{option.label}{control}</label> }
                }).collect_view()}
            </div>
            <div class="mt-4 flex flex-wrap items-center gap-2">
                {move || match (url.get(), built.get()) {
                    (Some(url), _) => view! {
                        <code data-testid="builder-url" class="break-all rounded bg-stone-100 px-2 py-1 text-sm dark:bg-stone-800">{url}</code>
                        <button type="button" on:click=copy
                            class="rounded-md border border-stone-300 px-3 py-1 text-sm dark:border-stone-700">"Copy"</button>
                    }.into_any(),
                    (None, Err(problem)) => view! {
                        <p role="alert" class="text-sm text-red-700 dark:text-red-400">{problem.to_string()}</p>
                    }.into_any(),
                    (None, Ok(_)) => ().into_any(),
                }}
            </div>
            <figure class="mt-4">
                {move || preview.get().map(|src| view! {
                    <img data-testid="builder-preview" src=src on:load=on_load alt="Preview of the transformed image" class="max-h-96 max-w-full rounded-lg" />
                })}
                <figcaption data-testid="builder-info" class="mt-2 text-sm text-stone-600 dark:text-stone-400">
                    {move || measured.get().unwrap_or_else(|| "Measuring…".into())}
                </figcaption>
            </figure>
        </section>
    }
}

/// The `Content-Type` and `Content-Length` a HEAD request for `url` answers with.
#[cfg(feature = "hydrate")]
async fn head(url: &str) -> Option<(String, String)> {
    use wasm_bindgen::JsCast;
    let init = web_sys::RequestInit::new();
    init.set_method("HEAD");
    let window = web_sys::window()?;
    let response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    let headers = response.headers();
    Some((
        headers.get("content-type").ok()??,
        headers.get("content-length").ok()??,
    ))
}
