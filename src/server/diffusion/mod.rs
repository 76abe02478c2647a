//! Stable Diffusion-family pipelines run in-process on candle: the model code behind the `local`
//! provider. It knows directories of weights and tensors, nothing of providers, requests or HTTP.
//!
//! A model is a directory in diffusers' layout (`model_index.json`, `unet/`, `vae/`, `text_encoder/`,
//! `tokenizer/`, `scheduler/`); its architecture comes from the directory's own config files
//! ([`layout`]), never from a name. The parts:
//! - [`weights`]: safetensors through a loader that names a missing or misshapen tensor and notices one
//!   that nothing used;
//! - [`tokenizer`] and [`clip`]: the prompt to text embeddings;
//! - [`unet`]: the denoiser (candle-transformers' UNet, configured from `unet/config.json`);
//! - [`vae`]: pixels to latents and back;
//! - [`scheduler`]: the sampling schedules diffusers implements, step for step;
//! - [`noise`]: every random draw, from Pixzoo's own seeded generator;
//! - [`pipeline`]: text-to-image, image-to-image and inpainting, as diffusers' pipelines run them.

pub mod clip;
pub mod layout;
pub mod noise;
pub mod pipeline;
pub mod scheduler;
pub mod taesd;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod weights;

use std::path::PathBuf;

pub use candle_core::{DType, Device, Tensor};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum DiffusionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid config: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("tokenizer in {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("{0}")]
    Input(String),
    #[error("cancelled")]
    Cancelled,
    #[error("tensor computation failed: {0}")]
    Compute(#[from] candle_core::Error),
}

pub type Result<T, E = DiffusionError> = std::result::Result<T, E>;
