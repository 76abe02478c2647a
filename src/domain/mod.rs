//! Domain types both builds share: what an image is encoded as, where it came from, how its prompt was made, and where a
//! generation is. Plain data with their names on the wire; no I/O.

pub mod format;
pub mod kind;
pub mod stage;
pub mod translation;
