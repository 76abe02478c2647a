//! The studio: its Generate form (model picker, size presets, steps, seed, negative prompt,
//! translation) and its Edit form (`edit.rs`), a button with live progress, and the result card (with
//! the source beside the result for an edit).

use leptos::prelude::*;

use crate::ui::edit::EditForm;
use crate::ui::job::{generate, seconds, Progress};
use crate::ui::sign_in::SignInForm;
use crate::ui::state::{studio_state, Mode, StudioState};
use crate::urls::pages::{gallery_path, studio_path};
use crate::wire::studio::{Access, GeneratedImage, ModelOption};

const FIELD: &str =
    "mt-1 w-full rounded-lg border border-stone-300 bg-white px-3 py-2 text-base shadow-sm \
                     focus:outline-none focus-visible:ring-2 focus-visible:ring-violet-500 \
                     dark:border-stone-700 dark:bg-stone-900";

fn random_seed() -> u32 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Math::random() * f64::from(u32::MAX)) as u32
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

/// What the picker says a model can do.
fn capabilities(model: &ModelOption) -> String {
    let mut parts = Vec::new();
    if let Some(steps) = model.steps {
        parts.push(format!("steps {}–{}", steps.min, steps.max));
    }
    if model.seed {
        parts.push("seed".to_owned());
    }
    if model.negative_prompt {
        parts.push("negative prompt".to_owned());
    }
    if parts.is_empty() {
        model.label.clone()
    } else {
        format!("{} · {}", model.label, parts.join(" · "))
    }
}

/// The studio's card: sign-in when needed, the prompt form, the result. The home page renders it once the
/// models are known (the route is SsrMode::Async, so the form works without JavaScript).
#[component]
pub fn Studio(models: Vec<ModelOption>, access: Access) -> impl IntoView {
    let state = studio_state();
    state.apply_query(&leptos_router::hooks::use_query_map().get_untracked());
    let location = leptos_router::hooks::use_location();
    // Where to come back to after signing in: this page, with its query.
    let here = {
        let (path, search) = (
            location.pathname.get_untracked(),
            location.search.get_untracked(),
        );
        if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        }
    };

    let tab = move |mode: Mode, label: &'static str, href: String| {
        view! {
            <a href=href aria-current=move || (state.mode.get() == mode).then_some("page")
                on:click=move |_| state.mode.set(mode)
                class="rounded-md px-3 py-1 text-sm font-medium text-stone-600 hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-violet-500 aria-[current=page]:bg-violet-600 aria-[current=page]:text-white dark:text-stone-300 dark:hover:bg-stone-800">
                {label}
            </a>
        }
    };
    let models = StoredValue::new(models);
    view! {
        <section aria-labelledby="studio-title" class="rounded-2xl border border-stone-200 bg-white p-5 shadow-sm dark:border-stone-800 dark:bg-stone-900">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <h2 id="studio-title" class="text-lg font-semibold">"Generate"</h2>
                <nav aria-label="Studio mode" class="flex gap-1 rounded-lg border border-stone-200 p-1 dark:border-stone-800">
                    {tab(Mode::Generate, "From a prompt", studio_path(&[]))}
                    {tab(Mode::Edit, "Edit an image", studio_path(&[("mode", "edit")]))}
                </nav>
            </div>
            {(!access.allowed()).then(|| view! { <SignInForm next=here /> })}
            {(access.key_required && access.signed_in).then(|| view! { <SignOut /> })}
            {move || match state.mode.get() {
                Mode::Generate => view! { <StudioForm models=models.get_value() /> }.into_any(),
                Mode::Edit => view! { <EditForm models=models.get_value() /> }.into_any(),
            }}
            {move || state.job.get().and_then(|j| j.result).map(|image| view! { <ResultCard image /> })}
        </section>
    }
}

