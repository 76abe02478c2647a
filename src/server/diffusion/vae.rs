//! The autoencoder (diffusers' `AutoencoderKL`): pixels to latents for image-to-image and inpainting,
//! latents to pixels at the end. Built from candle-transformers' blocks, configured from
//! `vae/config.json`: candle's own `AutoEncoderKL` hides the latent distribution's mean and spread,
//! and sampling it must draw from Pixzoo's generator ([`super::noise`]) to be reproducible.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{conv2d, group_norm, Conv2d, Conv2dConfig, GroupNorm, VarBuilder};
use candle_transformers::models::stable_diffusion::unet_2d_blocks::{
    DownEncoderBlock2D, DownEncoderBlock2DConfig, UNetMidBlock2D, UNetMidBlock2DConfig,
    UpDecoderBlock2D, UpDecoderBlock2DConfig,
};
use serde::Deserialize;

use super::layout::Layout;
use super::noise::Noise;
use super::weights::Weights;
use super::{DiffusionError, Result};

/// `vae/config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct VaeConfig {
    #[serde(default = "three")]
    pub in_channels: usize,
    #[serde(default = "three")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    #[serde(default = "one")]
    pub layers_per_block: usize,
    #[serde(default = "four")]
    pub latent_channels: usize,
    #[serde(default = "thirty_two")]
    pub norm_num_groups: usize,
    #[serde(default = "scaling_factor")]
    pub scaling_factor: f64,
    pub shift_factor: Option<f64>,
    #[serde(default = "yes")]
    pub use_quant_conv: bool,
    #[serde(default = "yes")]
    pub use_post_quant_conv: bool,
    #[serde(default = "yes")]
    pub mid_block_add_attention: bool,
    pub act_fn: Option<String>,
}

fn one() -> usize {
    1
}
fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn thirty_two() -> usize {
    32
}
fn scaling_factor() -> f64 {
    0.18215
}
fn yes() -> bool {
    true
}

impl VaeConfig {
    /// How many pixels one latent covers on each side.
    pub fn scale_factor(&self) -> usize {
        1 << (self.block_out_channels.len().saturating_sub(1))
    }

