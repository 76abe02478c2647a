//! TAESD (diffusers' `AutoencoderTiny`, madebyollin/taesd): a small autoencoder over the same latents
//! as Stable Diffusion's VAE, a few times faster to decode, for previews of the steps and for a final
//! decode where speed matters more than detail. Configured from its `config.json`; its layers are
//! `nn.Sequential`s in diffusers, so the weight names are positions, counted here as diffusers
//! counts them.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{conv2d, conv2d_no_bias, Conv2d, Conv2dConfig, VarBuilder};
use serde::Deserialize;

use super::layout::{read_json, weight_files};
use super::weights::Weights;
use super::{DiffusionError, Result};

/// `config.json` of an `AutoencoderTiny`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaesdConfig {
    #[serde(rename = "_class_name")]
    pub class_name: String,
    #[serde(default = "three")]
    pub in_channels: usize,
    #[serde(default = "three")]
    pub out_channels: usize,
    #[serde(default = "four")]
    pub latent_channels: usize,
    pub encoder_block_out_channels: Vec<usize>,
    pub decoder_block_out_channels: Vec<usize>,
    pub num_encoder_blocks: Vec<usize>,
    pub num_decoder_blocks: Vec<usize>,
    #[serde(default = "relu")]
    pub act_fn: String,
    #[serde(default = "nearest")]
    pub upsample_fn: String,
    #[serde(default = "two")]
    pub upsampling_scaling_factor: usize,
    #[serde(default = "one")]
    pub scaling_factor: f64,
}

fn one() -> f64 {
    1.0
}
fn two() -> usize {
    2
}
fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn relu() -> String {
    "relu".into()
}
fn nearest() -> String {
    "nearest".into()
}

impl TaesdConfig {
    fn check(&self) -> std::result::Result<(), String> {
        if self.class_name != "AutoencoderTiny" {
            return Err(format!("`{}` is not an AutoencoderTiny", self.class_name));
        }
        let (enc, dec) = (
            &self.encoder_block_out_channels,
            &self.decoder_block_out_channels,
        );
        if enc.is_empty()
            || enc.len() > 8
            || enc.len() != self.num_encoder_blocks.len()
            || dec.is_empty()
            || dec.len() > 8
            || dec.len() != self.num_decoder_blocks.len()
        {
            return Err("block channels and block counts disagree".into());
        }
        if self
            .num_encoder_blocks
            .iter()
            .chain(&self.num_decoder_blocks)
            .any(|n| *n > 16)
        {
            return Err("more than 16 blocks at one level".into());
        }
        if self.act_fn != "relu" {
            return Err(format!("`act_fn` = {:?} is not supported", self.act_fn));
        }
        if self.upsample_fn != "nearest" || self.upsampling_scaling_factor != 2 {
            return Err("only nearest ×2 upsampling is supported".into());
        }
        Ok(())
    }
}

const PAD1: Conv2dConfig = Conv2dConfig {
    padding: 1,
    stride: 1,
    dilation: 1,
    groups: 1,
    cudnn_fwd_algo: None,
};

/// `conv → relu → conv → relu → conv`, plus the input (through a 1×1 conv when the width changes),
/// then relu.
#[derive(Debug)]
struct Block {
    convs: [Conv2d; 3],
    skip: Option<Conv2d>,
}

impl Block {
    fn new(vb: VarBuilder, input: usize, output: usize) -> candle_core::Result<Self> {
        let conv = vb.pp("conv");
        Ok(Block {
            convs: [
                conv2d(input, output, 3, PAD1, conv.pp("0"))?,
                conv2d(output, output, 3, PAD1, conv.pp("2"))?,
                conv2d(output, output, 3, PAD1, conv.pp("4"))?,
            ],
            skip: (input != output)
                .then(|| conv2d_no_bias(input, output, 1, Default::default(), vb.pp("skip")))
                .transpose()?,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.convs[0].forward(xs)?.relu()?;
        let h = self.convs[1].forward(&h)?.relu()?;
        let h = self.convs[2].forward(&h)?;
        let skip = match &self.skip {
            Some(conv) => conv.forward(xs)?,
            None => xs.clone(),
        };
        (h + skip)?.relu()
    }
}

#[derive(Debug)]
enum Layer {
    Conv(Conv2d),
    Relu,
    Block(Block),
    Upsample,
}

impl Layer {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Layer::Conv(conv) => conv.forward(xs),
            Layer::Relu => xs.relu(),
            Layer::Block(block) => block.forward(xs),
            Layer::Upsample => {
                let (_, _, h, w) = xs.dims4()?;
                xs.upsample_nearest2d(h * 2, w * 2)
            }
        }
    }
}

