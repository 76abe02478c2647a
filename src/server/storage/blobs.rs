//! Image bytes through `object_store`: the local filesystem by default, or S3 and its kin.
//!
//! A put is durable before it returns: the catalog (`synchronous = FULL`) writes a row only after
//! its blob, and after a power loss a durable row must not point at a blob still in the page cache.
//! `object_store`'s local store writes a temporary file and renames it, but syncs neither the file nor
//! the directories, so [`BlobStore::put`] does that itself (an S3 put is durable when it answers).
//! Reads are checked against the row's hash by [`verified`]: a blob that does not match is missing. A
//! local file is hashed again only when it changed since its hash last matched ([`Stamp`]).

use std::path::{Path, PathBuf};
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
    #[error("blob {key} does not match its catalog row: {reason}")]
    Mismatch { key: String, reason: String },
    #[error("blob {key} could not be made durable: {source}")]
    Sync { key: String, source: std::io::Error },
    #[error("blob {key} could not be read: {source}")]
    Read { key: String, source: std::io::Error },
    #[error("`storage.blobs_url` {0}")]
    Location(String),
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// The directory a local store writes under, whose files and directories a put syncs.
    local_root: Option<PathBuf>,
    /// Local files whose hash matched their row, as they were then.
    checked: moka::sync::Cache<String, Stamp>,
}

/// A local file as its metadata describes it. Blobs are written once and renamed into place, so a file
/// with the same inode, length and change times as when its hash matched holds the same bytes, and is
/// not hashed again (most of a cold hit's CPU time otherwise); a file written in any way since is. (The
/// status change time cannot be set back, as the modification time can.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
    changed: (i64, i64),
}

impl Stamp {
    #[cfg(target_os = "linux")]
    fn of(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// Files remembered as checked: a stamp and its key are about a hundred bytes.
const CHECKED_FILES: u64 = 100_000;

impl BlobStore {
    /// A store rooted at `dir`, created if missing. `LocalFileSystem` writes each object to a temporary
    /// file and renames it into place, so a reader never sees a partial blob.
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(|source| BlobError::CreateDir {
            path: dir.display().to_string(),
            source,
        })?;
        let mut blobs = Self::new(Arc::new(LocalFileSystem::new_with_prefix(dir)?));
        blobs.local_root = Some(dir.to_owned());
        Ok(blobs)
    }

    /// `bucket` on S3 or an S3-compatible server, keys under `prefix`. Endpoint, keys and region come
    /// from the standard `AWS_*` variables; with an endpoint, requests are path-style
    /// (`{endpoint}/{bucket}/{key}`), which every S3-compatible server understands. A put replaces an
    /// object whole (S3 puts are atomic), and keys are content-addressed, so a put of a key that
    /// exists writes the same bytes again and is not an error.
    pub fn s3(bucket: &str, prefix: &str) -> Result<Self, BlobError> {
        use object_store::aws::AmazonS3Builder;
        // The region defaults to us-east-1, which S3-compatible servers accept.
        let builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false);
        let store: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
        Ok(Self::new(if prefix.is_empty() {
            store
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        }))
    }

