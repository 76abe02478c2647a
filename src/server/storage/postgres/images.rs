//! Images (and the usage counts budgets read from them) in PostgreSQL.

use std::str::FromStr;

use super::PgCatalog;
use crate::domain::format::ImageFormat;
use crate::server::storage::rows::{db_bytes, ImageRow, IMAGE_COLUMNS};
use crate::server::storage::{CatalogError, ImageRecord, Images, Orphan, PageQuery, Usage};

impl PgCatalog {
    async fn fetch_optional(
        &self,
        sql: &str,
        arg: &str,
    ) -> Result<Option<ImageRecord>, CatalogError> {
        sqlx::query_as::<_, ImageRow>(sql)
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
        let mut tx = self.pool.begin().await?;
        if retire {
            sqlx::query("UPDATE images SET gen_key = gen_key || '~' || id WHERE gen_key = $1")
                .bind(&record.gen_key)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO images (id, gen_key, prompt, final_prompt, negative_prompt, model, provider, seed, \
             steps, width, height, format, bytes, content_hash, created_at, translation, translation_note, \
             kind, source_id, mask_id, strength) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT (gen_key) DO NOTHING",
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
impl Images for PgCatalog {
    async fn by_id(&self, id: &str) -> Result<Option<ImageRecord>, CatalogError> {
        self.fetch_optional(
            &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = $1"),
            id,
        )
        .await
    }

    async fn by_gen_key(&self, gen_key: &str) -> Result<Option<ImageRecord>, CatalogError> {
        self.fetch_optional(
            &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE gen_key = $1"),
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

    /// One query: PostgreSQL answers ILIKE on either prompt from its trigram indexes (three
    /// characters or more), then sorts what they found.
    async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, CatalogError> {
        self.search_page(query).await
    }

    async fn delete(&self, id: &str) -> Result<Option<Vec<Orphan>>, CatalogError> {
        let mut tx = self.pool.begin().await?;
        // The row is locked until commit: a derivative being recorded for it waits, then fails its
        // foreign key, instead of outliving its image.
        let Some(record) = sqlx::query_as::<_, ImageRow>(&format!(
            "SELECT {IMAGE_COLUMNS} FROM images WHERE id = $1 FOR UPDATE"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(ImageRecord::try_from)
        .transpose()?
        else {
            return Ok(None);
        };
        let derivatives: Vec<(String, String)> =
            sqlx::query_as("SELECT key, format FROM derivatives WHERE image_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM images WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let shared: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE content_hash = $1)")
                .bind(&record.content_hash)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        let mut orphans = Vec::new();
        if !shared {
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
        sqlx::query_as::<_, ImageRow>(&format!(
            "SELECT {IMAGE_COLUMNS} FROM images WHERE source_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
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
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE content_hash = $1)")
                .bind(content_hash)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[async_trait::async_trait]
impl Usage for PgCatalog {
    async fn count_since(&self, provider: &str, since_ms: i64) -> Result<u32, CatalogError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM images WHERE provider = $1 AND created_at >= $2",
        )
        .bind(provider)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }
}
