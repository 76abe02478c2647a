//! Every random draw a pipeline makes (the initial latents, the encoder's sample, each ancestral
//! step's noise) goes through a [`Noise`], so the same seed gives the same image on the same build and
//! device, and the parity tests can replay the reference implementation's draws in the same order.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::Result;

/// A source of standard normal tensors, drawn in the order the pipeline asks.
pub trait Noise: Send {
    fn draw(&mut self, shape: &[usize], device: &Device) -> Result<Tensor>;
}

/// Pixzoo's own generator: ChaCha8 from the generation's seed, normal values drawn on the CPU in
/// row-major order (so a GPU gets the same numbers), as `f32`.
pub struct SeededNoise {
    rng: ChaCha8Rng,
}

impl SeededNoise {
    pub fn new(seed: u64) -> Self {
        SeededNoise {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Noise for SeededNoise {
    fn draw(&mut self, shape: &[usize], device: &Device) -> Result<Tensor> {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?.to_device(device)?)
    }
}
