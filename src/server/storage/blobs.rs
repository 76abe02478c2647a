//! Image bytes through `object_store`: the local filesystem by default.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::domain::format::ImageFormat;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("`storage.data_dir`: cannot create the blob directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("blob {0} does not exist")]
    NotFound(String),
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
}

impl BlobStore {
    /// A store rooted at `dir`, created if missing. `LocalFileSystem` writes each object to a temporary
    /// file and renames it into place, so a reader never sees a partial blob.
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(|source| BlobError::CreateDir {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(Self::new(Arc::new(LocalFileSystem::new_with_prefix(dir)?)))
    }

    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.store
            .put(&ObjectPath::from(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound(key.to_owned())),
            Err(err) => Err(err.into()),
        }
    }

    /// Removes an object; one that is already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Reachability: lists the root without reading any object.
    pub async fn check(&self) -> Result<(), BlobError> {
        self.store.list_with_delimiter(None).await?;
        Ok(())
    }
}

/// Where an original lives: by content, fanned out over 256 directories.
pub fn original_key(content_hash: &str, format: ImageFormat) -> String {
    let fan = content_hash.get(..2).unwrap_or("00");
    format!("originals/{fan}/{content_hash}.{}", format.extension())
}

/// Where a derivative lives, by its key (itself a hash of what it was made from).
pub fn derivative_key(key: &str, format: ImageFormat) -> String {
    let fan = key.get(..2).unwrap_or("00");
    format!("derived/{fan}/{key}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
        blobs.check().await.unwrap();
        let key = original_key("abcdef", ImageFormat::Png);
        assert_eq!(key, "originals/ab/abcdef.png");
        blobs.put(&key, Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(blobs.get(&key).await.unwrap(), Bytes::from_static(b"hello"));
        assert!(dir.path().join("blobs/originals/ab/abcdef.png").is_file());
        assert!(matches!(
            blobs.get("originals/zz/nope.png").await,
            Err(BlobError::NotFound(_))
        ));
    }
}
