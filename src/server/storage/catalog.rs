//! The image catalog in SQLite through sqlx; the schema lives in `migrations/`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::api::format::ImageFormat;
use crate::server::prompt::Translation;
use crate::server::storage::blobs::original_key;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("catalog migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("catalog row {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
}

/// One stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: String,
    pub gen_key: String,
    pub prompt: String,
    pub final_prompt: String,
    pub negative_prompt: Option<String>,
    pub model: String,
    pub provider: String,
    pub seed: u32,
    pub steps: Option<u32>,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub bytes: u64,
    pub content_hash: String,
    /// Unix milliseconds, UTC.
    pub created_at: i64,
    pub translation: Translation,
    pub translation_note: Option<String>,
}

impl ImageRecord {
    pub fn blob_key(&self) -> String {
        original_key(&self.content_hash, self.format)
    }
}

/// The keyset cursor after `record`: its creation time and id, as `created_at.id`.
pub fn cursor_after(record: &ImageRecord) -> String {
    format!("{}.{}", record.created_at, record.id)
}

/// A cursor this server gave out, or `None`.
pub fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id)))
        .filter(|(_, id)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|(t, id)| (t, id.to_owned()))
}

/// What a page of the catalog is filtered by.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery<'a> {
    pub limit: u32,
    /// `(created_at, id)` of the last image of the previous page.
    pub after: Option<(i64, &'a str)>,
    pub search: Option<&'a str>,
    pub model: Option<&'a str>,
}

/// One stored derivative of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivativeRecord {
    pub key: String,
    pub image_id: String,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

impl DerivativeRecord {
    pub fn blob_key(&self) -> String {
        crate::server::storage::blobs::derivative_key(&self.key, self.format)
    }
}

/// The row as SQLite stores it (integers are i64 there).
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    gen_key: String,
    prompt: String,
    final_prompt: String,
    negative_prompt: Option<String>,
    model: String,
    provider: String,
    seed: i64,
    steps: Option<i64>,
    width: i64,
    height: i64,
    format: String,
    bytes: i64,
    content_hash: String,
    created_at: i64,
    translation: String,
    translation_note: Option<String>,
}

impl TryFrom<Row> for ImageRecord {
    type Error = CatalogError;

    fn try_from(row: Row) -> Result<Self, CatalogError> {
        let corrupt = |reason: String| CatalogError::Corrupt {
            id: row.id.clone(),
            reason,
        };
        let int = |name: &str, value: i64| {
            u32::try_from(value).map_err(|_| corrupt(format!("{name} {value} is out of range")))
        };
        Ok(ImageRecord {
            seed: int("seed", row.seed)?,
            steps: row.steps.map(|s| int("steps", s)).transpose()?,
            width: int("width", row.width)?,
            height: int("height", row.height)?,
            format: ImageFormat::from_str(&row.format).map_err(corrupt)?,
            translation: Translation::from_str(&row.translation).map_err(corrupt)?,
            translation_note: row.translation_note,
            bytes: u64::try_from(row.bytes).map_err(|_| corrupt("negative byte count".into()))?,
            id: row.id,
            gen_key: row.gen_key,
            prompt: row.prompt,
            final_prompt: row.final_prompt,
            negative_prompt: row.negative_prompt,
            model: row.model,
            provider: row.provider,
            content_hash: row.content_hash,
            created_at: row.created_at,
        })
    }
}

const COLUMNS: &str =
    "id, gen_key, prompt, final_prompt, negative_prompt, model, provider, seed, steps, \
                       width, height, format, bytes, content_hash, created_at, translation, translation_note";

#[derive(Clone, Debug)]
pub struct Catalog {
    pool: SqlitePool,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged image survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn by_gen_key(&self, gen_key: &str) -> Result<Option<ImageRecord>, CatalogError> {
        self.fetch_optional(
            &format!("SELECT {COLUMNS} FROM images WHERE gen_key = ?"),
            gen_key,
        )
        .await
    }

    pub async fn by_id(&self, id: &str) -> Result<Option<ImageRecord>, CatalogError> {
        self.fetch_optional(&format!("SELECT {COLUMNS} FROM images WHERE id = ?"), id)
            .await
    }

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