#[component]
fn StudioForm(models: Vec<ModelOption>) -> impl IntoView {
    let StudioState {
        prompt,
        model_id,
        width,
        height,
        steps,
        fixed_seed,
        seed,
        negative,
        translate,
        problem,
        running,
        ..
    } = studio_state();
    // Edit-only models are offered in Edit mode.
    let models: Vec<ModelOption> = models.into_iter().filter(|m| m.can("generate")).collect();
    let models = StoredValue::new(models);
    let selected = Memo::new(move |_| {
        let id = model_id.get();
        models.with_value(|list| {
            list.iter()
                .find(|m| m.id == id)
                .or_else(|| list.iter().find(|m| m.default))
                .or(list.first())
                .cloned()
        })
    });
    let chosen = selected.get_untracked().map(|m| m.id).unwrap_or_default();
    let mut providers: Vec<String> =
        models.with_value(|l| l.iter().map(|m| m.provider.clone()).collect());
    providers.dedup();

    view! {
        <form method="post" action="/studio/generate" class="mt-4 grid gap-4" on:submit=move |ev| {
            ev.prevent_default();
            generate(studio_state().form());
        }>
            <label class="text-sm font-medium">
                "Prompt"
                <textarea name="prompt" rows="3" required class=FIELD
                    placeholder="A sloth wearing sunglasses on a beach, in any language"
                    prop:value=prompt on:input=move |ev| prompt.set(event_target_value(&ev))>{prompt.get_untracked()}</textarea>
            </label>
            <div class="grid gap-4 sm:grid-cols-2">
                <label class="text-sm font-medium">
                    "Model"
                    <select name="model" class=FIELD on:change=move |ev| {
                        model_id.set(event_target_value(&ev));
                        // A newly chosen model starts from its own default steps.
                        steps.set(None);
                    }>
                        {providers.into_iter().map(|provider| {
                            let options = models.with_value(|list| list
                                .iter()
                                .filter(|m| m.provider == provider)
                                .map(|m| view! { <option value=m.id.clone() selected=m.id == chosen>{capabilities(m)}</option> })
                                .collect_view());
                            view! { <optgroup label=provider>{options}</optgroup> }
                        }).collect_view()}
                    </select>
                </label>
                <fieldset class="text-sm font-medium">
                    <legend>"Size"</legend>
                    <div class="mt-1 flex flex-wrap gap-2" role="group" aria-label="Size presets">
                        {move || selected.get().map(|m| m.presets).unwrap_or_default().into_iter().map(|preset| {
                            let (w, h) = (preset.width, preset.height);
                            let active = move || width.get() == w && height.get() == h;
                            view! {
                                <button type="button" aria-pressed=move || active().to_string()
                                    class="rounded-md border border-stone-300 px-2 py-1 text-xs focus-visible:outline-2 focus-visible:outline-violet-500 aria-pressed:border-violet-600 aria-pressed:bg-violet-50 dark:border-stone-700 dark:aria-pressed:bg-violet-950"
                                    on:click=move |_| { width.set(w); height.set(h); }>
                                    {format!("{} · {w}×{h}", preset.label)}
                                </button>
                            }
                        }).collect_view()}
                    </div>
                    <div class="mt-2 grid grid-cols-2 gap-2">
                        <label class="text-xs font-medium">"Width"
                            <input type="number" name="width" min="1" required class=FIELD value=width.get_untracked()
                                prop:value=move || width.get().to_string()
                                on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { width.set(v) } />
                        </label>
                        <label class="text-xs font-medium">"Height"
                            <input type="number" name="height" min="1" required class=FIELD value=height.get_untracked()
                                prop:value=move || height.get().to_string()
                                on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { height.set(v) } />
                        </label>
                    </div>
                </fieldset>
            </div>
            <div class="grid gap-4 sm:grid-cols-3">
                {move || selected.get().and_then(|m| m.steps).map(|range| {
                    let shown = move || steps.get().unwrap_or(range.default).to_string();
                    view! {
                        <label class="text-sm font-medium">
                            {format!("Steps ({}–{})", range.min, range.max)}
                            <input type="number" name="steps" min=range.min max=range.max class=FIELD
                                value=shown() prop:value=shown
                                on:input=move |ev| steps.set(event_target_value(&ev).parse().ok()) />
                        </label>
                    }
                })}
                {move || selected.get().filter(|m| m.seed).map(|_| view! {
                    <div class="text-sm font-medium">
                        <label class="flex items-center gap-2">
                            <input type="checkbox" name="fixed_seed" checked=fixed_seed.get_untracked() prop:checked=fixed_seed
                                on:change=move |ev| fixed_seed.set(event_target_checked(&ev)) />
                            "Fixed seed"
                        </label>
                        <div class="mt-1 flex gap-2">
                            <label class="sr-only" for="seed">"Seed"</label>
                            <input id="seed" type="number" name="seed" min="0" class=FIELD
                                value=seed.get_untracked() prop:value=move || seed.get().to_string()
                                on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { seed.set(v); fixed_seed.set(true) } />
                            <button type="button" title="Roll a new seed" aria-label="Roll a new seed"
                                class="mt-1 rounded-lg border border-stone-300 px-3 focus-visible:outline-2 focus-visible:outline-violet-500 dark:border-stone-700"
                                on:click=move |_| { seed.set(random_seed()); fixed_seed.set(true); }>"Roll"</button>
                        </div>
                    </div>
                })}
                <label class="flex items-center gap-2 self-end text-sm font-medium">
                    <input type="checkbox" name="translate" checked=translate.get_untracked() prop:checked=translate
                        on:change=move |ev| translate.set(event_target_checked(&ev)) />
                    "Translate & optimise"
                </label>
            </div>
            {move || selected.get().filter(|m| m.negative_prompt).map(|_| view! {
                <label class="text-sm font-medium">
                    "Negative prompt"
                    <input type="text" name="negative_prompt" class=FIELD placeholder="What the image should not have"
                        value=negative.get_untracked() prop:value=negative on:input=move |ev| negative.set(event_target_value(&ev)) />
                </label>
            })}
            <div class="flex flex-wrap items-center gap-4">
                <button type="submit" disabled=move || running.get()
                    class="rounded-lg bg-violet-600 px-5 py-2 font-semibold text-white shadow hover:bg-violet-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-violet-500 disabled:cursor-wait disabled:opacity-60">
                    "Generate"
                </button>
                <Progress />
            </div>
            {move || problem.get().map(|problem| view! {
                <p role="alert" class="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">{problem}</p>
            })}
        </form>
    }
}

