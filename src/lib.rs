//! Pixzoo: a self-hosted AI image studio and image origin.
//!
//! The crate builds twice: with `ssr` as the server binary (axum + the engine under [`server`]), and with
//! `hydrate` as the browser bundle. [`app`], [`ui`], [`server_fns`], [`wire`], [`domain`] and [`urls`]
//! compile for both; nothing in them may reach into [`server`] except the `#[server]` function bodies
//! in [`server_fns`], which compile only into the server.

// Release builds (without cargo-leptos' `erase_components`) type whole pages statically; the studio's
// page is deeper than rustc's default query depth.
#![recursion_limit = "256"]

pub mod app;
pub mod domain;
pub mod server_fns;
pub mod ui;
pub mod urls;
pub mod wire;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the browser bundle: attach to the server-rendered DOM.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
