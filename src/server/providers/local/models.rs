//! The models on disk: every `<models_dir>/<id>/` holding a diffusers-layout Stable Diffusion
//! pipeline, read from its config files (no weights loaded), and the catalog entry each gets.

use std::path::{Path, PathBuf};

use crate::server::config::{Capability, ModelConfig, ModelFamily, Sizes, StepsRange};
use crate::server::diffusion::layout::Layout;
use crate::server::diffusion::scheduler::{Scheduler, SchedulerConfig};
use crate::server::diffusion::unet::UnetConfig;
use crate::server::diffusion::vae::VaeConfig;
use crate::server::diffusion::DiffusionError;

/// Directories looked at, at most: a models directory is a handful of models, not a file system.
const MAX_ENTRIES: usize = 256;

/// A model found on disk, with how the studio and the engine should ask it.
#[derive(Debug, Clone)]
pub struct LocalModel {
    pub id: String,
    pub dir: PathBuf,
    /// Width and height must be multiples of this.
    pub multiple: u32,
    /// The size it was trained at (`unet.sample_size` × the VAE's factor): the largest it is asked
    /// for, half that the smallest. Larger requests are made at this size and resized, as the model
    /// composes badly and costs the square beyond it.
    pub native: u32,
    pub steps: StepsRange,
    /// Classifier-free guidance scale; at most 1: none (distilled models such as SD-Turbo).
    pub guidance: f64,
    /// The UNet takes the mask and masked image too (a 9-channel inpainting model).
    pub inpainting: bool,
    /// What it is, for people: "SD 1.x", "SD 2.x inpainting", …
    pub architecture: String,
    /// Bytes on disk.
    pub bytes: u64,
}

impl LocalModel {
    /// Reads a directory's configs; an error says why it is not a usable model.
    pub fn inspect(id: &str, dir: &Path) -> Result<Self, DiffusionError> {
        let layout = Layout::open(dir)?;
        let unet: UnetConfig = layout.config("unet")?;
        let vae: VaeConfig = layout.config("vae")?;
        let scheduler: SchedulerConfig = layout.config("scheduler")?;
        let unsupported = |part: &str, message: String| DiffusionError::Unsupported {
            path: layout.part(part),
            message,
        };
        unet.to_candle().map_err(|m| unsupported("unet", m))?;
        Scheduler::new(&scheduler, 1).map_err(|m| unsupported("scheduler", m))?;
        let blocks = unet.block_out_channels.len().clamp(1, 8) as u32;
        let multiple = vae.scale_factor() as u32 * (1 << (blocks - 1));
        let (steps, guidance) = defaults(id, &scheduler);
        let latent = unet.sample_size.unwrap_or(64).clamp(1, 1024) as u32;
        let native = (latent * vae.scale_factor() as u32 / multiple).max(1) * multiple;
        let inpainting = unet.in_channels == 2 * vae.latent_channels + 1;
        let family = match unet.cross_attention_dim {
            768 => "SD 1.x".to_string(),
            1024 => "SD 2.x".to_string(),
            width => format!("SD-family ({width}-wide text)"),
        };
        Ok(LocalModel {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            multiple,
            native,
            steps,
            guidance,
            inpainting,
            architecture: if inpainting {
                format!("{family} inpainting")
            } else {
                family
            },
            bytes: layout.size_on_disk(),
        })
    }

    /// The catalog entry: every capability, sizes from half the native size to the native size.
    pub fn catalog_entry(&self) -> ModelConfig {
        let min = (self.native / 2 / self.multiple).max(1) * self.multiple;
        ModelConfig {
            id: self.id.clone(),
            label: format!("{} (local)", self.id),
            provider: "local".into(),
            upstream: self.id.clone(),
            family: ModelFamily::Sd,
            sizes: Sizes::Range {
                min,
                max: self.native,
                multiple: self.multiple,
            },
            steps: Some(self.steps),
            negative_prompt: self.guidance > 1.0,
            seed: true,
            capabilities: vec![
                Capability::Generate,
                Capability::Edit,
                Capability::Inpaint,
                Capability::Variations,
            ],
        }
    }
}

/// Steps and guidance: distilled few-step models (named for it, or scheduled with trailing spacing as
/// SD-Turbo's is) take 1–4 steps and no guidance; the rest take SD's usual 25 at 7.5.
fn defaults(id: &str, scheduler: &SchedulerConfig) -> (StepsRange, f64) {
    let name = id.to_ascii_lowercase();
    let distilled = ["turbo", "sdxs", "lcm", "lightning", "hyper"]
        .iter()
        .any(|word| name.contains(word))
        || scheduler.timestep_spacing == "trailing";
    if distilled {
        (
            StepsRange {
                min: 1,
                max: 4,
                default: 1,
            },
            0.0,
        )
    } else {
        (
            StepsRange {
                min: 1,
                max: 50,
                default: 25,
            },
            7.5,
        )
    }
}

/// A directory under the models directory that looks like a model, and whether it is usable.
pub struct Found {
    pub id: String,
    pub dir: PathBuf,
    /// Why not, when it is not.
    pub model: Result<LocalModel, String>,
}

/// Every directory under `dir` holding a `model_index.json`, sorted by name, each inspected.
pub fn scan(dir: &Path) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Found> = entries
        .flatten()
        .take(MAX_ENTRIES)
        .filter(|entry| entry.path().join("model_index.json").is_file())
        .map(|entry| {
            let id = entry.file_name().to_string_lossy().into_owned();
            let model = if valid_id(&id) {
                LocalModel::inspect(&id, &entry.path()).map_err(|e| e.to_string())
            } else {
                Err("the directory's name is the model's id: letters, digits, `.`, `_` and `-` only".into())
            };
            Found {
                id,
                dir: entry.path(),
                model,
            }
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

/// Every usable model under `dir`, sorted by id; the others are skipped with a warning saying why.
pub fn discover(dir: &Path) -> Vec<LocalModel> {
    scan(dir)
        .into_iter()
        .filter_map(|found| match found.model {
            Ok(model) => Some(model),
            Err(reason) => {
                tracing::warn!(model = %found.id, dir = %found.dir.display(), "local model skipped: {reason}");
                None
            }
        })
        .collect()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