    fn check(&self) -> std::result::Result<(), String> {
        // Stable Diffusion's VAE has four blocks; more than eight is not a VAE this code knows.
        if self.block_out_channels.is_empty()
            || self.block_out_channels.len() > 8
            || self.down_block_types.len() != self.block_out_channels.len()
            || self.up_block_types.len() != self.block_out_channels.len()
        {
            return Err("`block_out_channels` and the block types disagree in length".into());
        }
        if let Some(t) = self
            .down_block_types
            .iter()
            .find(|t| *t != "DownEncoderBlock2D")
        {
            return Err(format!("down block type `{t}` is not supported"));
        }
        if let Some(t) = self
            .up_block_types
            .iter()
            .find(|t| *t != "UpDecoderBlock2D")
        {
            return Err(format!("up block type `{t}` is not supported"));
        }
        if !self.mid_block_add_attention {
            return Err("`mid_block_add_attention` = false is not supported".into());
        }
        if let Some(act) = self.act_fn.as_deref().filter(|a| *a != "silu") {
            return Err(format!("`act_fn` = {act:?} is not supported"));
        }
        if let Some(c) = self
            .block_out_channels
            .iter()
            .find(|c| **c % self.norm_num_groups != 0)
        {
            return Err(format!(
                "{c} channels do not split into {} groups",
                self.norm_num_groups
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Encoder {
    conv_in: Conv2d,
    down: Vec<DownEncoderBlock2D>,
    mid: UNetMidBlock2D,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

#[derive(Debug)]
struct Decoder {
    conv_in: Conv2d,
    mid: UNetMidBlock2D,
    up: Vec<UpDecoderBlock2D>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

#[derive(Debug)]
pub struct Vae {
    encoder: Encoder,
    decoder: Decoder,
    quant_conv: Option<Conv2d>,
    post_quant_conv: Option<Conv2d>,
    pub config: VaeConfig,
}

const PAD1: Conv2dConfig = Conv2dConfig {
    padding: 1,
    stride: 1,
    dilation: 1,
    groups: 1,
    cudnn_fwd_algo: None,
};

fn mid_block(
    vb: VarBuilder,
    channels: usize,
    c: &VaeConfig,
) -> candle_core::Result<UNetMidBlock2D> {
    let config = UNetMidBlock2DConfig {
        resnet_eps: 1e-6,
        output_scale_factor: 1.0,
        attn_num_head_channels: None,
        resnet_groups: Some(c.norm_num_groups),
        ..Default::default()
    };
    UNetMidBlock2D::new(vb, channels, None, config)
}

impl Vae {
    pub fn load(layout: &Layout, dtype: DType, device: &Device) -> Result<Self> {
        let config: VaeConfig = layout.config("vae")?;
        config
            .check()
            .map_err(|message| DiffusionError::Unsupported {
                path: layout.part("vae").join("config.json"),
                message,
            })?;
        let weights = Weights::open(layout.weights("vae")?)?;
        let vae =
            Self::build(weights.builder(dtype, device), config).map_err(|e| weights.error(e))?;
        weights.finish()?;
        Ok(vae)
    }

    fn build(vb: VarBuilder, c: VaeConfig) -> candle_core::Result<Self> {
        let channels = &c.block_out_channels;
        let last = *channels.last().expect("checked non-empty");
        let latent = c.latent_channels;

        let e = vb.pp("encoder");
        let down = (0..channels.len())
            .map(|i| {
                let config = DownEncoderBlock2DConfig {
                    num_layers: c.layers_per_block,
                    resnet_eps: 1e-6,
                    resnet_groups: c.norm_num_groups,
                    add_downsample: i + 1 < channels.len(),
                    downsample_padding: 0,
                    ..Default::default()
                };
                let input = if i == 0 { channels[0] } else { channels[i - 1] };
                DownEncoderBlock2D::new(
                    e.pp("down_blocks").pp(i.to_string()),
                    input,
                    channels[i],
                    config,
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let encoder = Encoder {
            conv_in: conv2d(c.in_channels, channels[0], 3, PAD1, e.pp("conv_in"))?,
            down,
            mid: mid_block(e.pp("mid_block"), last, &c)?,
            norm_out: group_norm(c.norm_num_groups, last, 1e-6, e.pp("conv_norm_out"))?,
            conv_out: conv2d(last, 2 * latent, 3, PAD1, e.pp("conv_out"))?,
        };

        let d = vb.pp("decoder");
        let reversed: Vec<usize> = channels.iter().rev().copied().collect();
        let up = (0..reversed.len())
            .map(|i| {
                let config = UpDecoderBlock2DConfig {
                    num_layers: c.layers_per_block + 1,
                    resnet_eps: 1e-6,
                    resnet_groups: c.norm_num_groups,
                    add_upsample: i + 1 < reversed.len(),
                    ..Default::default()
                };
                let input = if i == 0 { reversed[0] } else { reversed[i - 1] };
                UpDecoderBlock2D::new(
                    d.pp("up_blocks").pp(i.to_string()),
                    input,
                    reversed[i],
                    config,
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let decoder = Decoder {
            conv_in: conv2d(latent, last, 3, PAD1, d.pp("conv_in"))?,
            mid: mid_block(d.pp("mid_block"), last, &c)?,
            up,
            norm_out: group_norm(c.norm_num_groups, channels[0], 1e-6, d.pp("conv_norm_out"))?,
            conv_out: conv2d(channels[0], c.out_channels, 3, PAD1, d.pp("conv_out"))?,
        };
        let quant_conv = c
            .use_quant_conv
            .then(|| {
                conv2d(
                    2 * latent,
                    2 * latent,
                    1,
                    Default::default(),
                    vb.pp("quant_conv"),
                )
            })
            .transpose()?;
        let post_quant_conv = c
            .use_post_quant_conv
            .then(|| {
                conv2d(
                    latent,
                    latent,
                    1,
                    Default::default(),
                    vb.pp("post_quant_conv"),
                )
            })
            .transpose()?;
        Ok(Vae {
            encoder,
            decoder,
            quant_conv,
            post_quant_conv,
            config: c,
        })
    }

    /// The latent distribution's mean and standard deviation for `pixels` in `[-1, 1]`, NCHW.
    pub fn encode(&self, pixels: &Tensor) -> Result<(Tensor, Tensor)> {
        let e = &self.encoder;
        let mut xs = e.conv_in.forward(pixels)?;
        for block in &e.down {
            xs = block.forward(&xs)?;
        }
        let xs = e.mid.forward(&xs, None)?;
        let xs = candle_nn::ops::silu(&e.norm_out.forward(&xs)?)?;
        let mut moments = e.conv_out.forward(&xs)?;
        if let Some(conv) = &self.quant_conv {
            moments = conv.forward(&moments)?;
        }
        let parts = moments.chunk(2, 1)?;
        // diffusers' `DiagonalGaussianDistribution` clamps the log-variance to [-30, 20].
        let std = (parts[1].clamp(-30f32, 20f32)? * 0.5)?.exp()?;
        Ok((parts[0].clone(), std))
    }

    /// Latents for the UNet: a sample of the encoding, shifted and scaled as the config says.
    pub fn encode_sample(&self, pixels: &Tensor, noise: &mut dyn Noise) -> Result<Tensor> {
        let (mean, std) = self.encode(pixels)?;
        let eps = noise
            .draw(mean.dims(), mean.device())?
            .to_dtype(mean.dtype())?;
        let sample = (mean + (std * eps)?)?;
        let shift = self.config.shift_factor.unwrap_or(0.0);
        Ok(((sample - shift)? * self.config.scaling_factor)?)
    }

    /// Pixels in about `[-1, 1]` for the UNet's latents (undoing the scale and shift first).
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let shift = self.config.shift_factor.unwrap_or(0.0);
        let xs = ((latents / self.config.scaling_factor)? + shift)?;
        let xs = match &self.post_quant_conv {
            Some(conv) => conv.forward(&xs)?,
            None => xs,
        };
        let d = &self.decoder;
        let mut xs = d.mid.forward(&d.conv_in.forward(&xs)?, None)?;
        for block in &d.up {
            xs = block.forward(&xs)?;
        }
        let xs = candle_nn::ops::silu(&d.norm_out.forward(&xs)?)?;
        Ok(d.conv_out.forward(&xs)?)
    }
}
