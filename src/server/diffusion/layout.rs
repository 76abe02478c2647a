//! A model directory in diffusers' layout: which pipeline it is, where each part's config and
//! weights are. Every architectural fact comes from these files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{DiffusionError, Result};

/// The largest config file read (real ones are a few KB): a hostile directory cannot make us buffer
/// much.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The pipeline classes whose parts and flow [`super::pipeline`] implements.
const PIPELINES: &[&str] = &[
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionInpaintPipeline",
];

/// A diffusers model directory, checked to have every part a Stable Diffusion pipeline needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    /// `model_index.json`'s `_class_name`.
    pub pipeline: String,
}

#[derive(Deserialize)]
struct ModelIndex {
    #[serde(rename = "_class_name")]
    class_name: String,
    #[serde(flatten)]
    parts: BTreeMap<String, serde_json::Value>,
}

impl Layout {
    /// Reads `root/model_index.json` and checks the parts are there.
    pub fn open(root: &Path) -> Result<Self> {
        let index: ModelIndex = read_json(&root.join("model_index.json"))?;
        if !PIPELINES.contains(&index.class_name.as_str()) {
            return Err(DiffusionError::Unsupported {
                path: root.join("model_index.json"),
                message: format!(
                    "pipeline `{}` is not supported (supported: {})",
                    index.class_name,
                    PIPELINES.join(", ")
                ),
            });
        }
        for part in ["unet", "vae", "text_encoder", "tokenizer", "scheduler"] {
            let declared = index.parts.get(part).is_some_and(|v| !v.is_null());
            if !declared || !root.join(part).is_dir() {
                return Err(DiffusionError::Unsupported {
                    path: root.to_path_buf(),
                    message: format!("the model has no `{part}/` part"),
                });
            }
        }
        Ok(Layout {
            root: root.to_path_buf(),
            pipeline: index.class_name,
        })
    }

    pub fn part(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn config<T: DeserializeOwned>(&self, part: &str) -> Result<T> {
        let file = if part == "scheduler" {
            "scheduler_config.json"
        } else {
            "config.json"
        };
        read_json(&self.part(part).join(file))
    }

    /// The safetensors files of a part.
    pub fn weights(&self, part: &str) -> Result<Vec<PathBuf>> {
        weight_files(&self.part(part))
    }

    /// Bytes on disk of every file under the directory (links followed once).
    pub fn size_on_disk(&self) -> u64 {
        fn walk(dir: &Path, depth: usize) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|entry| match std::fs::metadata(entry.path()) {
                    Ok(meta) if meta.is_dir() && depth < 4 => walk(&entry.path(), depth + 1),
                    Ok(meta) if meta.is_file() => meta.len(),
                    _ => 0,
                })
                .sum()
        }
        walk(&self.root, 0)
    }
}

/// The weights in a part's directory, in the order diffusers prefers them: the full-precision file,
/// then an fp16 variant, then the shards an index names.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    for name in [
        "diffusion_pytorch_model.safetensors",
        "model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.fp16.safetensors",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(vec![path]);
        }
    }
    for index in [
        "diffusion_pytorch_model.safetensors.index.json",
        "model.safetensors.index.json",
    ] {
        let path = dir.join(index);
        if !path.is_file() {
            continue;
        }
        #[derive(Deserialize)]
        struct Index {
            weight_map: BTreeMap<String, String>,
        }
        let index: Index = read_json(&path)?;
        let mut files: Vec<PathBuf> = Vec::new();
        for file in index.weight_map.values() {
            // Shards live beside their index; a name that leaves the directory is refused.
            if file.contains('/') || file.contains('\\') || file.starts_with('.') {
                return Err(DiffusionError::Config {
                    path,
                    message: format!("shard `{file}` is not a file name"),
                });
            }
            let shard = dir.join(file);
            if !files.contains(&shard) {
                files.push(shard);
            }
        }
        return Ok(files);
    }
    Err(DiffusionError::Unsupported {
        path: dir.to_path_buf(),
        message:
            "no safetensors weights (`.bin` pickles are not loaded: convert them to safetensors)"
                .into(),
    })
}

/// Reads and parses one JSON config, bounded in size.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let read = |source| DiffusionError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(DiffusionError::Config {
            path: path.to_path_buf(),
            message: format!("{} bytes is too large for a config file", meta.len()),
        });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    serde_json::from_slice(&bytes).map_err(|e| DiffusionError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A config value diffusers writes either as one number for every block or as one per block.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum PerBlock {
    One(usize),
    Each(Vec<usize>),
}

impl PerBlock {
    /// The value for each of `blocks` blocks, or `None` when a list has another length.
    pub fn expand(&self, blocks: usize) -> Option<Vec<usize>> {
        match self {
            PerBlock::One(v) => Some(vec![*v; blocks]),
            PerBlock::Each(list) if list.len() == blocks => Some(list.clone()),
            PerBlock::Each(_) => None,
        }
    }
}
