//! Reading what is stored: an image's row (from memory when it was read lately), its original's
//! bytes checked against the row, and pages of the catalog.

use bytes::Bytes;

use super::answers::Generated;
use super::errors::EngineError;
use super::{Engine, Inner};
use crate::server::storage::{ImageRecord, PageQuery};

impl Engine {
    /// A stored image's record, without reading its bytes.
    pub async fn record(&self, id: &str) -> Result<Option<ImageRecord>, EngineError> {
        self.inner.record_by_id(id).await
    }

    /// A stored original and its bytes.
    pub async fn original(&self, id: &str) -> Result<Option<(ImageRecord, Bytes)>, EngineError> {
        let Some(record) = self.inner.record_by_id(id).await? else {
            return Ok(None);
        };
        let bytes = self.original_bytes(&record).await?;
        Ok(Some((record, bytes)))
    }

    /// The bytes of the original `record` describes, checked against it.
    pub async fn original_bytes(&self, record: &ImageRecord) -> Result<Bytes, EngineError> {
        self.inner.original_bytes(record).await
    }

    /// A generation's original: the bytes in hand, else read and checked against its row.
    pub async fn original_of(&self, generated: &Generated) -> Result<Bytes, EngineError> {
        match &generated.bytes {
            Some(bytes) => Ok(bytes.clone()),
            None => self.inner.original_bytes(&generated.record).await,
        }
    }

    /// A filtered page of the catalog, newest first.
    pub async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.page(query).await?)
    }

    /// The newest `limit` images edited from image `id`.
    pub async fn edits_of(&self, id: &str, limit: u32) -> Result<Vec<ImageRecord>, EngineError> {
        Ok(self.inner.catalog.edits_of(id, limit).await?)
    }
}

impl Inner {
    /// Image `id`'s row: from memory when it was read lately (rows of deleted images are dropped
    /// there), else from the catalog.
    pub(super) async fn record_by_id(&self, id: &str) -> Result<Option<ImageRecord>, EngineError> {
        if let Some(kept) = self.memory.record(id) {
            return Ok(Some((*kept).clone()));
        }
        let record = self.catalog.by_id(id).await?;
        if let Some(record) = &record {
            self.memory.keep_record(record);
        }
        Ok(record)
    }

    /// A stored image's original, checked against its row. A missing (or torn) blob is an internal
    /// fault, unless the image was deleted since its row was read: then the request simply came too
    /// late.
    pub(super) async fn original_bytes(&self, record: &ImageRecord) -> Result<Bytes, EngineError> {
        let key = record.blob_key();
        let read = self
            .blobs
            .get_verified(&key, Some(&record.content_hash), record.bytes)
            .await;
        match read {
            Ok(bytes) => Ok(bytes),
            Err(err) => match self.catalog.by_id(&record.id).await? {
                None => Err(EngineError::Gone(format!(
                    "image {} was deleted",
                    record.id
                ))),
                Some(_) => {
                    tracing::error!(id = %record.id, error = %err, "a stored image's blob is missing or torn; not serving it");
                    Err(err.into())
                }
            },
        }
    }
}