    /// Records an image whose blob is already stored. If another request recorded the same generation
    /// key first, that row wins and is returned.
    pub async fn insert(&self, record: &ImageRecord) -> Result<ImageRecord, CatalogError> {
        self.record(record, false).await
    }

    /// Records a regenerated image in place of the one stored for the same generation key. The old row
    /// keeps its id (its URL by id still works) under a retired key, in the same transaction.
    pub async fn replace(&self, record: &ImageRecord) -> Result<ImageRecord, CatalogError> {
        self.record(record, true).await
    }

    async fn record(
        &self,
        record: &ImageRecord,
        retire: bool,
    ) -> Result<ImageRecord, CatalogError> {
        let mut tx = self.pool.begin().await?;
        if retire {
            sqlx::query("UPDATE images SET gen_key = gen_key || '~' || id WHERE gen_key = ?")
                .bind(&record.gen_key)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO images (id, gen_key, prompt, final_prompt, negative_prompt, model, provider, seed, \
             steps, width, height, format, bytes, content_hash, created_at, translation, translation_note) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gen_key) DO NOTHING",
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
        .bind(i64::try_from(record.bytes).unwrap_or(i64::MAX))
        .bind(&record.content_hash)
        .bind(record.created_at)
        .bind(record.translation.as_str())
        .bind(&record.translation_note)
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

    /// A page of images, newest first, after `after` (keyset: `(created_at, id)` of the last image seen),
    /// optionally matching `search` in the prompt or final prompt, and one model.
    pub async fn page(&self, query: &PageQuery<'_>) -> Result<Vec<ImageRecord>, CatalogError> {
        let mut sql = format!("SELECT {COLUMNS} FROM images WHERE 1 = 1");
        if query.after.is_some() {
            sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        }
        if query.search.is_some() {
            sql.push_str(" AND (prompt LIKE ? ESCAPE '\\' OR final_prompt LIKE ? ESCAPE '\\')");
        }
        if query.model.is_some() {
            sql.push_str(" AND model = ?");
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        let mut q = sqlx::query_as::<_, Row>(&sql);
        if let Some((created_at, id)) = query.after {
            q = q.bind(created_at).bind(created_at).bind(id);
        }
        if let Some(search) = query.search {
            let escaped = search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = format!("%{escaped}%");
            q = q.bind(pattern.clone()).bind(pattern);
        }
        if let Some(model) = query.model {
            q = q.bind(model);
        }
        q.bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(ImageRecord::try_from)
            .collect()
    }

    /// Removes an image's row and its derivatives' rows; returns the blob keys no other image still
    /// needs (content-addressed blobs may be shared).
    pub async fn delete(&self, id: &str) -> Result<Option<Vec<String>>, CatalogError> {
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
            orphans.push(record.blob_key());
            for (key, format) in derivatives {
                if let Ok(format) = ImageFormat::from_str(&format) {
                    orphans.push(crate::server::storage::blobs::derivative_key(&key, format));
                }
            }
        }
        Ok(Some(orphans))
    }

    /// The newest images first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<ImageRecord>, CatalogError> {
        sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM images ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ImageRecord::try_from)
        .collect()
    }

    /// A stored derivative by its key.
    pub async fn derivative(&self, key: &str) -> Result<Option<DerivativeRecord>, CatalogError> {
        let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT key, image_id, format, width, height FROM derivatives WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(key, image_id, format, width, height)| {
            let corrupt = |reason: String| CatalogError::Corrupt {
                id: key.clone(),
                reason,
            };
            Ok(DerivativeRecord {
                format: ImageFormat::from_str(&format).map_err(corrupt)?,
                width: u32::try_from(width).map_err(|_| corrupt("width out of range".into()))?,
                height: u32::try_from(height).map_err(|_| corrupt("height out of range".into()))?,
                key,
                image_id,
            })
        })
        .transpose()
    }

    /// Records a derivative whose blob is already stored.
    pub async fn insert_derivative(
        &self,
        record: &DerivativeRecord,
        options: &str,
        bytes: u64,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO derivatives (key, image_id, options, format, width, height, bytes, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&record.key)
        .bind(&record.image_id)
        .bind(options)
        .bind(record.format.as_str())
        .bind(i64::from(record.width))
        .bind(i64::from(record.height))
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(crate::server::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An LLM's earlier answer for this prompt.
    pub async fn cached_prompt(
        &self,
        pipeline: &str,
        family: &str,
        prompt: &str,
    ) -> Result<Option<String>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT final_prompt FROM prompt_cache WHERE pipeline = ? AND family = ? AND prompt = ?",
        )
        .bind(pipeline)
        .bind(family)
        .bind(prompt)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Keeps the first answer: later ones for the same prompt would change what a URL means.
    pub async fn cache_prompt(
        &self,
        pipeline: &str,
        family: &str,
        prompt: &str,
        final_prompt: &str,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO prompt_cache (pipeline, family, prompt, final_prompt, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(pipeline)
        .bind(family)
        .bind(prompt)
        .bind(final_prompt)
        .bind(crate::server::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Images from `provider` recorded since `since_ms` (Unix milliseconds).
    pub async fn count_since(&self, provider: &str, since_ms: i64) -> Result<u32, CatalogError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM images WHERE provider = ? AND created_at >= ?",
        )
        .bind(provider)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Records a studio sign-in, and forgets the ones that have expired.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), CatalogError> {
        let now = crate::server::now_millis();
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO sessions (token_hash, created_at, expires_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether a sign-in exists and has not expired.
    pub async fn session_valid(&self, token_hash: &str) -> Result<bool, CatalogError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE token_hash = ? AND expires_at > ?")
                .bind(token_hash)
                .bind(crate::server::now_millis())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Checkpoints the WAL into the database (leaving it empty), then waits for open connections to
    /// finish and closes them. SQLite would checkpoint on the last close too, but connections closing
    /// at the same moment can each leave that to another.
    pub async fn close(&self) {
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %err, "could not checkpoint the catalog on close");
        }
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, gen_key: &str, created_at: i64) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            gen_key: gen_key.into(),
            prompt: "a sloth".into(),
            final_prompt: "a sloth".into(),
            negative_prompt: None,
            model: "builtin".into(),
            provider: "builtin".into(),
            seed: u32::MAX,
            steps: Some(4),
            width: 800,
            height: 600,
            format: ImageFormat::Png,
            bytes: 1234,
            content_hash: "ab".repeat(32),
            created_at,
            translation: Translation::Fallback,
            translation_note: Some("the LLM was down".into()),
        }
    }

    #[tokio::test]
    async fn insert_read_back_conflict_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let catalog = Catalog::open(&path).await.unwrap();
        catalog.ping().await.unwrap();

        let first = record("01", "key-a", 10);
        assert_eq!(catalog.insert(&first).await.unwrap(), first);
        let rival = record("02", "key-a", 11);
        assert_eq!(
            catalog.insert(&rival).await.unwrap(),
            first,
            "the first row for a key wins"
        );
        let second = record("03", "key-b", 20);
        catalog.insert(&second).await.unwrap();

        assert_eq!(catalog.by_id("03").await.unwrap(), Some(second.clone()));
        assert_eq!(
            catalog.by_gen_key("key-a").await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(catalog.by_id("nope").await.unwrap(), None);
        let ids: Vec<_> = catalog
            .recent(10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["03", "01"]);
        catalog.close().await;

        let reopened = Catalog::open(&path).await.unwrap();
        assert_eq!(reopened.recent(1).await.unwrap(), vec![second]);

        assert_eq!(
            reopened
                .cached_prompt("openai", "flux", "猫")
                .await
                .unwrap(),
            None
        );
        reopened
            .cache_prompt("openai", "flux", "猫", "A cat.")
            .await
            .unwrap();
        reopened
            .cache_prompt("openai", "flux", "猫", "A different cat.")
            .await
            .unwrap();
        assert_eq!(
            reopened
                .cached_prompt("openai", "flux", "猫")
                .await
                .unwrap()
                .as_deref(),
            Some("A cat.")
        );
        assert_eq!(
            reopened.cached_prompt("openai", "sd", "猫").await.unwrap(),
            None
        );
    }
}
