//! URL grammars shared by the server (which parses them) and the browser (which builds them), so that every
//! URL the UI prints is one the server accepts.

pub mod image;
pub mod options;
pub mod placeholder;
