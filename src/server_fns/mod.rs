//! The studio's `#[server]` functions, mounted under `/sfn/…`. The browser build gets a stub that
//! sends the call; the server build gets the body, which is one call into the server
//! (`crate::server::studio::calls`, which reads the request's credentials itself): what they answer is decided there, not here.

pub mod images;
pub mod studio;
