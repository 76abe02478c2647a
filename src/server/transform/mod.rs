//! Image work on decoded pixels: checking what providers return, cropping to the exact requested size,
//! encoding. CPU-bound: callers run these on the blocking pool.

pub mod encode;
pub mod filters;
pub mod focus;
pub mod geometry;
pub mod inspect;
pub mod jpeg;
pub mod pipeline;
pub mod resize;
