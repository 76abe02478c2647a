//! The `local` provider: Stable Diffusion models on disk, run in-process by `src/server/diffusion/`.
//! Generations wait their turn on a queue of their own (`[providers.local] concurrency`), run on
//! blocking threads (never the transform pool), and stop between steps when the caller is gone.

mod images;
pub mod models;
mod resident;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use candle_core::{DType, Device};
use tokio::sync::Semaphore;

use crate::server::config::{LocalConfig, ProviderKind};
use crate::server::diffusion::noise::SeededNoise;
use crate::server::diffusion::pipeline::{Init, Request};
use crate::server::diffusion::taesd::Taesd;
use crate::server::diffusion::DiffusionError;
use crate::server::providers::{ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use models::LocalModel;
use resident::Resident;

const NAME: &str = ProviderKind::Local.name();

pub struct Local {
    models: HashMap<String, LocalModel>,
    queue: Arc<Semaphore>,
    resident: Arc<Resident>,
    /// The final decoder when it is TAESD (`decoder = "taesd"`): its directory, loaded on first use.
    taesd: Option<Arc<FastDecoder>>,
    device: Device,
}

/// TAESD, loaded once (it is a few MB) and kept.
struct FastDecoder {
    dir: PathBuf,
    loaded: Mutex<Option<Arc<Taesd>>>,
}

impl FastDecoder {
    fn get(&self, device: &Device) -> Result<Arc<Taesd>, DiffusionError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(taesd) = loaded.as_ref() {
            return Ok(Arc::clone(taesd));
        }
        let taesd = Arc::new(Taesd::load(&self.dir, DType::F32, device)?);
        *loaded = Some(Arc::clone(&taesd));
        Ok(taesd)
    }
}

impl Local {
    /// The provider over `models` (from [`models::discover`], in `models_dir`).
    pub fn new(config: &LocalConfig, models_dir: &Path, models: Vec<LocalModel>) -> Self {
        let taesd = (config.decoder == "taesd").then(|| {
            let dir = models_dir.join("taesd");
            if !dir.join("config.json").is_file() {
                tracing::warn!(dir = %dir.display(), "providers.local.decoder is \"taesd\" but TAESD is not there: the models' own VAEs decode");
            }
            Arc::new(FastDecoder {
                dir,
                loaded: Mutex::new(None),
            })
        });
        let taesd = taesd.filter(|t| t.dir.join("config.json").is_file());
        let unload_after =
            (config.unload_after_secs > 0).then(|| Duration::from_secs(config.unload_after_secs));
        let resident = Arc::new(Resident::new(unload_after));
        if let (Some(after), Ok(runtime)) = (unload_after, tokio::runtime::Handle::try_current()) {
            let weak = Arc::downgrade(&resident);
            runtime.spawn(async move {
                let mut every = tokio::time::interval(after.min(Duration::from_secs(60)));
                loop {
                    every.tick().await;
                    match weak.upgrade() {
                        Some(resident) => resident.unload_idle(),
                        None => break,
                    }
                }
            });
        }
        let permits = usize::try_from(config.concurrency)
            .unwrap_or(1)
            .clamp(1, 64);
        Local {
            models: models.into_iter().map(|m| (m.id.clone(), m)).collect(),
            queue: Arc::new(Semaphore::new(permits)),
            resident,
            taesd,
            device: Device::Cpu,
        }
    }
}

/// Set when the generation's future is dropped (its caller gone): the blocking run stops at its next
/// step instead of computing an image nobody will receive.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn error(err: DiffusionError) -> ProviderError {
    let message = err.to_string();
    match err {
        DiffusionError::Input(_) => ProviderError::BadRequest {
            provider: NAME,
            message,
        },
        _ => ProviderError::Failed {
            provider: NAME,
            message,
        },
    }
}

#[async_trait::async_trait]
impl ImageProvider for Local {
    fn name(&self) -> &'static str {
        NAME
    }

    fn trusted_output(&self) -> bool {
        true
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError> {
        let model = self
            .models
            .get(&request.upstream_model)
            .cloned()
            .ok_or_else(|| ProviderError::UnknownModel {
                provider: NAME,
                model: request.upstream_model.clone(),
            })?;
        let turn =
            self.queue
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ProviderError::Upstream {
                    provider: NAME,
                    message: "the local queue is closed".into(),
                })?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel = CancelOnDrop(Arc::clone(&cancelled));
        let resident = Arc::clone(&self.resident);
        let taesd = self.taesd.clone();
        let device = self.device.clone();
        let seed = request.seed.unwrap_or(0);
        let run = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, DiffusionError> {
            // The turn ends when the computation does, not when a caller stops waiting for it.
            let _turn = turn;
            let pipeline = resident.get(&model.id, &model.dir, &device)?;
            let init = match &request.edit {
                Some(edit) => Some(Init {
                    image: images::source(&edit.image)?,
                    mask: edit.mask.as_deref().map(images::mask).transpose()?,
                    strength: edit.strength(),
                }),
                None => None,
            };
            let steps = request
                .steps
                .unwrap_or(model.steps.default)
                .clamp(model.steps.min, model.steps.max);
            let job = Request {
                prompt: request.prompt.clone(),
                negative_prompt: request.negative_prompt.clone(),
                width: request.width as usize,
                height: request.height as usize,
                steps: steps as usize,
                guidance: model.guidance,
                init,
            };
            let mut noise = SeededNoise::new(u64::from(seed));
            let output = pipeline.denoise(&job, &mut noise, &mut |step| {
                if cancelled.load(Ordering::Relaxed) {
                    return Err(DiffusionError::Cancelled);
                }
                request
                    .on_step
                    .report(step.index as u32 + 1, step.steps as u32);
                Ok(())
            })?;
            if output.prompt_tokens_dropped > 0 {
                tracing::info!(
                    model = %model.id,
                    dropped = output.prompt_tokens_dropped,
                    "the prompt is longer than CLIP reads: its end was left out"
                );
            }
            let image = match &taesd {
                Some(taesd) => taesd.get(&device)?.decode(&output.latents)?,
                None => pipeline.vae.decode(&output.latents)?,
            };
            images::png(&image)
        });
        let bytes = run
            .await
            .map_err(|e| ProviderError::Failed {
                provider: NAME,
                message: format!("the local model stopped: {e}"),
            })?
            .map_err(error)?;
        Ok(ProviderImage {
            bytes: Bytes::from(bytes),
            seed: Some(seed),
        })
    }
}
