//! Studio sign-ins in PostgreSQL, shared by every instance.

use super::PgCatalog;
use crate::server::storage::{CatalogError, Sessions};

#[async_trait::async_trait]
impl Sessions for PgCatalog {
    async fn insert_session(&self, token_hash: &str, expires_at: i64) -> Result<(), CatalogError> {
        let now = crate::server::clock::now_millis();
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_valid(&self, token_hash: &str) -> Result<bool, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE token_hash = $1 AND expires_at > $2)",
        )
        .bind(token_hash)
        .bind(crate::server::clock::now_millis())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
