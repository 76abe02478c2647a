//! A generation job as an ordered list of small steps, read top to bottom in [`Inner::run`]:
//! admit the LLM call if one is needed → translate → key → look up → admit → generate with retries →
//! check → store the blob → record the row. Each step is a method with one job; adding one is a line in
//! `run`.

use std::time::Instant;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::intake::Plan;
use super::models::UnknownModel;
use super::progress::Progress;
use super::sizes::{generation_size, GenerationSize};
use super::{keys, Admission, CacheStatus, EngineError, Generated, Inner};
use crate::server::clock::now_millis;
use crate::server::config::ModelConfig;
use crate::server::prompt::PromptOutcome;
use crate::server::providers::{ImageProvider, ProviderImage, ProviderRequest};
use crate::server::storage::ImageRecord;
use crate::server::transform::inspect::{decode, inspect, InspectError, Inspected};

/// Reports where a job is; nobody listening is fine.
pub(super) struct Reporter<'a>(pub &'a broadcast::Sender<Progress>);

impl Reporter<'_> {
    fn send(&self, progress: Progress) {
        let _ = self.0.send(progress);
    }
}

impl Inner {
    pub(super) async fn run(
        &self,
        plan: &Plan,
        admission: &dyn Admission,
        progress: &Reporter<'_>,
        ends: tokio::time::Instant,
    ) -> Result<Generated, EngineError> {
        progress.send(Progress::Queued);
        let admitted = self.admit_llm_call(plan, admission).await?;
        let prompt = self.translate(plan, progress).await;
        let target = generation_size(&plan.model.sizes, plan.size);
        let gen_key = generation_key(plan, &prompt, &target);
        if let Some(hit) = self.lookup(plan, &gen_key).await? {
            return Ok(hit);
        }
        let provider = self.provider(plan)?;
        if !admitted {
            admit(admission, &plan.model).await?;
        }
        let started = Instant::now();
        let image = self
            .generate_with_retries(plan, provider.as_ref(), &prompt, &target, progress, ends)
            .await?;
        let checked = self.check(provider.as_ref(), image.bytes.clone()).await?;
        progress.send(Progress::Storing);
        let record = new_record(plan, gen_key, prompt, &image, checked);
        self.store(&record, image.bytes.clone()).await?;
        self.record(plan, record, image.bytes, started).await
    }

    /// An LLM call costs money too, so a prompt not translated before is admitted before it is sent.
    /// Such a request cannot be for a stored image: every stored image's translation is cached.
    async fn admit_llm_call(
        &self,
        plan: &Plan,
        admission: &dyn Admission,
    ) -> Result<bool, EngineError> {
        let needs = self
            .prompts
            .needs_llm(&plan.prompt, plan.model.family, plan.translate)
            .await;
        if needs {
            admit(admission, &plan.model).await?;
        }
        Ok(needs)
    }

    async fn translate(&self, plan: &Plan, progress: &Reporter<'_>) -> PromptOutcome {
        progress.send(Progress::Translating);
        let prompt = self
            .prompts
            .run(&plan.prompt, plan.model.family, plan.translate)
            .await;
        progress.send(Progress::Translated {
            final_prompt: prompt.final_prompt.clone(),
            translation: prompt.translation,
            note: prompt.note.clone(),
        });
        prompt
    }

    /// The stored image for this key, unless the request asks to make it again.
    async fn lookup(&self, plan: &Plan, gen_key: &str) -> Result<Option<Generated>, EngineError> {
        if plan.redo {
            return Ok(None);
        }
        let Some(record) = self.catalog.by_gen_key(gen_key).await? else {
            return Ok(None);
        };
        metrics::counter!("pixzoo_cache_total", "kind" => "image", "result" => "hit").increment(1);
        let bytes = self.original_bytes(&record).await?;
        Ok(Some(Generated {
            record,
            bytes,
            cache: CacheStatus::Hit,
        }))
    }

    fn provider(&self, plan: &Plan) -> Result<std::sync::Arc<dyn ImageProvider>, EngineError> {
        let provider = self
            .providers
            .get(plan.model.provider.as_str())
            .cloned()
            .ok_or_else(|| UnknownModel::new(&plan.model.id, &self.models))?;
        metrics::counter!("pixzoo_cache_total", "kind" => "image", "result" => "miss").increment(1);
        Ok(provider)
    }

