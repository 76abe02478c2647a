//! `pixzoo migrate`: copies an installation from its configured stores to new ones (SQLite and a local
//! directory to PostgreSQL and S3, say) without losing an image. Resumable: what the destination already
//! holds is skipped, and each image's blob is copied (and read back) before its row, so a copy stopped at
//! any point leaves nothing half-written and the next run goes on from there. Every blob is checked
//! against its row's SHA-256 when read from the source and again from the destination.
//!
//! Copied: the prompt cache (first, so URLs keep meaning the same image), every image with its row as it
//! is (id, times, lineage), and derivatives if asked (they can always be made again). Not copied: studio
//! sign-ins (people sign in again).

use crate::server::config::StorageConfig;
use crate::server::storage::{self, CachedPrompt, PageQuery, Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] storage::CatalogError),
    #[error(transparent)]
    Blob(#[from] storage::BlobError),
}

/// How far a copy has got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub prompts: u64,
    pub images_copied: u64,
    /// Already in the destination (an earlier, interrupted run copied them).
    pub images_present: u64,
    pub derivatives_copied: u64,
    pub bytes_copied: u64,
    /// Images not copied, by id and why: the source blob is missing or does not match its row, or the
    /// destination already has another image for the same request.
    pub unreadable: Vec<(String, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} images copied, {} already there, {} derivatives, {:.1} MB, {} prompt-cache answers",
            self.images_copied,
            self.images_present,
            self.derivatives_copied,
            self.bytes_copied as f64 / 1e6,
            self.prompts
        )?;
        if !self.unreadable.is_empty() {
            write!(f, "; {} unreadable", self.unreadable.len())?;
        }
        Ok(())
    }
}

/// What to copy where.
pub struct Migration {
    pub from: StorageConfig,
    pub to: StorageConfig,
    pub derivatives: bool,
}

const PAGE: u32 = 200;

/// Copies everything `migration` names, calling `progress` after each page of images.
pub async fn run(
    migration: &Migration,
    mut progress: impl FnMut(&Report),
) -> Result<Report, MigrateError> {
    let from = storage::open(&migration.from).await?;
    let to = storage::open(&migration.to).await?;
    let mut report = Report::default();
    copy_prompts(&from, &to, &mut report).await?;
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = from
            .catalog
            .page(&PageQuery {
                limit: PAGE,
                after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
                ..PageQuery::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        for record in &page {
            if to.catalog.by_id(&record.id).await?.is_some() {
                report.images_present += 1;
            } else {
                let key = record.blob_key();
                let bytes = match from
                    .blobs
                    .get_verified(&key, Some(&record.content_hash), record.bytes)
                    .await
                {
                    Ok(bytes) => bytes,
                    Err(err) => {
                        report.unreadable.push((record.id.clone(), err.to_string()));
                        continue;
                    }
                };
                to.blobs.put(&key, bytes).await?;
                to.blobs
                    .get_verified(&key, Some(&record.content_hash), record.bytes)
                    .await?;
                let stored = to.catalog.insert(record).await?;
                if stored.id != record.id {
                    report.unreadable.push((
                        record.id.clone(),
                        format!(
                            "the destination already has image {} for the same request",
                            stored.id
                        ),
                    ));
                    continue;
                }
                report.images_copied += 1;
                report.bytes_copied += record.bytes;
            }
            if migration.derivatives {
                copy_derivatives(&from, &to, &record.id, &mut report).await?;
            }
        }
        progress(&report);
    }
    from.catalog.close().await;
    to.catalog.close().await;
    Ok(report)
}

async fn copy_prompts(
    from: &Storage,
    to: &Storage,
    report: &mut Report,
) -> Result<(), MigrateError> {
    let mut after: Option<CachedPrompt> = None;
    loop {
        let page = from.catalog.cached_prompts(after.as_ref(), 1000).await?;
        let Some(last) = page.last().cloned() else {
            return Ok(());
        };
        for answer in &page {
            // The first answer wins in the destination too, so this is safe to repeat.
            to.catalog
                .cache_prompt(
                    &answer.pipeline,
                    &answer.family,
                    &answer.prompt,
                    &answer.final_prompt,
                )
                .await?;
            report.prompts += 1;
        }
        after = Some(last);
    }
}

async fn copy_derivatives(
    from: &Storage,
    to: &Storage,
    image_id: &str,
    report: &mut Report,
) -> Result<(), MigrateError> {
    for (derivative, options) in from.catalog.derivatives_of(image_id).await? {
        if to.catalog.derivative(&derivative.key).await?.is_some() {
            continue;
        }
        let key = derivative.blob_key();
        let hash = derivative.content_hash.as_deref();
        // A derivative that cannot be read is made again when next asked for.
        let Ok(bytes) = from.blobs.get_verified(&key, hash, derivative.bytes).await else {
            continue;
        };
        to.blobs.put(&key, bytes).await?;
        to.blobs.get_verified(&key, hash, derivative.bytes).await?;
        to.catalog.insert_derivative(&derivative, &options).await?;
        report.derivatives_copied += 1;
        report.bytes_copied += derivative.bytes;
    }
    Ok(())
}
