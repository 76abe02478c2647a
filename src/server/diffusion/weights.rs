//! A model part's weights: safetensors files, memory-mapped, through a loader that checks what the
//! model code takes against what the files hold.
//!
//! candle's `VarBuilder` fails on a missing or misshapen tensor (with its name); nothing in it notices a
//! tensor the model never asked for, which is how a model of another architecture (or a config that
//! says less than the weights do) would load "successfully" and draw noise. [`Weights::finish`] turns
//! that into an error naming the unused tensors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use super::{DiffusionError, Result};

/// The safetensors files of one part (`unet/`, `vae/`, …) and the names the model code has read.
pub struct Weights {
    files: Vec<PathBuf>,
    backend: Arc<Tracked>,
}

struct Tracked {
    tensors: MmapedSafetensors,
    used: Mutex<BTreeSet<String>>,
}

impl Weights {
    /// Maps `files` (one part's safetensors, a sharded part's several).
    pub fn open(files: Vec<PathBuf>) -> Result<Self> {
        let first = files.first().cloned().unwrap_or_default();
        // SAFETY: the files are mapped read-only and only read. A model directory is written beside
        // its final name and renamed into place (`pixzoo models pull`), never rewritten in place;
        // one a user edits while it is loaded is the same hazard every mmap-based loader has.
        let tensors =
            unsafe { MmapedSafetensors::multi(&files) }.map_err(|e| DiffusionError::Weights {
                path: first,
                message: e.to_string(),
            })?;
        Ok(Weights {
            files,
            backend: Arc::new(Tracked {
                tensors,
                used: Mutex::new(BTreeSet::new()),
            }),
        })
    }

    /// A `VarBuilder` over these weights, converting every tensor to `dtype` on `device`.
    pub fn builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(
            Box::new(Backend(Arc::clone(&self.backend))),
            dtype,
            device.clone(),
        )
    }

    /// Where the weights came from, for messages.
    pub fn path(&self) -> &Path {
        self.files
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new(""))
    }

    /// Maps a loader's error to one that names the file.
    pub fn error(&self, e: candle_core::Error) -> DiffusionError {
        DiffusionError::Weights {
            path: self.path().to_path_buf(),
            message: e.to_string(),
        }
    }

    /// Fails, naming them, when the files hold tensors the model code never read.
    pub fn finish(self) -> Result<()> {
        let used = self.backend.used.lock().unwrap_or_else(|e| e.into_inner());
        let unused: Vec<String> = self
            .backend
            .tensors
            .tensors()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !used.contains(name))
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let mut unused = unused;
        unused.sort();
        let shown = unused
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = unused.len().saturating_sub(8);
        Err(DiffusionError::Weights {
            path: self.path().to_path_buf(),
            message: format!(
                "{} tensors are not used by the architecture its config describes: {shown}{}",
                unused.len(),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        })
    }
}

impl Tracked {
    fn mark(&self, name: &str) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string());
    }
}

/// What `VarBuilder` reads through: every read marks the name.
struct Backend(Arc<Tracked>);

impl SimpleBackend for Backend {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        hints: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = SimpleBackend::get(&self.0.tensors, shape, name, hints, dtype, device)?;
        self.0.mark(name);
        Ok(tensor)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = SimpleBackend::get_unchecked(&self.0.tensors, name, dtype, device)?;
        self.0.mark(name);
        Ok(tensor)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        SimpleBackend::contains_tensor(&self.0.tensors, name)
    }
}
