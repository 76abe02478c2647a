//! A generation job as an ordered list of small steps, read top to bottom in [`Inner::run`] and
//! [`Inner::make`]: admit the LLM call if one is needed → translate → key → look up → claim the key
//! (other instances wait, `once.rs`) → look up again → admit → generate with retries → check → hash
//! → store the blob → record the row → release the claim. Each step is a method with one job, given
//! what it needs of the job's [`Run`] and of what the steps before it made.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::broadcast;

use super::admission::Admission;
use super::answers::{CacheStatus, Generated};
use super::errors::EngineError;
use super::intake::Plan;
use super::keys;
use super::models::UnknownModel;
use super::progress::Progress;
use super::sizes::{generation_size, GenerationSize};
use super::Inner;
use crate::domain::kind::ImageKind;
use crate::server::clock::now_millis;
use crate::server::config::ModelConfig;
use crate::server::prompt::PromptOutcome;
use crate::server::providers::{ImageProvider, ProviderImage, ProviderRequest, StepReport};
use crate::server::storage::blobs::content_hash;
use crate::server::storage::{ImageNews, ImageRecord};
use crate::server::transform::inspect::{decode, inspect, InspectError, Inspected};

/// Reports where a job is; nobody listening is fine.
pub(super) struct Reporter<'a>(pub &'a broadcast::Sender<Progress>);

impl Reporter<'_> {
    fn send(&self, progress: Progress) {
        let _ = self.0.send(progress);
    }
}

/// What every step of one generation reads: the plan, the ticket that admits its costs, where it
/// reports, and when it must have ended. Each step takes this and what the steps before it made.
pub(super) struct Run<'a> {
    pub plan: &'a Plan,
    pub admission: &'a dyn Admission,
    pub progress: Reporter<'a>,
    pub ends: tokio::time::Instant,
}

/// What the first steps settle: the prompt the model is sent, the size it makes, and so the key.
struct Target {
    prompt: PromptOutcome,
    size: GenerationSize,
    gen_key: String,
}

impl Inner {
    pub(super) async fn run(&self, job: &Run<'_>) -> Result<Generated, EngineError> {
        job.progress.send(Progress::Queued);
        let admitted = self.admit_llm_call(job).await?;
        let prompt = self.translate(job).await;
        let size = generation_size(&job.plan.model.sizes, job.plan.size);
        let gen_key = generation_key(job.plan, &prompt, &size);
        if let Some(hit) = self.lookup(job.plan, &gen_key).await? {
            return Ok(hit);
        }
        let target = Target {
            prompt,
            size,
            gen_key: gen_key.clone(),
        };
        self.once(
            &format!("image:{gen_key}"),
            "identical work on other instances kept ending without an image",
            || self.stored(&gen_key),
            || self.make(job, admitted, target),
        )
        .await
    }

    /// The claimed part of a generation: another instance may have recorded it between the lookup
    /// and the claim, else admit → generate with retries → check → hash → store the blob → record.
    async fn make(
        &self,
        job: &Run<'_>,
        admitted: bool,
        target: Target,
    ) -> Result<Generated, EngineError> {
        let plan = job.plan;
        if !plan.redo {
            if let Some(hit) = self.stored(&target.gen_key).await? {
                return Ok(hit);
            }
        }
        let provider = self.provider(plan)?;
        if !admitted {
            admit(job.admission, &plan.model).await?;
        }
        let started = Instant::now();
        let edit = self
            .edit_input(plan.edit.as_ref(), target.size.size)
            .await?;
        let image = self
            .generate_with_retries(job, provider.as_ref(), &target, edit)
            .await?;
        let checked = self.check(provider.as_ref(), image.bytes.clone()).await?;
        let hash = self.content_hash(image.bytes.clone()).await?;
        job.progress.send(Progress::Storing);
        let record = new_record(plan, target.gen_key, target.prompt, &image, checked, hash);
        self.store(&record, image.bytes.clone()).await?;
        self.write_record(plan, record, image.bytes, started).await
    }

