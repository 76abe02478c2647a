//! The `pixzoo` server binary: parse the command line, load the configuration, serve.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    pixzoo::server::cli::run().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build has no binary; cargo-leptos builds the server with `--features ssr`.
}
