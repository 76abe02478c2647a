//! The types the browser and the server exchange through the server functions (`crate::server_fns`).
//! Plain data with serde: they compile into both builds and import nothing of the server, so the
//! server may use them to build its answers without a cycle.

pub mod images;
pub mod studio;
