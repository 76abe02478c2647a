//! glibc's allocator, tuned for image work. (mimalloc as Rust's global allocator served a cached image
//! 7% faster, but under `make soak` the server's RSS grew to 660 MiB against 140 MiB with glibc, as
//! image-sized buffers freed on one thread stayed with another's heap; so it is not used.) By default glibc serves each allocation above a threshold it
//! moves between 128 KiB and 32 MiB with a fresh `mmap` and unmaps it on free, so every request's
//! multi-megabyte buffers (decoded pixels, libjpeg's coefficient arrays, encoder output) are page-faulted
//! in again each time: measured, half the time of a 2048² JPEG encode. Serving them from the heap and
//! keeping up to 128 MiB free there removes that. libjpeg and libwebp call `malloc` themselves, so a Rust
//! global allocator would not reach them; `mallopt` does.

/// Called once, first thing, by the server binary and the transform benchmark.
pub fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes two thresholds of glibc's allocator; called before other threads
    // exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}
