//! What every scheduler shares: the noise schedule over the training timesteps and how the inference
//! steps are spread over it.

use super::config::SchedulerConfig;

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    Velocity,
}

/// How the inference steps are spread over the training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Leading,
    Trailing,
    Linspace,
}

/// The parts every scheduler shares: the noise schedule over the training timesteps.
#[derive(Debug, Clone)]
pub struct Common {
    /// `alphas_cumprod`, computed in `f32` as diffusers does.
    pub alphas_cumprod: Vec<f32>,
    pub prediction: Prediction,
    pub spacing: Spacing,
    pub train_steps: usize,
    pub steps_offset: usize,
}

impl Common {
    pub fn new(c: &SchedulerConfig) -> std::result::Result<Self, String> {
        if c.num_train_timesteps == 0 || c.num_train_timesteps > 10_000 {
            return Err(format!(
                "`num_train_timesteps` = {} is out of range",
                c.num_train_timesteps
            ));
        }
        let n = c.num_train_timesteps;
        let betas: Vec<f32> = match (&c.trained_betas, c.beta_schedule.as_str()) {
            (Some(betas), _) if betas.len() == n => betas.iter().map(|b| *b as f32).collect(),
            (Some(_), _) => return Err("`trained_betas` has the wrong length".into()),
            (None, "linear") => linspace(c.beta_start, c.beta_end, n),
            (None, "scaled_linear") => linspace(c.beta_start.sqrt(), c.beta_end.sqrt(), n)
                .into_iter()
                .map(|b| b * b)
                .collect(),
            (None, other) => return Err(format!("`beta_schedule` = {other:?} is not supported")),
        };
        if c.rescale_betas_zero_snr {
            return Err("`rescale_betas_zero_snr` is not supported".into());
        }
        if c.thresholding {
            return Err("`thresholding` is not supported".into());
        }
        let mut product = 1.0f32;
        let alphas_cumprod = betas
            .iter()
            .map(|beta| {
                product *= 1.0 - beta;
                product
            })
            .collect();
        let prediction = match c.prediction_type.as_str() {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::Velocity,
            other => return Err(format!("`prediction_type` = {other:?} is not supported")),
        };
        let spacing = match c.timestep_spacing.as_str() {
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            "linspace" => Spacing::Linspace,
            other => return Err(format!("`timestep_spacing` = {other:?} is not supported")),
        };
        Ok(Common {
            alphas_cumprod,
            prediction,
            spacing,
            train_steps: n,
            steps_offset: c.steps_offset,
        })
    }

    /// The inference timesteps, highest first, as `numpy` computes them in diffusers' `set_timesteps`
    /// (`round` there is round-half-to-even).
    pub fn timesteps(&self, steps: usize) -> Vec<f64> {
        let n = self.train_steps as f64;
        match self.spacing {
            Spacing::Linspace => {
                let last = n - 1.0;
                (0..steps)
                    .rev()
                    .map(|k| {
                        if steps == 1 {
                            0.0
                        } else {
                            last * k as f64 / (steps - 1) as f64
                        }
                    })
                    .collect()
            }
            Spacing::Leading => {
                let ratio = (self.train_steps / steps) as f64;
                (0..steps)
                    .rev()
                    .map(|k| (k as f64 * ratio).round_ties_even() + self.steps_offset as f64)
                    .collect()
            }
            Spacing::Trailing => {
                let ratio = n / steps as f64;
                (0..steps)
                    .map(|k| (n - k as f64 * ratio).round_ties_even() - 1.0)
                    .collect()
            }
        }
    }
}

/// `torch.linspace(start, end, n, dtype=float32)`.
fn linspace(start: f64, end: f64, n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![start as f32];
    }
    let step = (end - start) / (n - 1) as f64;
    (0..n).map(|i| (start + step * i as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::diffusion::scheduler::config::SchedulerConfig;

    fn config(spacing: &str) -> SchedulerConfig {
        serde_json::from_value(serde_json::json!({
            "_class_name": "EulerDiscreteScheduler",
            "beta_schedule": "scaled_linear",
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "steps_offset": 1,
            "timestep_spacing": spacing,
        }))
        .unwrap()
    }

    #[test]
    fn timesteps_follow_each_spacing() {
        let ts = |spacing, steps| Common::new(&config(spacing)).unwrap().timesteps(steps);
        assert_eq!(ts("trailing", 1), vec![999.0]);
        assert_eq!(ts("trailing", 4), vec![999.0, 749.0, 499.0, 249.0]);
        assert_eq!(ts("leading", 4), vec![751.0, 501.0, 251.0, 1.0]);
        assert_eq!(ts("linspace", 4), vec![999.0, 666.0, 333.0, 0.0]);
        // numpy rounds half to even: 1000 - 3 × 62.5 = 812.5 becomes 812, then minus one.
        assert_eq!(ts("trailing", 16)[3], 811.0);
    }
}
