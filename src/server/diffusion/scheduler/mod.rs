//! The sampling schedules a model's `scheduler/scheduler_config.json` names, implemented to match
//! diffusers' schedulers of the same name step for step: the same timesteps for each
//! `timestep_spacing`, the same sigmas, the same update, the same random draws in the same order.
//!
//! A [`Scheduler`] is built for one run (a number of steps); the pipeline walks its steps by index.

mod common;
mod config;
mod ddim;
mod euler;

pub use common::{Prediction, Spacing};
pub use config::SchedulerConfig;

use candle_core::Tensor;

use common::Common;

use super::noise::Noise;
use super::Result;

/// The classes implemented.
pub const SUPPORTED: &[&str] = &[
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "DDIMScheduler",
];

/// One run's schedule.
#[derive(Debug, Clone)]
pub enum Scheduler {
    Euler(euler::Euler),
    Ddim(ddim::Ddim),
}

impl Scheduler {
    /// The schedule for `steps` inference steps, or why this config cannot be followed.
    pub fn new(config: &SchedulerConfig, steps: usize) -> std::result::Result<Self, String> {
        if steps == 0 || steps > config.num_train_timesteps {
            return Err(format!(
                "{steps} steps is outside 1..={}",
                config.num_train_timesteps
            ));
        }
        let common = Common::new(config)?;
        match config.class_name.as_str() {
            "EulerDiscreteScheduler" => Ok(Scheduler::Euler(euler::Euler::new(
                common, config, steps, false,
            )?)),
            "EulerAncestralDiscreteScheduler" => Ok(Scheduler::Euler(euler::Euler::new(
                common, config, steps, true,
            )?)),
            "DDIMScheduler" => Ok(Scheduler::Ddim(ddim::Ddim::new(common, config, steps)?)),
            other => Err(format!(
                "scheduler `{other}` is not implemented (implemented: {})",
                SUPPORTED.join(", ")
            )),
        }
    }

    /// The UNet's timestep at each step.
    pub fn timesteps(&self) -> &[f64] {
        match self {
            Scheduler::Euler(s) => &s.timesteps,
            Scheduler::Ddim(s) => &s.timesteps,
        }
    }

    /// The spread of the initial noise for text-to-image.
    pub fn init_noise_sigma(&self) -> f64 {
        match self {
            Scheduler::Euler(s) => s.init_noise_sigma(),
            Scheduler::Ddim(_) => 1.0,
        }
    }

    /// The UNet's input at step `index`.
    pub fn scale_model_input(&self, sample: &Tensor, index: usize) -> Result<Tensor> {
        match self {
            Scheduler::Euler(s) => s.scale_model_input(sample, index),
            Scheduler::Ddim(_) => Ok(sample.clone()),
        }
    }

    /// The sample after step `index`, given the UNet's (guided) prediction.
    pub fn step(
        &self,
        prediction: &Tensor,
        index: usize,
        sample: &Tensor,
        noise: &mut dyn Noise,
    ) -> Result<Tensor> {
        match self {
            Scheduler::Euler(s) => s.step(prediction, index, sample, noise),
            Scheduler::Ddim(s) => s.step(prediction, index, sample),
        }
    }

    /// `original` noised to the level of step `index` (image-to-image's start, inpainting's blend).
    pub fn add_noise(&self, original: &Tensor, noise: &Tensor, index: usize) -> Result<Tensor> {
        match self {
            Scheduler::Euler(s) => s.add_noise(original, noise, index),
            Scheduler::Ddim(s) => s.add_noise(original, noise, index),
        }
    }
}