#[component]
fn SignOut() -> impl IntoView {
    view! {
        <form method="post" action="/auth/sign-out" class="mt-2 flex items-center gap-2 text-sm text-stone-600 dark:text-stone-400">
            "Signed in with the API key."
            <button type="submit" class="underline focus-visible:outline-2 focus-visible:outline-violet-500">"Sign out"</button>
        </form>
    }
}

#[component]
fn ResultCard(image: GeneratedImage) -> impl IntoView {
    let state = studio_state();
    let elapsed = state.elapsed.get_untracked();
    let fallback = image.translation == "fallback";
    let note = image.translation_note.clone();
    let copy = |text: String| {
        move |_| {
            #[cfg(feature = "hydrate")]
            if let Some(window) = web_sys::window() {
                let origin = window.location().origin().unwrap_or_default();
                let _ = window
                    .navigator()
                    .clipboard()
                    .write_text(&format!("{origin}{text}"));
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &text;
        }
    };
    let rerun = move |_| {
        if let Some(form) = state.last_form.get_untracked() {
            generate(form);
        }
    };
    let button = "rounded-lg border border-stone-300 px-3 py-1.5 text-sm hover:bg-stone-100 focus-visible:outline-2 focus-visible:outline-violet-500 dark:border-stone-700 dark:hover:bg-stone-800";
    let picture = match image.source_url.clone() {
        Some(before) => view! {
            <BeforeAfter before after=image.url.clone() width=image.width height=image.height alt=image.prompt.clone() />
        }
        .into_any(),
        None => view! {
            <img src=image.url.clone() alt=image.prompt.clone() width=image.width height=image.height
                class="h-auto w-full rounded-xl bg-stone-200 dark:bg-stone-800" />
        }
        .into_any(),
    };
    let edit_this = studio_path(&[("source", &image.id)]);
    view! {
        <article data-testid="result" class="mt-6 grid gap-4 md:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
            {picture}
            <div class="space-y-3 text-sm">
                <div>
                    <h3 class="font-semibold">"Your prompt"</h3>
                    <p data-testid="prompt">{image.prompt.clone()}</p>
                </div>
                <div>
                    <h3 class="font-semibold">{if fallback { "Prompt used (as written)" } else { "Translated & optimised prompt" }}</h3>
                    <p data-testid="final-prompt">{image.final_prompt.clone()}</p>
                    {note.map(|note| view! { <p class="mt-1 text-amber-700 dark:text-amber-400">{note}</p> })}
                </div>
                <dl class="grid grid-cols-2 gap-x-4 gap-y-1 text-stone-600 dark:text-stone-400">
                    <dt>"Model"</dt><dd>{image.model.clone()}</dd>
                    <dt>"Seed"</dt><dd>{image.seed}</dd>
                    <dt>"Size"</dt><dd>{format!("{} × {}", image.width, image.height)}</dd>
                    <dt>"Time"</dt><dd>{if image.cached { "from storage".to_owned() } else { seconds(elapsed) }}</dd>
                </dl>
                <div class="flex flex-wrap gap-2">
                    <a href=image.url.clone() rel="external" target="_blank" class=button>"Open full size"</a>
                    <a href=image.url.clone() rel="external" download=format!("pixzoo-{}.{}", image.id, image.extension) class=button>"Download"</a>
                    <button type="button" class=button on:click=copy(image.url.clone())>"Copy image URL"</button>
                    <button type="button" class=button on:click=copy(image.placeholder_url.clone())>"Copy URL by prompt"</button>
                    <button type="button" class=button on:click=rerun>"Re-run"</button>
                    <a href=format!("{}#builder", gallery_path(&image.id)) class=button>"Open in URL builder"</a>
                    <a href=edit_this class=button>"Edit this image"</a>
                </div>
            </div>
        </article>
    }
}

/// An edit's source and result, one over the other: the slider (a range input, so the keyboard moves
/// it too) shows how much of the source to uncover.
#[component]
pub fn BeforeAfter(
    before: String,
    after: String,
    width: u32,
    height: u32,
    alt: String,
) -> impl IntoView {
    let split = RwSignal::new(50u32);
    view! {
        <figure data-testid="before-after" class="relative overflow-hidden rounded-xl bg-stone-200 dark:bg-stone-800">
            <img src=after alt=alt width=width height=height class="block h-auto w-full" />
            <img data-testid="before" src=before alt="Before the edit" width=width height=height
                class="absolute inset-0 h-full w-full object-cover"
                style=move || format!("clip-path: inset(0 {}% 0 0)", 100 - split.get()) />
            <div aria-hidden="true" class="pointer-events-none absolute inset-y-0 w-0.5 bg-white shadow"
                style=move || format!("left: {}%", split.get())></div>
            <figcaption class="absolute inset-x-3 bottom-3 flex items-center gap-2 rounded-lg bg-black/50 px-3 py-1 text-xs text-white">
                "Before"
                <input type="range" min="0" max="100" aria-label="Before and after" class="w-full accent-violet-400"
                    prop:value=move || split.get().to_string()
                    on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { split.set(v) } />
                "After"
            </figcaption>
        </figure>
    }
}
