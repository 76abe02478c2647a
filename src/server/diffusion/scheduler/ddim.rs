//! diffusers' `DDIMScheduler`, deterministic (`eta` = 0, as its pipelines call it).

use candle_core::Tensor;

use super::common::{Common, Prediction};
use super::config::SchedulerConfig;
use crate::server::diffusion::Result;

#[derive(Debug, Clone)]
pub struct Ddim {
    pub timesteps: Vec<f64>,
    alphas_cumprod: Vec<f32>,
    final_alpha: f32,
    /// diffusers steps back by `num_train_timesteps // steps`, whatever the spacing.
    stride: usize,
    prediction: Prediction,
    clip: Option<f64>,
}

impl Ddim {
    pub fn new(
        common: Common,
        config: &SchedulerConfig,
        steps: usize,
    ) -> std::result::Result<Self, String> {
        // DDIM's timesteps are integers: linspace spacing rounds them.
        let timesteps = common
            .timesteps(steps)
            .into_iter()
            .map(f64::round_ties_even)
            .collect();
        let final_alpha = if config.set_alpha_to_one {
            1.0
        } else {
            common.alphas_cumprod[0]
        };
        Ok(Ddim {
            timesteps,
            stride: common.train_steps / steps,
            alphas_cumprod: common.alphas_cumprod,
            final_alpha,
            prediction: common.prediction,
            clip: config.clip_sample.then_some(config.clip_sample_range),
        })
    }

    fn alpha(&self, t: i64) -> f64 {
        if t >= 0 {
            f64::from(self.alphas_cumprod[t as usize])
        } else {
            f64::from(self.final_alpha)
        }
    }

    pub fn step(&self, output: &Tensor, index: usize, sample: &Tensor) -> Result<Tensor> {
        let t = self.timesteps[index] as i64;
        let alpha = self.alpha(t);
        let alpha_prev = self.alpha(t - self.stride as i64);
        let beta = 1.0 - alpha;
        let (original, epsilon) = match self.prediction {
            Prediction::Epsilon => {
                let original = ((sample - (output * beta.sqrt())?)? / alpha.sqrt())?;
                (original, output.clone())
            }
            Prediction::Velocity => {
                let original = ((sample * alpha.sqrt())? - (output * beta.sqrt())?)?;
                let epsilon = ((output * alpha.sqrt())? + (sample * beta.sqrt())?)?;
                (original, epsilon)
            }
        };
        let original = match self.clip {
            Some(range) => original.clamp(-range, range)?,
            None => original,
        };
        let direction = (epsilon * (1.0 - alpha_prev).sqrt())?;
        Ok(((original * alpha_prev.sqrt())? + direction)?)
    }

    pub fn add_noise(&self, original: &Tensor, noise: &Tensor, index: usize) -> Result<Tensor> {
        let alpha = self.alpha(self.timesteps[index] as i64);
        Ok(((original * alpha.sqrt())? + (noise * (1.0 - alpha).sqrt())?)?)
    }
}
