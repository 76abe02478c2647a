//! Images (and the usage counts budgets read from them) in SQLite.

use std::str::FromStr;

use super::SqliteCatalog;
use crate::domain::format::ImageFormat;
use crate::server::storage::rows::{db_bytes, ImageRow as Row, IMAGE_COLUMNS as COLUMNS};
use crate::server::storage::{CatalogError, ImageRecord, Images, Orphan, PageQuery, Usage};

impl SqliteCatalog {
    async fn fetch_optional(
        &self,
        sql: &str,
        arg: &str,
    ) -> Result<Option<ImageRecord>, CatalogError> {
        sqlx::query_as::<_, Row>(sql)
            .bind(arg)
            .fetch_optional(&self.pool)
            .await?
            .map(ImageRecord::try_from)
            .transpose()
    }

    async fn record(
        &self,
        record: &ImageRecord,
        retire: bool,
    ) -> Result<ImageRecord, CatalogError> {
        // IMMEDIATE: the write lock first, waiting its turn. A deferred transaction whose insert fires
        // the search index's triggers could fail at once with SQLITE_BUSY when another insert
        // committed meanwhile (seen with two images of one request recorded together).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if retire {
            sqlx::query("UPDATE images SET gen_key = gen_key || '~' || id WHERE gen_key = ?")
                .bind(&record.gen_key)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO images (id, gen_key, prompt, final_prompt, negative_prompt, model, provider, seed, \
             steps, width, height, format, bytes, content_hash, created_at, translation, translation_note, \
             kind, source_id, mask_id, strength) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gen_key) DO NOTHING",
        )
        .bind(&record.id)
        .bind(&record.gen_key)
        .bind(&record.prompt)
        .bind(&record.final_prompt)
        .bind(&record.negative_prompt)
        .bind(&record.model)
        .bind(&record.provider)
        .bind(i64::from(record.seed))
        .bind(record.steps.map(i64::from))
        .bind(i64::from(record.width))
        .bind(i64::from(record.height))
        .bind(record.format.as_str())
        .bind(db_bytes(record.bytes))
        .bind(&record.content_hash)
        .bind(record.created_at)
        .bind(record.translation.as_str())
        .bind(&record.translation_note)
        .bind(record.kind.as_str())
        .bind(&record.source_id)
        .bind(&record.mask_id)
        .bind(record.strength.map(i64::from))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.by_gen_key(&record.gen_key)
            .await?
            .ok_or_else(|| CatalogError::Corrupt {
                id: record.id.clone(),
                reason: "row vanished right after insert".into(),
            })
    }
}

#[async_trait::async_trait]
impl Images for SqliteCatalog {
    async fn by_id(&self, id: &str) -> Result<Option<ImageRecord>, CatalogError> {
        self.fetch_optional(&format!("SELECT {COLUMNS} FROM images WHERE id = ?"), id)
            .await
    }

    async fn by_gen_key(&self, gen_key: &str) -> Result<Option<ImageRecord>, CatalogError> {
        self.fetch_optional(
            &format!("SELECT {COLUMNS} FROM images WHERE gen_key = ?"),
            gen_key,
        )
        .await
    }

    async fn insert(&self, record: &ImageRecord) -> Result<ImageRecord, CatalogError> {
        self.record(record, false).await
    }

    async fn replace(&self, record: &ImageRecord) -> Result<ImageRecord, CatalogError> {
        self.record(record, true).await
    }

    async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, CatalogError> {
        self.search_page(query).await
    }

    async fn delete(&self, id: &str) -> Result<Option<Vec<Orphan>>, CatalogError> {
        // IMMEDIATE: this transaction reads, then writes. Started deferred, a write committed by another
        // connection in between (a derivative being recorded) fails the upgrade with SQLITE_BUSY at once,
        // without the busy timeout; taking the write lock first makes it wait its turn instead.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(record) =
            sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS} FROM images WHERE id = ?"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(ImageRecord::try_from)
                .transpose()?
        else {
            return Ok(None);
        };
        let derivatives: Vec<(String, String)> =
            sqlx::query_as("SELECT key, format FROM derivatives WHERE image_id = ?")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM images WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let shared: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM images WHERE content_hash = ?")
            .bind(&record.content_hash)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut orphans = Vec::new();
        if shared == 0 {
            orphans.push(Orphan::Original {
                content_hash: record.content_hash,
                format: record.format,
            });
            for (key, format) in derivatives {
                if let Ok(format) = ImageFormat::from_str(&format) {
                    orphans.push(Orphan::Derivative { key, format });
                }
            }
        }
        Ok(Some(orphans))
    }

    async fn edits_of(
        &self,
        source_id: &str,
        limit: u32,
    ) -> Result<Vec<ImageRecord>, CatalogError> {
        sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM images WHERE source_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(source_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ImageRecord::try_from)
        .collect()
    }

    async fn content_in_use(&self, content_hash: &str) -> Result<bool, CatalogError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE content_hash = ?)")
                .bind(content_hash)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[async_trait::async_trait]
impl Usage for SqliteCatalog {
    async fn count_since(&self, provider: &str, since_ms: i64) -> Result<u32, CatalogError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM images WHERE provider = ? AND created_at >= ?",
        )
        .bind(provider)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }
}
