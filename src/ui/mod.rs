//! Pages and their components. Data comes through the server functions in [`crate::server_fns`].

pub mod detail;
pub mod edit;
pub mod gallery;
pub mod home;
pub mod job;
pub mod mask;
pub mod not_found;
pub mod sign_in;
pub mod state;
pub mod studio;
pub mod upload;
pub mod url_builder;
pub mod url_maker;
