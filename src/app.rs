//! The document shell and the router: which page answers which path.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use crate::ui::detail::DetailPage;
use crate::ui::gallery::GalleryPage;
use crate::ui::home::HomePage;
use crate::ui::not_found::NotFound;
use crate::ui::sign_in::SignInPage;
use crate::ui::state::provide_state;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.ico" />
                <AutoReload options=options.clone() />
                // Hashed names when the build made them (`server::assets`), so they can be cached for good.
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-stone-50 text-stone-900 antialiased dark:bg-stone-950 dark:text-stone-100">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_state();
    // Effects run only in the browser: the marker appears once the page is hydrated and interactive.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="Pixzoo" />
        <Router>
            <nav aria-label="Main" class="border-b border-stone-200 dark:border-stone-800"
                data-hydrated=move || hydrated.get().then_some("true")>
                <div class="mx-auto flex max-w-6xl items-center gap-6 px-4 py-3 sm:px-6">
                    <a href="/" class="text-lg font-black tracking-tight">"Pix"<span class="text-violet-600 dark:text-violet-400">"zoo"</span></a>
                    <NavLink href="/" label="Studio" />
                    <NavLink href="/gallery" label="Gallery" />
                </div>
            </nav>
            <Routes fallback=NotFound>
                // Async: the whole page (models included) is rendered before it is sent, so the prompt
                // form works without JavaScript.
                <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async />
                <Route path=StaticSegment("sign-in") view=SignInPage />
                <Route path=StaticSegment("gallery") view=GalleryPage />
                <Route path=(StaticSegment("gallery"), ParamSegment("id")) view=DetailPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

/// A link in the main navigation, marked as the current page where it is (plain `<a>`: the router
/// handles clicks on any same-origin link).
#[component]
fn NavLink(href: &'static str, label: &'static str) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let current = move || {
        let path = location.pathname.get();
        let here = if href == "/" {
            path == "/"
        } else {
            path.starts_with(href)
        };
        here.then_some("page")
    };
    view! {
        <a href=href aria-current=current class="text-sm font-medium hover:underline aria-[current=page]:text-violet-700 dark:aria-[current=page]:text-violet-300">{label}</a>
    }
}
