//! Deletes, and the put-back that keeps them safe beside inserts: a delete removes the rows first and
//! then the blobs nothing else needs ([`Engine::delete`], [`Inner::remove_orphan`], also what eviction
//! removes), and every insert checks its blob is still there ([`Inner::ensure_blob`]). Blobs are
//! content-addressed, so either order of a delete and an identical insert leaves each row its blob
//! (`delete_race.rs` races both).

use bytes::Bytes;

use super::errors::EngineError;
use super::{Engine, Inner};
use crate::server::storage::{BlobError, ImageNews, Orphan};

impl Engine {
    /// Deletes an image: its row and derivatives' rows first, then the blobs nothing else needs.
    /// Returns whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, EngineError> {
        let Some(orphans) = self.inner.catalog.delete(id).await? else {
            return Ok(false);
        };
        self.inner.announce(ImageNews::Deleted(id.to_owned())).await;
        for orphan in orphans {
            // The row is gone, so the image is gone; a blob left behind is only wasted space.
            if let Err(err) = self.inner.remove_orphan(&orphan).await {
                tracing::warn!(key = %orphan.blob_key(), error = %err, "could not remove a deleted image's blob");
            }
        }
        Ok(true)
    }
}

impl Inner {
    /// Removes a blob a delete orphaned. Blobs are content-addressed, so an identical image (or
    /// derivative) may be recorded between the delete's commit and the unlink; the bytes are kept in
    /// hand and put back if a row needs them once the blob is gone. Together with
    /// [`Inner::ensure_blob`] after every insert, neither order of the two leaves a row without its
    /// blob.
    pub(super) async fn remove_orphan(&self, orphan: &Orphan) -> Result<(), EngineError> {
        let key = orphan.blob_key();
        let bytes = match self.blobs.get(&key).await {
            Ok(bytes) => bytes,
            Err(BlobError::NotFound(_)) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        self.blobs.delete(&key).await?;
        let needed = match orphan {
            Orphan::Original { content_hash, .. } => {
                self.catalog.content_in_use(content_hash).await?
            }
            Orphan::Derivative { key, .. } => self.catalog.derivative(key).await?.is_some(),
        };
        if needed {
            tracing::info!(key = %key, "a blob deleted with one image is needed by another; put back");
            self.blobs.put(&key, bytes).await?;
        }
        Ok(())
    }

    /// After a row is inserted: its blob is there, or is put again (a delete of an identical image
    /// may have removed it between this request's put and its insert).
    pub(super) async fn ensure_blob(&self, key: &str, bytes: &Bytes) -> Result<(), EngineError> {
        if !self.blobs.exists(key).await? {
            tracing::info!(key = %key, "a blob was removed by a delete while its row was recorded; put back");
            self.blobs.put(key, bytes.clone()).await?;
        }
        Ok(())
    }
}
