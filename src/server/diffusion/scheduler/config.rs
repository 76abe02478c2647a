//! `scheduler/scheduler_config.json`.

use serde::Deserialize;

/// `scheduler_config.json`, the keys these schedulers read.
#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerConfig {
    #[serde(rename = "_class_name")]
    pub class_name: String,
    #[serde(default = "train_steps")]
    pub num_train_timesteps: usize,
    #[serde(default = "beta_start")]
    pub beta_start: f64,
    #[serde(default = "beta_end")]
    pub beta_end: f64,
    #[serde(default = "beta_schedule")]
    pub beta_schedule: String,
    pub trained_betas: Option<Vec<f64>>,
    #[serde(default = "epsilon")]
    pub prediction_type: String,
    #[serde(default = "leading")]
    pub timestep_spacing: String,
    #[serde(default)]
    pub steps_offset: usize,
    #[serde(default)]
    pub set_alpha_to_one: bool,
    #[serde(default)]
    pub clip_sample: bool,
    #[serde(default = "one")]
    pub clip_sample_range: f64,
    #[serde(default)]
    pub use_karras_sigmas: bool,
    #[serde(default)]
    pub rescale_betas_zero_snr: bool,
    pub interpolation_type: Option<String>,
    pub final_sigmas_type: Option<String>,
    #[serde(default)]
    pub thresholding: bool,
}

fn train_steps() -> usize {
    1000
}
fn beta_start() -> f64 {
    0.0001
}
fn beta_end() -> f64 {
    0.02
}
fn beta_schedule() -> String {
    "linear".into()
}
fn epsilon() -> String {
    "epsilon".into()
}
fn leading() -> String {
    "leading".into()
}
fn one() -> f64 {
    1.0
}
