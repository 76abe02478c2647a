//! The `pixzoo` server binary: parse the command line, load the configuration, serve.

/// See `server::allocator`: Rust's allocations go to mimalloc, C libraries' to glibc's tuned `malloc`.
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
