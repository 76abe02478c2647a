//! Derivatives in SQLite; the foreign key to `images` refuses a derivative of a deleted image.

use std::str::FromStr;

use super::SqliteCatalog;
use crate::domain::format::ImageFormat;
use crate::server::storage::rows::{
    db_bytes, DerivativeRow, DerivativeWithOptions, DERIVATIVE_COLUMNS,
};
use crate::server::storage::{CatalogError, DerivativeRecord, Derivatives, Orphan};

#[async_trait::async_trait]
impl Derivatives for SqliteCatalog {
    async fn derivative(&self, key: &str) -> Result<Option<DerivativeRecord>, CatalogError> {
        sqlx::query_as::<_, DerivativeRow>(&format!(
            "SELECT {DERIVATIVE_COLUMNS} FROM derivatives WHERE key = ?"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .map(DerivativeRecord::try_from)
        .transpose()
    }

    async fn insert_derivative(
        &self,
        record: &DerivativeRecord,
        options: &str,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO derivatives (key, image_id, options, format, width, height, bytes, content_hash, created_at, served_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?9, ?9) ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes, content_hash = excluded.content_hash, served_at = excluded.served_at",
        )
        .bind(&record.key)
        .bind(&record.image_id)
        .bind(options)
        .bind(record.format.as_str())
        .bind(i64::from(record.width))
        .bind(i64::from(record.height))
        .bind(db_bytes(record.bytes))
        .bind(record.content_hash.as_deref())
        .bind(crate::server::clock::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn derivatives_of(
        &self,
        image_id: &str,
    ) -> Result<Vec<(DerivativeRecord, String)>, CatalogError> {
        sqlx::query_as::<_, DerivativeWithOptions>(&format!(
            "SELECT {DERIVATIVE_COLUMNS}, options FROM derivatives WHERE image_id = ? ORDER BY key"
        ))
        .bind(image_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|found| Ok((DerivativeRecord::try_from(found.row)?, found.options)))
        .collect()
    }

    async fn touch_derivatives(&self, keys: &[String], at: i64) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for key in keys {
            sqlx::query("UPDATE derivatives SET served_at = ? WHERE key = ? AND served_at < ?")
                .bind(at)
                .bind(key)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn derivative_bytes(&self) -> Result<u64, CatalogError> {
        let total: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(bytes), 0) FROM derivatives")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    async fn evict_derivatives(&self, keep: u64) -> Result<Vec<Orphan>, CatalogError> {
        const BATCH: i64 = 256;
        let mut evicted = Vec::new();
        let mut total = self.derivative_bytes().await?;
        while total > keep {
            let oldest: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT key, format, bytes FROM derivatives ORDER BY served_at, key LIMIT ?",
            )
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await?;
            if oldest.is_empty() {
                break;
            }
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            for (key, format, bytes) in oldest {
                if total <= keep {
                    break;
                }
                sqlx::query("DELETE FROM derivatives WHERE key = ?")
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
                total = total.saturating_sub(u64::try_from(bytes).unwrap_or(0));
                if let Ok(format) = ImageFormat::from_str(&format) {
                    evicted.push(Orphan::Derivative { key, format });
                }
            }
            tx.commit().await?;
        }
        Ok(evicted)
    }
}
