use leptos::prelude::*;
use leptos_meta::Title;

/// Rendered for any path no route claims; the server answers it with status 404.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found · Pixzoo" />
        <main class="mx-auto max-w-2xl px-4 py-24 text-center">
            <h1 class="text-3xl font-bold">"Nothing here"</h1>
            <p class="mt-4 text-stone-600 dark:text-stone-400">
                "This page does not exist. Image URLs look like "
                <code class="rounded bg-stone-200 px-1 dark:bg-stone-800">"/800x600/sunglasses-sloth"</code>
                "."
            </p>
            <a class="mt-8 inline-block text-violet-700 underline dark:text-violet-300" href="/">
                "Back to Pixzoo"
            </a>
        </main>
    }
}
