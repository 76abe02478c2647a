//! The studio as a face of the server: what its server functions answer (`calls.rs`), its form turned
//! into a generation, by a server function or posted without JavaScript (`form.rs`), and its running
//! generations, tracked for polling (`jobs.rs`).

pub mod calls;
pub mod form;
pub mod jobs;
