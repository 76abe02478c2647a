//! The two storage seams: blobs (bytes, content-addressed) and the catalog (what each image is).
//!
//! Invariant: a catalog row is written only after its blob, so every row points at a blob that exists.

pub mod blobs;
pub mod catalog;

pub use blobs::{BlobError, BlobStore};
pub use catalog::{Catalog, CatalogError, DerivativeRecord, ImageRecord, PageQuery};
