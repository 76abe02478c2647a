//! Signing in with the server's API key (only asked for when one is set). A plain form post: the server
//! answers with an HttpOnly session cookie and sends the browser back where it was, with or without
//! JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

pub const FIELD: &str =
    "mt-1 block w-full rounded-lg border border-stone-300 bg-white px-3 py-2 text-base shadow-sm \
     focus:outline-none focus-visible:ring-2 focus-visible:ring-violet-500 \
     dark:border-stone-700 dark:bg-stone-900";

/// The key field; `next` is the local path to return to.
#[component]
pub fn SignInForm(next: String) -> impl IntoView {
    view! {
        <form method="post" action="/auth/sign-in" data-testid="sign-in"
            class="mt-4 flex flex-wrap items-end gap-3 rounded-xl bg-amber-50 p-4 text-sm text-amber-950 dark:bg-amber-950 dark:text-amber-50">
            <p class="w-full">"This server needs its API key to generate and delete images. Sign in once; this browser stays signed in."</p>
            <label class="min-w-0 flex-1 font-medium">"API key"
                <input type="password" name="key" required autocomplete="current-password" class=FIELD />
            </label>
            <input type="hidden" name="next" value=next />
            <button type="submit" class="rounded-lg bg-stone-900 px-4 py-2 font-semibold text-white focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-violet-500 dark:bg-stone-100 dark:text-stone-900">"Sign in"</button>
        </form>
    }
}

/// `/sign-in?next=…&failed=1`: where a wrong key lands, and where pages send a user who needs to sign in.
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let failed = query.get("failed").is_some();
    // Set after too many wrong keys from this address: how many seconds it waits.
    let wait = query.get("wait").and_then(|w| w.parse::<u64>().ok());
    let next = query.get("next").unwrap_or_else(|| "/".into());
    view! {
        <main class="mx-auto max-w-xl px-4 py-8 sm:px-6">
            <h1 class="text-3xl font-bold">"Sign in"</h1>
            {wait.map(|seconds| view! {
                <p role="alert" class="mt-4 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
                    {format!("Too many wrong keys from this address. Wait {} before trying again.", plain_wait(seconds))}
                </p>
            })}
            {failed.then(|| view! {
                <p role="alert" class="mt-4 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
                    "That is not this server's API key. Check it and try again."
                </p>
            })}
            <SignInForm next />
        </main>
    }
}

/// A wait in words: "1 second", "40 seconds", "3 minutes" (rounded up).
fn plain_wait(seconds: u64) -> String {
    match seconds {
        0..=1 => "1 second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}
