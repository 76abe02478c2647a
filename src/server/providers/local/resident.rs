//! Loaded models: loaded on first use, kept while used, dropped after `unload_after` idle. Loading
//! is refused, with a clear error, when the weights would not fit in the memory available.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candle_core::{DType, Device};

use crate::server::diffusion::layout::Layout;
use crate::server::diffusion::pipeline::Pipeline;
use crate::server::diffusion::DiffusionError;

struct Entry {
    pipeline: Arc<Pipeline>,
    last_used: Instant,
}

/// The loaded pipelines by model id.
pub struct Resident {
    loaded: Mutex<HashMap<String, Entry>>,
    unload_after: Option<Duration>,
}

impl Resident {
    pub fn new(unload_after: Option<Duration>) -> Self {
        Resident {
            loaded: Mutex::new(HashMap::new()),
            unload_after,
        }
    }

    /// The model, loading it if it is not loaded (blocking: call from a blocking thread). Callers are
    /// serialised by the provider's queue, so one model is never loaded twice at once.
    pub fn get(
        &self,
        id: &str,
        dir: &Path,
        device: &Device,
    ) -> Result<Arc<Pipeline>, DiffusionError> {
        if let Some(entry) = self.lock().get_mut(id) {
            entry.last_used = Instant::now();
            return Ok(Arc::clone(&entry.pipeline));
        }
        // Whatever else is loaded and idle goes first: two SD models rarely fit beside each other.
        self.lock()
            .retain(|_, entry| Arc::strong_count(&entry.pipeline) > 1);
        fits_in_memory(dir)?;
        let started = Instant::now();
        let pipeline = Arc::new(Pipeline::load(dir, device, DType::F32)?);
        tracing::info!(
            model = id,
            seconds = started.elapsed().as_secs_f64(),
            "local model loaded"
        );
        self.lock().insert(
            id.to_string(),
            Entry {
                pipeline: Arc::clone(&pipeline),
                last_used: Instant::now(),
            },
        );
        Ok(pipeline)
    }

    /// Drops the models unused for `unload_after` that no generation holds.
    pub fn unload_idle(&self) {
        let Some(after) = self.unload_after else {
            return;
        };
        self.lock().retain(|id, entry| {
            let keep = entry.last_used.elapsed() < after || Arc::strong_count(&entry.pipeline) > 1;
            if !keep {
                tracing::info!(model = %id, "local model unloaded after being idle");
            }
            keep
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The weights as `f32` (half-precision files double) must fit in what the system says is available.
fn fits_in_memory(dir: &Path) -> Result<(), DiffusionError> {
    let Some(available) = available_memory() else {
        return Ok(());
    };
    let layout = Layout::open(dir)?;
    let mut needed = 0u64;
    for part in ["unet", "vae", "text_encoder"] {
        for file in layout.weights(part)? {
            let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            let half = file.to_string_lossy().contains("fp16");
            needed += if half { bytes * 2 } else { bytes };
        }
    }
    // Activations at 512×512 add a few hundred MB; a quarter more is a fair margin.
    let needed = needed + needed / 4;
    if needed > available {
        return Err(DiffusionError::Unsupported {
            path: dir.to_path_buf(),
            message: format!(
                "needs about {:.1} GB of memory to load, {:.1} GB is available",
                needed as f64 / 1e9,
                available as f64 / 1e9
            ),
        });
    }
    Ok(())
}

/// `MemAvailable` from `/proc/meminfo` (Linux); `None` elsewhere.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
