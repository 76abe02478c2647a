//! The studio's `#[server]` functions, mounted under `/sfn/…`. The browser build gets a stub that
//! sends the call; the server build gets the body, which is one or two calls into the server
//! (`crate::server::studio::calls`): what they answer is decided there, not here.

pub mod images;
pub mod studio;
