//! Derivatives in SQLite; the foreign key to `images` refuses a derivative of a deleted image.

use std::str::FromStr;

use super::SqliteCatalog;
use crate::domain::format::ImageFormat;
use crate::server::storage::{CatalogError, DerivativeRecord, Derivatives};

#[async_trait::async_trait]
impl Derivatives for SqliteCatalog {
    async fn derivative(&self, key: &str) -> Result<Option<DerivativeRecord>, CatalogError> {
        type Row = (String, String, String, i64, i64, i64, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT key, image_id, format, width, height, bytes, content_hash FROM derivatives WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(
            |(key, image_id, format, width, height, bytes, content_hash)| {
                let corrupt = |reason: String| CatalogError::Corrupt {
                    id: key.clone(),
                    reason,
                };
                Ok(DerivativeRecord {
                    format: ImageFormat::from_str(&format).map_err(corrupt)?,
                    width: u32::try_from(width)
                        .map_err(|_| corrupt("width out of range".into()))?,
                    height: u32::try_from(height)
                        .map_err(|_| corrupt("height out of range".into()))?,
                    bytes: u64::try_from(bytes)
                        .map_err(|_| corrupt("bytes out of range".into()))?,
                    content_hash,
                    key,
                    image_id,
                })
            },
        )
        .transpose()
    }

    async fn insert_derivative(
        &self,
        record: &DerivativeRecord,
        options: &str,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO derivatives (key, image_id, options, format, width, height, bytes, content_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, content_hash = excluded.content_hash",
        )
        .bind(&record.key)
        .bind(&record.image_id)
        .bind(options)
        .bind(record.format.as_str())
        .bind(i64::from(record.width))
        .bind(i64::from(record.height))
        .bind(i64::try_from(record.bytes).unwrap_or(i64::MAX))
        .bind(record.content_hash.as_deref())
        .bind(crate::server::clock::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
