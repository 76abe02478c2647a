//! The `pixzoo` server binary: parse the command line, load the configuration, serve.

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    pixzoo::server::allocator::keep_large_buffers();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(pixzoo::server::cli::run())
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build has no binary; cargo-leptos builds the server with `--features ssr`.
}