    /// A store whose puts are durable when they return (S3 and its kin).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            local_root: None,
            checked: moka::sync::Cache::new(CHECKED_FILES),
        }
    }

    /// Stores `bytes` under `key`, durably: on a local disk the file and every directory up to the
    /// store's root are synced before this returns. A file that a concurrent delete removed before it
    /// was synced is written again.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.store
                .put(
                    &ObjectPath::from(key),
                    PutPayload::from_bytes(bytes.clone()),
                )
                .await?;
            let Some(root) = &self.local_root else {
                return Ok(());
            };
            let (root, file) = (root.clone(), root.join(key));
            let synced = tokio::task::spawn_blocking(move || sync_up_to(&root, &file))
                .await
                .map_err(|err| std::io::Error::other(err.to_string()))
                .and_then(|synced| synced);
            match synced {
                Ok(()) => return Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound && attempts < 3 => {}
                Err(source) => {
                    return Err(BlobError::Sync {
                        key: key.to_owned(),
                        source,
                    })
                }
            }
        }
    }

    /// The blob under `key` if it can be had without waiting: a local file of `len` bytes, small
    /// enough to check here, wholly in the page cache ([`read_if_cached`]), and what its row says
    /// ([`verified`]). `None` when it cannot be had so; [`BlobStore::get_verified`] then reads it.
    pub fn get_if_cached(
        &self,
        key: &str,
        content_hash: Option<&str>,
        len: u64,
    ) -> Option<Result<Bytes, BlobError>> {
        let root = self.local_root.as_ref()?;
        if len >= HASH_INLINE_BELOW as u64 {
            return None;
        }
        let (bytes, stamp) = read_if_cached(&root.join(key), len)?;
        // `read_if_cached` read exactly `len` bytes, so only the hash is left to check.
        if content_hash.is_some() && self.checked.get(key) == Some(stamp) {
            return Some(Ok(bytes));
        }
        Some(verified(key, bytes, content_hash, len).inspect(|_| {
            self.checked.insert(key.to_owned(), stamp);
        }))
    }

    /// The blob under `key` if it is what its row says ([`verified`]); hashing a large blob runs off
    /// the async workers.
    pub async fn get_verified(
        &self,
        key: &str,
        content_hash: Option<&str>,
        len: u64,
    ) -> Result<Bytes, BlobError> {
        if let Some(read) = self.get_if_cached(key, content_hash, len) {
            return read;
        }
        if let Some(root) = &self.local_root {
            // One blocking task reads and checks: object_store's local `get` takes two hops to the
            // blocking pool before the bytes are in hand, most of a cold hit's time when measured.
            // Keys are made by the engine (hex digests and an extension), never taken from a URL.
            let (path, key, hash) = (
                root.join(key),
                key.to_owned(),
                content_hash.map(str::to_owned),
            );
            return tokio::task::spawn_blocking(move || {
                let bytes = match std::fs::read(&path) {
                    Ok(bytes) => Bytes::from(bytes),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        return Err(BlobError::NotFound(key));
                    }
                    Err(source) => return Err(BlobError::Read { key, source }),
                };
                verified(&key, bytes, hash.as_deref(), len)
            })
            .await
            .map_err(|err| BlobError::Store(object_store::Error::JoinError { source: err }))?;
        }
        let bytes = self.get(key).await?;
        if bytes.len() < HASH_INLINE_BELOW || content_hash.is_none() {
            return verified(key, bytes, content_hash, len);
        }
        let (key, hash) = (key.to_owned(), content_hash.map(str::to_owned));
        tokio::task::spawn_blocking(move || verified(&key, bytes, hash.as_deref(), len))
            .await
            .map_err(|err| BlobError::Store(object_store::Error::JoinError { source: err }))?
    }

    /// Whether `key` exists, without reading it.
    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
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

/// fsync of `file`, then of each directory from its own up to `root`, so that the file's data and the
/// names leading to it (a fan-out directory may be new) survive a power loss.
fn sync_up_to(root: &Path, file: &Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_all()?;
    let mut dir = file.parent();
    while let Some(current) = dir {
        std::fs::File::open(current)?.sync_all()?;
        if current == root || !current.starts_with(root) {
            break;
        }
        dir = current.parent();
    }
    Ok(())
}

/// Blobs below this are checked on the async worker that reads them; larger ones are hashed off it.
const HASH_INLINE_BELOW: usize = 256 * 1024;

/// `bytes` read from `key` if they are what the row says: the SHA-256 `content_hash` when the row
/// has one, else at least the length. Anything else (a blob torn by a crash, a disk error) is
/// [`BlobError::Mismatch`], and never served.
/// The whole of a local blob of `len` bytes, read on the calling thread, if the page cache holds all
/// of it (`RWF_NOWAIT`: the kernel answers `EAGAIN` rather than wait for the disk). A cold hit then costs
/// a few system calls instead of two hand-offs between threads (to the blocking pool and back), which
/// were most of its time. `None` sends the read to the blocking pool: a file not wholly cached, of
/// another length, or missing (the pool's read says which).
#[cfg(target_os = "linux")]
fn read_if_cached(path: &Path, len: u64) -> Option<(Bytes, Stamp)> {
    use rustix::io::{preadv2, ReadWriteFlags};
    let file = std::fs::File::open(path).ok()?;
    let stamp = Stamp::of(&file.metadata().ok()?);
    if stamp.len != len {
        return None;
    }
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    let mut read = 0;
    while read < buf.len() {
        let slice = &mut [std::io::IoSliceMut::new(&mut buf[read..])];
        match preadv2(&file, slice, read as u64, ReadWriteFlags::NOWAIT) {
            Ok(n) if n > 0 => read += n,
            _ => return None,
        }
    }
    Some((Bytes::from(buf), stamp))
}

