//! Studio sign-ins in SQLite.

use super::SqliteCatalog;
use crate::server::storage::{CatalogError, Sessions};

#[async_trait::async_trait]
impl Sessions for SqliteCatalog {
    async fn insert_session(&self, token_hash: &str, expires_at: i64) -> Result<(), CatalogError> {
        let now = crate::server::clock::now_millis();
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

    async fn session_valid(&self, token_hash: &str) -> Result<bool, CatalogError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE token_hash = ? AND expires_at > ?")
                .bind(token_hash)
                .bind(crate::server::clock::now_millis())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
