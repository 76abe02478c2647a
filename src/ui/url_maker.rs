//! The Placeholder-Zoo builder: width, height, words, model and seed in, a `/{W}x{H}/{slug}` URL out,
//! live as you type, and a preview on request (a preview may generate, which costs money with a paid
//! provider, so it never fires on every keystroke). The URL comes from the grammar the server parses.

use leptos::prelude::*;

use crate::server_fns::studio::sign_placeholder_url;
use crate::ui::state::{maker_state, MakerState};
use crate::urls::placeholder::{parse_size, placeholder_url, slugify, UrlLimits};
use crate::wire::studio::{ModelOption, Signing};

const FIELD: &str =
    "mt-1 w-full rounded-lg border border-stone-300 bg-white px-3 py-2 text-base shadow-sm \
     focus:outline-none focus-visible:ring-2 focus-visible:ring-violet-500 \
     dark:border-stone-700 dark:bg-stone-900";

/// The URL the inputs describe, or what is wrong with them in words.
fn maker_url(state: &MakerState) -> Result<String, String> {
    let size = parse_size(
        &format!("{}x{}", state.width.get().trim(), state.height.get().trim()),
        &UrlLimits::default(),
    )
    .map_err(|err| err.to_string())?;
    let words = state.prompt.get();
    if slugify(&words).is_empty() {
        return Err("type a few words to describe the image".to_owned());
    }
    let seed = state.seed.get();
    let seed = match seed.trim() {
        "" => String::new(),
        seed => seed
            .parse::<u32>()
            .map_err(|_| "the seed is a whole number from 0 to 4294967295".to_owned())?
            .to_string(),
    };
    Ok(placeholder_url(
        size,
        &words,
        &[("model", &state.model.get()), ("seed", &seed)],
    ))
}

#[component]
pub fn UrlMaker(
    models: Vec<ModelOption>,
    /// New images need a signed URL: "Preview" signs first.
    signs_urls: bool,
) -> impl IntoView {
    let state = maker_state();
    let MakerState {
        width,
        height,
        prompt,
        model,
        seed,
        preview,
        signed,
        problem,
    } = state;
    let url = Memo::new(move |_| maker_url(&state));
    // The URL to hand out: signed, once it has been, while the inputs still say the same.
    let shown = move || {
        let url = url.get().ok()?;
        Some(match signed.get() {
            Some((unsigned, signed)) if unsigned == url => signed,
            _ => url,
        })
    };
    let show = move |_| {
        let Ok(path) = url.get_untracked() else {
            return;
        };
        problem.set(None);
        if !signs_urls {
            preview.set(Some(path));
            return;
        }
        leptos::task::spawn_local(async move {
            match sign_placeholder_url(path.clone()).await {
                Ok(Signing::Signed(with_sig)) => {
                    signed.set(Some((path, with_sig.clone())));
                    preview.set(Some(with_sig));
                }
                Ok(Signing::Refused(reason)) => problem.set(Some(reason)),
                Err(err) => problem.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <section aria-labelledby="url-maker-title" class="rounded-2xl border border-stone-200 bg-white p-5 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <h2 id="url-maker-title" class="text-lg font-semibold">"Make an image by URL"</h2>
            <p class="mt-1 text-sm text-stone-600 dark:text-stone-400">
                "Any URL of the form "<code>"/{W}x{H}/{words}"</code>
                " makes an image once and serves it from storage ever after."
            </p>
            <div class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-[6rem_6rem_1fr] lg:grid-cols-[6rem_6rem_1fr_14rem_8rem]">
                <label class="text-sm font-medium">
                    "Width"
                    <input type="number" min="1" inputmode="numeric" name="width" class=FIELD
                        value=width.get_untracked() prop:value=width on:input=move |ev| width.set(event_target_value(&ev)) />
                </label>
                <label class="text-sm font-medium">
                    "Height"
                    <input type="number" min="1" inputmode="numeric" name="height" class=FIELD
                        value=height.get_untracked() prop:value=height on:input=move |ev| height.set(event_target_value(&ev)) />
                </label>
                <label class="col-span-2 text-sm font-medium sm:col-span-1">
                    "Words"
                    <input type="text" name="prompt" class=FIELD
                        value=prompt.get_untracked() prop:value=prompt on:input=move |ev| prompt.set(event_target_value(&ev)) />
                </label>
                <label class="text-sm font-medium">
                    "Model"
                    <select name="model" class=FIELD on:change=move |ev| model.set(event_target_value(&ev))>
                        <option value="">"Server default"</option>
                        {models.into_iter().map(|m| {
                            let selected = m.id == model.get_untracked();
                            view! { <option value=m.id.clone() selected=selected>{m.label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label class="text-sm font-medium">
                    "Seed"
                    <input type="number" min="0" inputmode="numeric" name="seed" placeholder="auto" class=FIELD
                        value=seed.get_untracked() prop:value=seed on:input=move |ev| seed.set(event_target_value(&ev)) />
                </label>
            </div>
            <div class="mt-4 flex flex-wrap items-center gap-3">
                <p class="min-w-0 flex-1 break-all font-mono text-sm" aria-live="polite">
                    {move || match url.get().map(|_| shown().unwrap_or_default()) {
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
                <button type="button" on:click=show disabled=move || url.get().is_err()
                    class="rounded-lg border border-stone-300 px-3 py-1.5 text-sm font-medium hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-violet-500 disabled:opacity-50 dark:border-stone-700 dark:hover:bg-stone-800">
                    "Preview"
                </button>
            </div>
            {signs_urls.then(|| view! {
                <p class="mt-2 text-sm text-stone-600 dark:text-stone-400">
                    "This server makes new images only for signed URLs: Preview signs this one."
                </p>
            })}
            {move || problem.get().map(|p| view! { <p role="alert" class="mt-2 text-sm text-red-700 dark:text-red-400">{p}</p> })}
            {move || preview.get().map(|src| view! {
                <img data-testid="url-maker-preview" src=src.clone() alt=format!("Preview of {src}")
                    class="mt-4 max-h-80 max-w-full rounded-lg bg-stone-200 dark:bg-stone-800" />
            })}
        </section>
    }
}
