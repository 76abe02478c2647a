//! diffusers' `EulerDiscreteScheduler` and `EulerAncestralDiscreteScheduler`: Karras et al.'s Euler
//! method over sigmas, the ancestral variant adding fresh noise at each step.

use candle_core::Tensor;

use super::common::{Common, Prediction, Spacing};
use super::config::SchedulerConfig;
use crate::server::diffusion::noise::Noise;
use crate::server::diffusion::Result;

#[derive(Debug, Clone)]
pub struct Euler {
    pub timesteps: Vec<f64>,
    /// One per step, then the final 0.
    sigmas: Vec<f64>,
    prediction: Prediction,
    spacing: Spacing,
    ancestral: bool,
}

impl Euler {
    pub fn new(
        common: Common,
        config: &SchedulerConfig,
        steps: usize,
        ancestral: bool,
    ) -> std::result::Result<Self, String> {
        if config.use_karras_sigmas {
            return Err("`use_karras_sigmas` is not supported".into());
        }
        if let Some(kind) = config
            .interpolation_type
            .as_deref()
            .filter(|k| *k != "linear")
        {
            return Err(format!("`interpolation_type` = {kind:?} is not supported"));
        }
        if let Some(kind) = config.final_sigmas_type.as_deref().filter(|k| *k != "zero") {
            return Err(format!("`final_sigmas_type` = {kind:?} is not supported"));
        }
        let train: Vec<f64> = common
            .alphas_cumprod
            .iter()
            .map(|a| (((1.0 - a) / a).sqrt()) as f64)
            .collect();
        let timesteps = common.timesteps(steps);
        // `np.interp` over the training sigmas at each (possibly fractional) timestep, kept as f32.
        let mut sigmas: Vec<f64> = timesteps
            .iter()
            .map(|t| f64::from(interp(&train, *t) as f32))
            .collect();
        sigmas.push(0.0);
        Ok(Euler {
            timesteps,
            sigmas,
            prediction: common.prediction,
            spacing: common.spacing,
            ancestral,
        })
    }

    pub fn init_noise_sigma(&self) -> f64 {
        let max = self.sigmas.iter().copied().fold(0.0, f64::max);
        match self.spacing {
            Spacing::Linspace | Spacing::Trailing => max,
            Spacing::Leading => (max * max + 1.0).sqrt(),
        }
    }

    pub fn scale_model_input(&self, sample: &Tensor, index: usize) -> Result<Tensor> {
        let sigma = self.sigmas[index];
        Ok((sample / (sigma * sigma + 1.0).sqrt())?)
    }

    pub fn step(
        &self,
        output: &Tensor,
        index: usize,
        sample: &Tensor,
        noise: &mut dyn Noise,
    ) -> Result<Tensor> {
        let sigma = self.sigmas[index];
        let next = self.sigmas[index + 1];
        let original = match self.prediction {
            Prediction::Epsilon => (sample - (output * sigma)?)?,
            Prediction::Velocity => {
                let a = (output * (-sigma / (sigma * sigma + 1.0).sqrt()))?;
                (a + (sample / (sigma * sigma + 1.0))?)?
            }
        };
        let derivative = ((sample - original)? / sigma)?;
        if self.ancestral {
            let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).sqrt();
            let down = (next * next - up * up).sqrt();
            let prev = (sample + (derivative * (down - sigma))?)?;
            let eps = noise
                .draw(sample.dims(), sample.device())?
                .to_dtype(sample.dtype())?;
            Ok((prev + (eps * up)?)?)
        } else {
            // `s_churn` = 0 as in every pipeline: no noise added, none drawn.
            Ok((sample + (derivative * (next - sigma))?)?)
        }
    }

    pub fn add_noise(&self, original: &Tensor, noise: &Tensor, index: usize) -> Result<Tensor> {
        Ok((original + (noise * self.sigmas[index])?)?)
    }
}

/// `np.interp(x, arange(len(values)), values)`.
fn interp(values: &[f64], x: f64) -> f64 {
    let last = values.len() - 1;
    if x <= 0.0 {
        return values[0];
    }
    if x >= last as f64 {
        return values[last];
    }
    let i = x.floor() as usize;
    let frac = x - i as f64;
    values[i] + (values[i + 1] - values[i]) * frac
}
