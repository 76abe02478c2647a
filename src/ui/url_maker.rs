//! "Make an image by URL": width, height and words in, a Placeholder Zoo URL out, live as you type.
//! The URL comes from the same grammar module the server parses it with.

use leptos::prelude::*;

use crate::urls::placeholder::{parse_size, placeholder_path, slugify, UrlLimits};

#[component]
pub fn UrlMaker() -> impl IntoView {
    let width = RwSignal::new("800".to_owned());
    let height = RwSignal::new("600".to_owned());
    let prompt = RwSignal::new("sunglasses sloth".to_owned());

    // Either the URL to open, or what is wrong with the inputs.
    let url = Memo::new(move |_| {
        let size = parse_size(
            &format!("{}x{}", width.get().trim(), height.get().trim()),
            &UrlLimits::default(),
        )
        .map_err(|err| err.to_string())?;
        if slugify(&prompt.get()).is_empty() {
            return Err("type a few words to describe the image".to_owned());
        }
        Ok(placeholder_path(size, &prompt.get()))
    });

    let field =
        "mt-1 w-full rounded-lg border border-stone-300 bg-white px-3 py-2 text-base shadow-sm \
                 focus:outline-none focus-visible:ring-2 focus-visible:ring-violet-500 \
                 dark:border-stone-700 dark:bg-stone-900";
    view! {
        <section aria-labelledby="url-maker-title" class="rounded-2xl border border-stone-200 bg-white p-5 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <h2 id="url-maker-title" class="text-lg font-semibold">"Make an image by URL"</h2>
            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                "Any URL of the form "<code>"/{W}x{H}/{words}"</code>
                " makes an image once and serves it from storage ever after."
            </p>
            <div class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-[6rem_6rem_1fr]">
                <label class="text-sm font-medium">
                    "Width"
                    <input type="number" min="1" inputmode="numeric" name="width" class=field
                        prop:value=width on:input=move |ev| width.set(event_target_value(&ev)) />
                </label>
                <label class="text-sm font-medium">
                    "Height"
                    <input type="number" min="1" inputmode="numeric" name="height" class=field
                        prop:value=height on:input=move |ev| height.set(event_target_value(&ev)) />
                </label>
                <label class="col-span-2 text-sm font-medium sm:col-span-1">
                    "Prompt"
                    <input type="text" name="prompt" class=field
                        prop:value=prompt on:input=move |ev| prompt.set(event_target_value(&ev)) />
                </label>
            </div>
            <p class="mt-4 break-all font-mono text-sm" aria-live="polite">
                {move || match url.get() {
                    Ok(path) => view! {
                        <a data-testid="url-maker-link" href=path.clone() rel="external"
                            class="text-violet-700 underline decoration-2 underline-offset-2 hover:text-violet-900 focus-visible:outline-2 focus-visible:outline-violet-500 dark:text-violet-300">
                            {path.clone()}
                        </a>
                    }.into_any(),
                    Err(problem) => view! {
                        <span role="alert" class="text-red-700 dark:text-red-400">{problem}</span>
                    }.into_any(),
                }}
            </p>
        </section>
    }
}
