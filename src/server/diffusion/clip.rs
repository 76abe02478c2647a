//! CLIP's text transformer, as transformers' `CLIPTextModel` computes it, configured from
//! `text_encoder/config.json`.
//!
//! Written here rather than taken from candle-transformers: its CLIP config's fields are private (only
//! the SD 1.5/2.1/XL sizes can be built, so neither a fine-tune's nor a test's own sizes), and its
//! "gelu" is the tanh approximation where transformers' is the exact one.

use candle_core::{DType, Device, Tensor};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, Module, VarBuilder};
use serde::Deserialize;

use super::layout::Layout;
use super::weights::Weights;
use super::{DiffusionError, Result};

/// `text_encoder/config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "quick_gelu")]
    pub hidden_act: String,
    #[serde(default = "layer_norm_eps")]
    pub layer_norm_eps: f64,
    pub architectures: Option<Vec<String>>,
}

fn quick_gelu() -> String {
    "quick_gelu".into()
}
fn layer_norm_eps() -> f64 {
    1e-5
}

#[derive(Debug, Clone, Copy)]
enum Activation {
    QuickGelu,
    Gelu,
}

impl Activation {
    fn apply(self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::QuickGelu => xs * candle_nn::ops::sigmoid(&(xs * 1.702)?)?,
            Activation::Gelu => xs.gelu_erf(),
        }
    }
}

#[derive(Debug)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    scale: f64,
}

impl Attention {
    fn new(vb: VarBuilder, c: &ClipConfig) -> candle_core::Result<Self> {
        let d = c.hidden_size;
        Ok(Attention {
            q: linear(d, d, vb.pp("q_proj"))?,
            k: linear(d, d, vb.pp("k_proj"))?,
            v: linear(d, d, vb.pp("v_proj"))?,
            out: linear(d, d, vb.pp("out_proj"))?,
            heads: c.num_attention_heads,
            scale: ((d / c.num_attention_heads) as f64).powf(-0.5),
        })
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, d) = xs.dims3()?;
        let head = d / self.heads;
        let split = |x: Tensor| -> candle_core::Result<Tensor> {
            x.reshape((b, t, self.heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split((self.q.forward(xs)? * self.scale)?)?;
        let k = split(self.k.forward(xs)?)?;
        let v = split(self.v.forward(xs)?)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&out)
    }
}

#[derive(Debug)]
struct Layer {
    norm1: LayerNorm,
    attention: Attention,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl Layer {
    fn forward(&self, xs: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let xs = (xs + self.attention.forward(&self.norm1.forward(xs)?, mask)?)?;
        let hidden = self
            .activation
            .apply(&self.fc1.forward(&self.norm2.forward(&xs)?)?)?;
        xs + self.fc2.forward(&hidden)?
    }
}

/// The text encoder: token ids to the last hidden state after the final layer norm, which is what
/// Stable Diffusion's pipelines condition on.
#[derive(Debug)]
pub struct TextEncoder {
    tokens: Embedding,
    positions: Embedding,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    pub config: ClipConfig,
}

impl TextEncoder {
    pub fn load(layout: &Layout, dtype: DType, device: &Device) -> Result<Self> {
        let config: ClipConfig = layout.config("text_encoder")?;
        let path = layout.part("text_encoder").join("config.json");
        let activation = match config.hidden_act.as_str() {
            "quick_gelu" => Activation::QuickGelu,
            "gelu" => Activation::Gelu,
            other => {
                return Err(DiffusionError::Unsupported {
                    path,
                    message: format!("`hidden_act` = {other:?} is not supported"),
                })
            }
        };
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(DiffusionError::Config {
                path,
                message: "`hidden_size` does not split into `num_attention_heads`".into(),
            });
        }
        let weights = Weights::open(layout.weights("text_encoder")?)?;
        let encoder = Self::build(weights.builder(dtype, device), config, activation)
            .map_err(|e| weights.error(e))?;
        weights.finish()?;
        Ok(encoder)
    }

    fn build(vb: VarBuilder, c: ClipConfig, activation: Activation) -> candle_core::Result<Self> {
        // transformers before 5 saved `CLIPTextModel` under `text_model.`, as every published SD
        // repository has it; transformers 5 saves without the prefix.
        let vb = if vb.contains_tensor("text_model.embeddings.token_embedding.weight") {
            vb.pp("text_model")
        } else {
            vb
        };
        let embeddings = vb.pp("embeddings");
        let tokens = embedding(
            c.vocab_size,
            c.hidden_size,
            embeddings.pp("token_embedding"),
        )?;
        let positions = embedding(
            c.max_position_embeddings,
            c.hidden_size,
            embeddings.pp("position_embedding"),
        )?;
        let layers_vb = vb.pp("encoder").pp("layers");
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let vb = layers_vb.pp(i.to_string());
                Ok(Layer {
                    norm1: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("layer_norm1"))?,
                    attention: Attention::new(vb.pp("self_attn"), &c)?,
                    norm2: layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("layer_norm2"))?,
                    fc1: linear(c.hidden_size, c.intermediate_size, vb.pp("mlp").pp("fc1"))?,
                    fc2: linear(c.intermediate_size, c.hidden_size, vb.pp("mlp").pp("fc2"))?,
                    activation,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let final_norm = layer_norm(c.hidden_size, c.layer_norm_eps, vb.pp("final_layer_norm"))?;
        // transformers keeps `position_ids` as a buffer; older exports saved it. Nothing reads it (the
        // positions are 0..n), but it is part of the file, not a stray tensor.
        if vb.pp("embeddings").contains_tensor("position_ids") {
            let _ = vb.pp("embeddings").get_unchecked("position_ids")?;
        }
        Ok(TextEncoder {
            tokens,
            positions,
            layers,
            final_norm,
            config: c,
        })
    }

    /// `ids` is `(batch, tokens)` of `u32`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (_, t) = ids.dims2()?;
        if t > self.config.max_position_embeddings {
            return Err(DiffusionError::Input(format!(
                "{t} tokens is more than the text encoder's {}",
                self.config.max_position_embeddings
            )));
        }
        let device = ids.device();
        let positions = Tensor::arange(0u32, t as u32, device)?.unsqueeze(0)?;
        let xs = self
            .tokens
            .forward(ids)?
            .broadcast_add(&self.positions.forward(&positions)?)?;
        let mask = causal_mask(t, xs.dtype(), device)?;
        let mut xs = xs;
        for layer in &self.layers {
            xs = layer.forward(&xs, &mask)?;
        }
        Ok(self.final_norm.forward(&xs)?)
    }
}

/// `(1, 1, t, t)`: 0 on and below the diagonal, the dtype's lowest value above it.
fn causal_mask(t: usize, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j > i { f32::MIN } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (1, 1, t, t), device)?.to_dtype(dtype)
}