    /// An LLM call costs money too, so a prompt not translated before is admitted before it is sent.
    /// Such a request cannot be for a stored image: every stored image's translation is cached.
    async fn admit_llm_call(&self, job: &Run<'_>) -> Result<bool, EngineError> {
        let (plan, admission) = (job.plan, job.admission);
        let needs = self
            .prompts
            .needs_llm(&plan.prompt, plan.model.family, plan.translate)
            .await;
        if needs {
            admit(admission, &plan.model).await?;
        }
        Ok(needs)
    }

    async fn translate(&self, job: &Run<'_>) -> PromptOutcome {
        let (plan, progress) = (job.plan, &job.progress);
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

    /// The image recorded under this key (by any instance), as a hit; its bytes are read only by
    /// whoever needs them.
    pub(super) async fn stored(&self, gen_key: &str) -> Result<Option<Generated>, EngineError> {
        let Some(record) = self.catalog.by_gen_key(gen_key).await? else {
            return Ok(None);
        };
        Ok(Some(Generated {
            record,
            bytes: None,
            cache: CacheStatus::Hit,
        }))
    }

    /// The stored image for this key, unless the request asks to make it again.
    async fn lookup(&self, plan: &Plan, gen_key: &str) -> Result<Option<Generated>, EngineError> {
        let stored = if plan.redo {
            None
        } else {
            self.stored(gen_key).await?
        };
        let result = if stored.is_some() { "hit" } else { "miss" };
        metrics::counter!("pixzoo_cache_total", "kind" => "image", "result" => result).increment(1);
        Ok(stored)
    }

    fn provider(&self, plan: &Plan) -> Result<std::sync::Arc<dyn ImageProvider>, EngineError> {
        self.providers
            .get(plan.model.provider.as_str())
            .cloned()
            .ok_or_else(|| UnknownModel::new(&plan.model.id, &self.models).into())
    }

    async fn generate_with_retries(
        &self,
        job: &Run<'_>,
        provider: &dyn ImageProvider,
        target: &Target,
        edit: Option<crate::server::providers::EditInput>,
    ) -> Result<ProviderImage, EngineError> {
        let (plan, prompt, progress, ends) = (job.plan, &target.prompt, &job.progress, job.ends);
        let size = &target.size;
        let request = ProviderRequest {
            upstream_model: plan.model.upstream.clone(),
            prompt: prompt.final_prompt.clone(),
            negative_prompt: plan.negative_prompt.clone(),
            seed: plan.model.seed.then_some(plan.seed),
            steps: plan.steps,
            width: size.size.width,
            height: size.size.height,
            aspect_ratio: size.ratio.clone(),
            edit,
            on_step: StepReport::default(),
        };
        let started = Instant::now();
        let mut attempt = 1;
        let called = loop {
            progress.send(Progress::Generating {
                attempt,
                step: None,
                steps: None,
            });
            let sender = progress.0.clone();
            let call = ProviderRequest {
                on_step: StepReport::new(move |step, steps| {
                    let _ = sender.send(Progress::Generating {
                        attempt,
                        step: Some(step),
                        steps: Some(steps),
                    });
                }),
                ..request.clone()
            };
            let err = match provider.generate(call).await {
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

    /// The blob's content address, hashed on the pool: a provider's image may be megabytes.
    async fn content_hash(&self, bytes: Bytes) -> Result<String, EngineError> {
        Ok(self.cpu.run(move || content_hash(&bytes)).await?)
    }

    /// Blob first, row second: a crash in between leaves an unreferenced blob, never a dangling row.
    async fn store(&self, record: &ImageRecord, bytes: Bytes) -> Result<(), EngineError> {
        self.blobs.put(&record.blob_key(), bytes).await?;
        Ok(())
    }

    /// Records the row (inserts it, or replaces the key's for a redo); when another request recorded
    /// an image under the same key first, that one is the answer.
    async fn write_record(
        &self,
        plan: &Plan,
        record: ImageRecord,
        bytes: Bytes,
        started: Instant,
    ) -> Result<Generated, EngineError> {
        let stored = if plan.redo {
            // What the URL answered until now: its placeholder responses go, on every instance.
            let replaced = self.catalog.by_gen_key(&record.gen_key).await?;
            let stored = self.catalog.replace(&record).await?;
            self.memory.forget_records();
            if let Some(old) = replaced.filter(|old| old.id != stored.id) {
                self.announce(ImageNews::Replaced(old.id)).await;
            }
            stored
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
        // Another request's image under this key is read only if someone needs its bytes.
        let bytes = if stored.content_hash == record.content_hash {
            self.ensure_blob(&stored.blob_key(), &bytes).await?;
            Some(bytes)
        } else {
            None
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
        edit: plan.edit_key(),
    })
}

fn new_record(
    plan: &Plan,
    gen_key: String,
    prompt: PromptOutcome,
    image: &ProviderImage,
    checked: Inspected,
    content_hash: String,
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
        content_hash,
        created_at: now_millis(),
        translation: prompt.translation,
        translation_note: prompt.note,
        kind: if plan.edit.is_some() {
            ImageKind::Edit
        } else {
            ImageKind::Generated
        },
        source_id: plan.edit.as_ref().map(|e| e.source.id.clone()),
        mask_id: plan
            .edit
            .as_ref()
            .and_then(|e| e.mask.as_ref().map(|m| m.id.clone())),
        strength: plan.edit.as_ref().map(|e| e.strength),
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

/// The steps one at a time, on a real SQLite catalog, a local blob store and the builtin renderer.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::format::ImageFormat;
    use crate::server::engine::models::ModelCatalog;
    use crate::server::engine::testing;
    use crate::server::engine::{Engine, GenerateRequest, Seed};
    use crate::server::providers::builtin::render_png;
    use crate::server::providers::ProviderError;
    use crate::urls::placeholder::Size;

    async fn engine(dir: &std::path::Path) -> Engine {
        testing::engine(dir).max_output_pixels(10_000).build().await
    }

    fn plan(engine: &Engine, redo: bool) -> Plan {
        engine
            .plan(GenerateRequest {
                model: None,
                prompt: "a step fox".into(),
                negative_prompt: None,
                seed: Seed::FromPrompt,
                steps: None,
                size: Some(Size {
                    width: 8,
                    height: 8,
                }),
                translate: false,
                redo,
                edit: None,
            })
            .unwrap()
    }

    fn outcome() -> PromptOutcome {
        PromptOutcome {
            final_prompt: "a step fox".into(),
            translation: crate::domain::translation::Translation::Off,
            note: None,
        }
    }

    fn image(seed: u32) -> ProviderImage {
        render_png("a step fox", seed, 8, 8).unwrap()
    }

    fn checked() -> Inspected {
        Inspected {
            format: ImageFormat::Png,
            width: 8,
            height: 8,
        }
    }

    /// A provider whose output is not trusted, so `check` decodes it fully.
    struct Remote;

    #[async_trait::async_trait]
    impl ImageProvider for Remote {
        fn name(&self) -> &'static str {
            "remote"
        }

        async fn generate(&self, _: ProviderRequest) -> Result<ProviderImage, ProviderError> {
            unreachable!("check never calls the provider")
        }
    }

    /// Refuses, but only once told to: so others can join the job while it waits at admission.
    struct RefuseWhenTold(Arc<tokio::sync::Notify>);

    #[async_trait::async_trait]
    impl crate::server::engine::Admission for RefuseWhenTold {
        async fn admit(&self, _: &crate::server::config::ModelConfig) -> Result<(), EngineError> {
            self.0.notified().await;
            Err(EngineError::Forbidden("no signature".into()))
        }
    }

    #[tokio::test]
    async fn a_joiner_is_admitted_with_its_own_ticket_when_the_first_is_refused() {
        use crate::server::engine::progress::Progress;
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let release = Arc::new(tokio::sync::Notify::new());
        let unsigned = engine.submit(
            plan(&engine, false),
            Arc::new(RefuseWhenTold(release.clone())),
        );
        let mut signed = engine.submit(plan(&engine, false), Arc::new(crate::server::engine::Open));
        assert!(signed.joined);
        release.notify_one();

        let refused = unsigned.result.await.unwrap_err();
        assert!(matches!(*refused, EngineError::Forbidden(_)), "{refused}");
        let made = signed.result.clone().await.unwrap();
        assert_eq!(
            made.cache,
            CacheStatus::Miss,
            "made on the joiner's own ticket"
        );
        // The joiner's progress ends in its own outcome, not the refusal it joined.
        let mut last = None;
        while let Ok(progress) = signed.progress.recv().await {
            last = Some(progress);
        }
        assert_eq!(last, Some(Progress::Done { id: made.record.id }));
    }

    #[tokio::test]
    async fn lookup_serves_what_is_stored_unless_asked_to_redo() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let inner = &engine.inner;
        let plan = plan(&engine, false);
        assert!(inner.lookup(&plan, "key").await.unwrap().is_none());

        let image = image(1);
        let record = new_record(
            &plan,
            "key".into(),
            outcome(),
            &image,
            checked(),
            content_hash(&image.bytes),
        );
        inner.store(&record, image.bytes.clone()).await.unwrap();
        inner
            .write_record(&plan, record.clone(), image.bytes.clone(), Instant::now())
            .await
            .unwrap();
        let hit = inner.lookup(&plan, "key").await.unwrap().unwrap();
        assert_eq!(
            (&hit.record, &hit.bytes, hit.cache),
            (&record, &None, CacheStatus::Hit),
            "a hit reads no bytes"
        );
        assert_eq!(engine.original_of(&hit).await.unwrap(), image.bytes);
        let redo = super::tests::plan(&engine, true);
        assert!(inner.lookup(&redo, "key").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn write_record_keeps_the_first_image_for_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let inner = &engine.inner;
        let plan = plan(&engine, false);
        let (first, second) = (image(1), image(2));
        assert_ne!(first.bytes, second.bytes);
        for image in [&first, &second] {
            let record = new_record(
                &plan,
                "same-key".into(),
                outcome(),
                image,
                checked(),
                content_hash(&image.bytes),
            );
            inner.store(&record, image.bytes.clone()).await.unwrap();
            let recorded = inner
                .write_record(&plan, record, image.bytes.clone(), Instant::now())
                .await
                .unwrap();
            assert_eq!(
                engine.original_of(&recorded).await.unwrap(),
                first.bytes,
                "the first image is the answer"
            );
            assert_eq!(recorded.cache, CacheStatus::Miss);
        }
    }

    #[tokio::test]
    async fn check_refuses_what_is_not_a_whole_image_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let inner = &engine.inner;
        let png = image(1).bytes;
        assert_eq!(inner.check(&Remote, png.clone()).await.unwrap(), checked());

        let truncated = png.slice(..png.len() - 20);
        let err = inner.check(&Remote, truncated.clone()).await.unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Provider(ProviderError::InvalidOutput { .. })
            ),
            "{err}"
        );
        let builtin = inner.providers["builtin"].clone();
        assert!(
            inner.check(builtin.as_ref(), truncated).await.is_ok(),
            "in-process output is only inspected, not decoded"
        );

        let err = inner
            .check(&Remote, Bytes::from_static(b"<html>"))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("remote returned no usable image"),
            "{err}"
        );
        let large = render_png("a large fox", 1, 200, 100).unwrap().bytes;
        assert!(
            inner.check(&Remote, large).await.is_err(),
            "over max_output_pixels"
        );
    }

    #[test]
    fn the_generation_key_is_the_final_prompt_at_the_generated_size() {
        let models = ModelCatalog::new(&Default::default(), |p| p == "builtin").unwrap();
        let request = |prompt: &str| GenerateRequest {
            model: None,
            prompt: prompt.into(),
            negative_prompt: None,
            seed: Seed::Given(1),
            steps: None,
            size: Some(Size {
                width: 8,
                height: 8,
            }),
            translate: true,
            redo: false,
            edit: None,
        };
        let a = Plan::new(&models, request("un zorro")).unwrap();
        let b = Plan::new(&models, request("a fox")).unwrap();
        let target = generation_size(&a.model.sizes, a.size);
        assert_eq!(
            generation_key(&a, &outcome(), &target),
            generation_key(&b, &outcome(), &target),
            "prompts that translate alike are one image"
        );
        let other = GenerationSize {
            size: Size {
                width: 16,
                height: 8,
            },
            ratio: None,
        };
        assert_ne!(
            generation_key(&a, &outcome(), &target),
            generation_key(&a, &outcome(), &other)
        );
    }
}