fn run(layers: &[Layer], xs: &Tensor) -> candle_core::Result<Tensor> {
    layers
        .iter()
        .try_fold(xs.clone(), |xs, layer| layer.forward(&xs))
}

#[derive(Debug)]
pub struct Taesd {
    encoder: Vec<Layer>,
    decoder: Vec<Layer>,
    pub config: TaesdConfig,
}

impl Taesd {
    /// Loads the `AutoencoderTiny` in `dir` (`config.json` and its safetensors).
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let config: TaesdConfig = read_json(&dir.join("config.json"))?;
        config
            .check()
            .map_err(|message| DiffusionError::Unsupported {
                path: dir.join("config.json"),
                message,
            })?;
        let weights = Weights::open(weight_files(dir)?)?;
        let taesd =
            Self::build(weights.builder(dtype, device), config).map_err(|e| weights.error(e))?;
        weights.finish()?;
        Ok(taesd)
    }

    fn build(vb: VarBuilder, c: TaesdConfig) -> candle_core::Result<Self> {
        // The encoder: a conv, then per level a strided conv (after the first) and its blocks.
        let e = vb.pp("encoder").pp("layers");
        let mut encoder = Vec::new();
        for (level, (&channels, &blocks)) in c
            .encoder_block_out_channels
            .iter()
            .zip(&c.num_encoder_blocks)
            .enumerate()
        {
            let at = e.pp(encoder.len().to_string());
            encoder.push(Layer::Conv(if level == 0 {
                conv2d(c.in_channels, channels, 3, PAD1, at)?
            } else {
                let stride = Conv2dConfig { stride: 2, ..PAD1 };
                let input = c.encoder_block_out_channels[level - 1];
                conv2d_no_bias(input, channels, 3, stride, at)?
            }));
            for _ in 0..blocks {
                encoder.push(Layer::Block(Block::new(
                    e.pp(encoder.len().to_string()),
                    channels,
                    channels,
                )?));
            }
        }
        let last = *c
            .encoder_block_out_channels
            .last()
            .expect("checked non-empty");
        encoder.push(Layer::Conv(conv2d(
            last,
            c.latent_channels,
            3,
            PAD1,
            e.pp(encoder.len().to_string()),
        )?));

        // The decoder: a conv and relu, then per level its blocks, and (but for the last) an upsample
        // and a conv without bias; the last level's conv has one.
        let d = vb.pp("decoder").pp("layers");
        let channels = &c.decoder_block_out_channels;
        let mut decoder = vec![
            Layer::Conv(conv2d(c.latent_channels, channels[0], 3, PAD1, d.pp("0"))?),
            Layer::Relu,
        ];
        for (level, (&width, &blocks)) in channels.iter().zip(&c.num_decoder_blocks).enumerate() {
            for _ in 0..blocks {
                decoder.push(Layer::Block(Block::new(
                    d.pp(decoder.len().to_string()),
                    width,
                    width,
                )?));
            }
            let last = level + 1 == channels.len();
            if !last {
                decoder.push(Layer::Upsample);
            }
            let at = d.pp(decoder.len().to_string());
            decoder.push(Layer::Conv(if last {
                conv2d(width, c.out_channels, 3, PAD1, at)?
            } else {
                conv2d_no_bias(width, width, 3, PAD1, at)?
            }));
        }
        Ok(Taesd {
            encoder,
            decoder,
            config: c,
        })
    }

    /// Pixels in about `[-1, 1]` for Stable Diffusion's (scaled) latents.
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let xs = (latents / self.config.scaling_factor)?;
        let xs = ((xs / 3.0)?.tanh()? * 3.0)?;
        Ok(run(&self.decoder, &xs)?.affine(2.0, -1.0)?)
    }

    /// Latents for pixels in `[-1, 1]`.
    pub fn encode(&self, pixels: &Tensor) -> Result<Tensor> {
        let xs = pixels.affine(0.5, 0.5)?;
        Ok((run(&self.encoder, &xs)? * self.config.scaling_factor)?)
    }
}
