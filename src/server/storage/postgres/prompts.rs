//! The prompt cache in PostgreSQL.

use super::PgCatalog;
use crate::server::storage::rows::PromptRow;
use crate::server::storage::{CachedPrompt, CatalogError, PromptCache};

#[async_trait::async_trait]
impl PromptCache for PgCatalog {
    async fn cached_prompt(
        &self,
        pipeline: &str,
        family: &str,
        prompt: &str,
    ) -> Result<Option<String>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT final_prompt FROM prompt_cache WHERE pipeline = $1 AND family = $2 AND prompt = $3",
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
             WHERE (pipeline, family, prompt) > ($1, $2, $3) ORDER BY pipeline, family, prompt LIMIT $4",
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
            "INSERT INTO prompt_cache (pipeline, family, prompt, final_prompt, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
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
