//! Types the browser and the server exchange, and the `#[server]` functions that carry them. Function
//! bodies only run on the server and delegate to the engine in a line or two.

pub mod images;
pub mod studio;
