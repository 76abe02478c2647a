//! The prompt cache in SQLite.

use super::SqliteCatalog;
use crate::server::storage::rows::PromptRow;
use crate::server::storage::{CachedPrompt, CatalogError, PromptCache};

#[async_trait::async_trait]
impl PromptCache for SqliteCatalog {
    async fn cached_prompt(
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

    async fn cached_prompts(
        &self,
        after: Option<&CachedPrompt>,
        limit: u32,
    ) -> Result<Vec<CachedPrompt>, CatalogError> {
        let (pipeline, family, prompt) = after
            .map(|a| (a.pipeline.as_str(), a.family.as_str(), a.prompt.as_str()))
            .unwrap_or_default();
        let rows: Vec<PromptRow> = sqlx::query_as(
            "SELECT pipeline, family, prompt, final_prompt FROM prompt_cache \
             WHERE (pipeline, family, prompt) > (?, ?, ?) ORDER BY pipeline, family, prompt LIMIT ?",
        )
        .bind(pipeline)
        .bind(family)
        .bind(prompt)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(CachedPrompt::from).collect())
    }

    async fn cache_prompt(
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
        .bind(crate::server::clock::now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