#[cfg(not(target_os = "linux"))]
fn read_if_cached(_: &Path, _: u64) -> Option<(Bytes, Stamp)> {
    None
}

pub fn verified(
    key: &str,
    bytes: Bytes,
    content_hash: Option<&str>,
    len: u64,
) -> Result<Bytes, BlobError> {
    let mismatch = |reason: String| BlobError::Mismatch {
        key: key.to_owned(),
        reason,
    };
    if bytes.len() as u64 != len {
        return Err(mismatch(format!(
            "{} bytes, the row says {len}",
            bytes.len()
        )));
    }
    if let Some(expected) = content_hash {
        let actual = self::content_hash(&bytes);
        if actual != expected {
            return Err(mismatch(format!("its SHA-256 is {actual}")));
        }
    }
    Ok(bytes)
}

/// A blob's content address: the hex SHA-256 of its bytes. CPU work on large blobs, so callers run it
/// on the CPU pool beside the work that made the bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
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

    /// What every store must do: keep bytes under a key, say what is missing, replace a put of the same
    /// key (content-addressed keys are written again after a torn blob), and delete idempotently.
    async fn keeps_what_it_is_given(blobs: &BlobStore) {
        use sha2::{Digest, Sha256};
        blobs.check().await.unwrap();
        let key = original_key("abcdef", ImageFormat::Png);
        assert_eq!(key, "originals/ab/abcdef.png");
        blobs.put(&key, Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(blobs.get(&key).await.unwrap(), Bytes::from_static(b"hello"));
        assert!(matches!(
            blobs.get("originals/zz/nope.png").await,
            Err(BlobError::NotFound(_))
        ));
        assert!(blobs.exists(&key).await.unwrap());
        assert!(!blobs.exists("originals/zz/nope.png").await.unwrap());
        blobs.put(&key, Bytes::from_static(b"hello")).await.unwrap();
        let big = Bytes::from(vec![7u8; 600 * 1024]);
        let hash = hex::encode(Sha256::digest(&big));
        blobs.put(&key, big.clone()).await.unwrap();
        assert_eq!(
            blobs
                .get_verified(&key, Some(&hash), big.len() as u64)
                .await
                .unwrap(),
            big
        );
        assert!(matches!(
            blobs.get_verified(&key, Some(&hash), 5).await,
            Err(BlobError::Mismatch { .. })
        ));
        blobs.delete(&key).await.unwrap();
        blobs.delete(&key).await.unwrap();
        assert!(matches!(
            blobs.get_verified(&key, Some(&hash), 5).await,
            Err(BlobError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_local_store_keeps_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
        keeps_what_it_is_given(&blobs).await;
        blobs
            .put("originals/ab/x.png", Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(dir.path().join("blobs/originals/ab/x.png").is_file());
    }

    #[tokio::test]
    async fn an_s3_store_keeps_what_it_is_given() {
        keeps_what_it_is_given(&crate::server::storage::testing::s3_blobs()).await;
    }

    #[tokio::test]
    async fn an_unreachable_s3_store_is_an_error_not_a_hang() {
        let blobs = BlobStore::new(Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_bucket_name("b")
                .with_endpoint("http://127.0.0.1:9")
                .with_allow_http(true)
                .with_access_key_id("k")
                .with_secret_access_key("s")
                .with_retry(object_store::RetryConfig {
                    max_retries: 0,
                    ..Default::default()
                })
                .build()
                .unwrap(),
        ));
        assert!(matches!(
            blobs.get("originals/ab/abcdef.png").await,
            Err(BlobError::Store(_))
        ));
    }

    #[test]
    fn only_bytes_that_match_their_row_are_served() {
        use sha2::{Digest, Sha256};
        let bytes = Bytes::from_static(b"a whole image");
        let hash = hex::encode(Sha256::digest(&bytes));
        assert_eq!(
            verified("k", bytes.clone(), Some(&hash), 13).unwrap(),
            bytes
        );
        assert_eq!(verified("k", bytes.clone(), None, 13).unwrap(), bytes);
        // Torn by a crash: empty, short, or the right length with other bytes.
        for (torn, len) in [(Bytes::new(), 13), (bytes.slice(..5), 13)] {
            assert!(matches!(
                verified("k", torn, Some(&hash), len),
                Err(BlobError::Mismatch { .. })
            ));
        }
        let other = Bytes::from_static(b"a whole imagE");
        assert!(matches!(
            verified("k", other, Some(&hash), 13),
            Err(BlobError::Mismatch { .. })
        ));
    }
}
