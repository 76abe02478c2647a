//! What the engine answers a request with: an original ([`Generated`]) or a derivative
//! ([`Derived`]), each saying whether it was stored already or made for this request
//! ([`CacheStatus`]).

use bytes::Bytes;

use crate::domain::format::ImageFormat;
use crate::server::storage::ImageRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub record: ImageRecord,
    /// The original, when this request has it in hand (it was just made or uploaded). A stored
    /// image's is not read until something needs it (`Engine::original_of`): a placeholder URL asked
    /// for again is answered from its stored derivative.
    pub bytes: Option<Bytes>,
    pub cache: CacheStatus,
}

/// A transformed image, ready to send.
#[derive(Debug, Clone)]
pub struct Derived {
    pub bytes: Bytes,
    pub format: ImageFormat,
    /// Quoted strong validator, computable before any work (see `derive::etag`).
    pub etag: String,
    /// Whether it was stored already (by any instance) or made for this request.
    pub cache: CacheStatus,
    /// The stored derivative's key; `None` when the original is the answer.
    pub stored_key: Option<String>,
}