    async fn generate_with_retries(
        &self,
        plan: &Plan,
        provider: &dyn ImageProvider,
        prompt: &PromptOutcome,
        target: &GenerationSize,
        progress: &Reporter<'_>,
        ends: tokio::time::Instant,
    ) -> Result<ProviderImage, EngineError> {
        let request = ProviderRequest {
            upstream_model: plan.model.upstream.clone(),
            prompt: prompt.final_prompt.clone(),
            negative_prompt: plan.negative_prompt.clone(),
            seed: plan.model.seed.then_some(plan.seed),
            steps: plan.steps,
            width: target.size.width,
            height: target.size.height,
            aspect_ratio: target.ratio.clone(),
        };
        let started = Instant::now();
        let mut attempt = 1;
        let called = loop {
            progress.send(Progress::Generating { attempt });
            let err = match provider.generate(request.clone()).await {
                Ok(image) => break Ok(image),
                Err(err) => err,
            };
            let left = ends.saturating_duration_since(tokio::time::Instant::now());
            let Some(wait) = self.retry.next_delay(attempt, &err, left) else {
                break Err(err);
            };
            metrics::counter!("pixzoo_provider_retries_total", "provider" => provider.name())
                .increment(1);
            tracing::warn!(provider = provider.name(), attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        };
        let labels = [
            ("provider", plan.model.provider.clone()),
            (
                "outcome",
                if called.is_ok() { "ok" } else { "error" }.to_owned(),
            ),
        ];
        metrics::counter!("pixzoo_generations_total", &labels).increment(1);
        metrics::histogram!("pixzoo_generation_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        Ok(called?)
    }

    /// The provider's bytes must be a PNG, JPEG or WebP within the pixel limit, and (unless produced
    /// in-process) decode completely. A full decode is CPU work, so it takes its turn on the pool.
    async fn check(
        &self,
        provider: &dyn ImageProvider,
        bytes: Bytes,
    ) -> Result<Inspected, EngineError> {
        let name = provider.name();
        let full = !provider.trusted_output();
        let max_pixels = self.max_output_pixels;
        let check = move || -> Result<Inspected, InspectError> {
            let inspected = inspect(&bytes, max_pixels)?;
            if full {
                decode(&bytes, inspected)?;
            }
            Ok(inspected)
        };
        let checked = if full {
            self.cpu.run(check).await?
        } else {
            check()
        };
        checked.map_err(|err| {
            crate::server::providers::ProviderError::InvalidOutput {
                provider: name,
                message: err.to_string(),
            }
            .into()
        })
    }

    /// Blob first, row second: a crash in between leaves an unreferenced blob, never a dangling row.
    async fn store(&self, record: &ImageRecord, bytes: Bytes) -> Result<(), EngineError> {
        self.blobs.put(&record.blob_key(), bytes).await?;
        Ok(())
    }

    /// Records the row; when another request recorded an image under the same key first, that one is
    /// the answer.
    async fn record(
        &self,
        plan: &Plan,
        record: ImageRecord,
        bytes: Bytes,
        started: Instant,
    ) -> Result<Generated, EngineError> {
        let stored = if plan.redo {
            self.catalog.replace(&record).await?
        } else {
            self.catalog.insert(&record).await?
        };
        tracing::info!(
            id = %stored.id,
            model = %stored.model,
            width = stored.width,
            height = stored.height,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "generated"
        );
        let bytes = if stored.content_hash == record.content_hash {
            bytes
        } else {
            self.blobs.get(&stored.blob_key()).await?
        };
        Ok(Generated {
            record: stored,
            bytes,
            cache: CacheStatus::Miss,
        })
    }
}

/// The catalog's key for what will be generated: the model, the final prompt, the size it makes.
fn generation_key(plan: &Plan, prompt: &PromptOutcome, target: &GenerationSize) -> String {
    keys::generation_key(&keys::KeyParts {
        model: &plan.model.id,
        prompt: &prompt.final_prompt,
        negative_prompt: plan.negative_prompt.as_deref(),
        seed: plan.seed,
        steps: plan.steps,
        size: target.size,
    })
}

fn new_record(
    plan: &Plan,
    gen_key: String,
    prompt: PromptOutcome,
    image: &ProviderImage,
    checked: Inspected,
) -> ImageRecord {
    ImageRecord {
        id: uuid::Uuid::now_v7().simple().to_string(),
        gen_key,
        prompt: plan.prompt.clone(),
        final_prompt: prompt.final_prompt,
        negative_prompt: plan.negative_prompt.clone(),
        model: plan.model.id.clone(),
        provider: plan.model.provider.clone(),
        seed: image.seed.unwrap_or(plan.seed),
        steps: plan.steps,
        width: checked.width,
        height: checked.height,
        format: checked.format,
        bytes: image.bytes.len() as u64,
        content_hash: hex::encode(Sha256::digest(&image.bytes)),
        created_at: now_millis(),
        translation: prompt.translation,
        translation_note: prompt.note,
    }
}

/// Asks the request's admission, counting refusals by reason.
pub(super) async fn admit(
    admission: &dyn Admission,
    model: &ModelConfig,
) -> Result<(), EngineError> {
    let refused = match admission.admit(model).await {
        Ok(()) => return Ok(()),
        Err(refused) => refused,
    };
    let reason = match &refused {
        EngineError::Forbidden(_) => "signature",
        EngineError::Limited { .. } => "generation_limit",
        _ => "other",
    };
    metrics::counter!("pixzoo_refusals_total", "reason" => reason).increment(1);
    Err(refused)
}
