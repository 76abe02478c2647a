//! `[storage]`: where the catalog and the blobs live, and how much of them is kept in memory or on disk.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, invalid};
use super::ConfigError;
use crate::server::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Holds the catalog (`pixzoo.db`) and the blobs (`blobs/`) unless the URLs below say otherwise.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`; empty: SQLite at `data_dir/pixzoo.db`.
    /// `DATABASE_URL` overrides it. A secret: it may hold a password.
    pub catalog_url: Secret,
    /// `file://PATH` or `s3://BUCKET/PREFIX` (endpoint and keys from the `AWS_*` variables); empty:
    /// `data_dir/blobs`.
    pub blobs_url: String,
    /// Bytes of stored images and derivatives kept in memory for the next request; 0 = none.
    pub memory_cache_bytes: u64,
    /// With a shared catalog: seconds after which work claimed by an instance that stopped answering
    /// (its heartbeat stopped) is taken over by another.
    pub claim_expiry_secs: u64,
    /// Bytes the stored derivatives may take on disk; beyond it the least recently served are removed
    /// (they are made again when asked for). 0 = no limit.
    pub derivatives_max_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            catalog_url: Secret::default(),
            blobs_url: String::new(),
            memory_cache_bytes: 256 * 1024 * 1024,
            claim_expiry_secs: 10,
            derivatives_max_bytes: 4 * 1024 * 1024 * 1024,
        }
    }
}

/// Where the catalog is.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogLocation {
    Sqlite(PathBuf),
    /// The whole URL, credentials included: never printed.
    Postgres(Secret),
}

/// Where the blobs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    Local(PathBuf),
    /// A bucket on S3 or an S3-compatible server, with keys under `prefix` (empty, or without slashes
    /// at either end).
    S3 {
        bucket: String,
        prefix: String,
    },
}

impl StorageConfig {
    /// The SQLite file used when `catalog_url` is empty.
    pub fn catalog_path(&self) -> PathBuf {
        self.data_dir.join("pixzoo.db")
    }

    /// The directory used when `blobs_url` is empty.
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    /// The catalog `catalog_url` names. Errors never quote the URL, which may hold a password.
    pub fn catalog(&self) -> Result<CatalogLocation, String> {
        let url = self.catalog_url.expose().trim();
        if url.is_empty() {
            return Ok(CatalogLocation::Sqlite(self.catalog_path()));
        }
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err("is not a URL: use sqlite://PATH or postgres://…".into());
        };
        match scheme {
            "sqlite" => {
                // sqlx's spellings: sqlite://relative/path, sqlite:///absolute/path, sqlite:path.
                let path = rest.strip_prefix("//").unwrap_or(rest);
                let path = path.split_once('?').map_or(path, |(path, _)| path);
                if path.is_empty() {
                    return Err("names no SQLite file: use sqlite://PATH".into());
                }
                Ok(CatalogLocation::Sqlite(PathBuf::from(path)))
            }
            "postgres" | "postgresql" => {
                if !rest.starts_with("//") {
                    return Err("is not a PostgreSQL URL: use postgres://USER@HOST:PORT/DB".into());
                }
                Ok(CatalogLocation::Postgres(Secret::new(url)))
            }
            other => Err(format!(
                "has the scheme `{other}`: use sqlite://PATH or postgres://…"
            )),
        }
    }

    /// The blob store `blobs_url` names.
    pub fn blobs(&self) -> Result<BlobLocation, String> {
        let url = self.blobs_url.trim();
        if url.is_empty() {
            return Ok(BlobLocation::Local(self.blob_dir()));
        }
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err("names no directory: use file://PATH".into());
            }
            return Ok(BlobLocation::Local(PathBuf::from(path)));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("`{url}` names no bucket: use s3://BUCKET/PREFIX"));
            }
            return Ok(BlobLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        Err(format!("`{url}` is not file://PATH or s3://BUCKET/PREFIX"))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return invalid("storage.data_dir", "must not be empty");
        }
        at_least_one("storage.claim_expiry_secs", self.claim_expiry_secs)?;
        if let Err(reason) = self.catalog() {
            return invalid("storage.catalog_url", reason);
        }
        if let Err(reason) = self.blobs() {
            return invalid("storage.blobs_url", reason);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(catalog: &str, blobs: &str) -> StorageConfig {
        StorageConfig {
            catalog_url: Secret::new(catalog),
            blobs_url: blobs.into(),
            ..StorageConfig::default()
        }
    }

    #[test]
    fn empty_urls_mean_the_data_directory() {
        let config = with("", "");
        assert_eq!(
            config.catalog(),
            Ok(CatalogLocation::Sqlite("data/pixzoo.db".into()))
        );
        assert_eq!(config.blobs(), Ok(BlobLocation::Local("data/blobs".into())));
    }

    #[test]
    fn urls_name_each_backend() {
        let config = with("sqlite:///var/lib/pixzoo/catalog.db", "file:///srv/blobs");
        assert_eq!(
            config.catalog(),
            Ok(CatalogLocation::Sqlite("/var/lib/pixzoo/catalog.db".into()))
        );
        assert_eq!(config.blobs(), Ok(BlobLocation::Local("/srv/blobs".into())));
        assert_eq!(
            with("sqlite:rel.db?mode=rwc", "").catalog(),
            Ok(CatalogLocation::Sqlite("rel.db".into()))
        );
        let pg = "postgres://pixzoo:hunter2@db:5432/pixzoo";
        assert_eq!(
            with(pg, "").catalog(),
            Ok(CatalogLocation::Postgres(Secret::new(pg)))
        );
        assert_eq!(
            with("", "s3://images/pixzoo/prod/").blobs(),
            Ok(BlobLocation::S3 {
                bucket: "images".into(),
                prefix: "pixzoo/prod".into()
            })
        );
        assert_eq!(
            with("", "s3://images").blobs(),
            Ok(BlobLocation::S3 {
                bucket: "images".into(),
                prefix: String::new()
            })
        );
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_a_password() {
        let err = with("mysql://root:hunter2@db/pixzoo", "")
            .catalog()
            .unwrap_err();
        assert!(err.contains("`mysql`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = with("postgres:hunter2", "").catalog().unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(with("", "s3:///prefix").blobs().is_err());
        assert!(with("", "gs://bucket").blobs().is_err());
        assert!(with("", "file://").blobs().is_err());
    }
}
