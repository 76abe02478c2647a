//! The denoiser: candle-transformers' `UNet2DConditionModel`, configured from `unet/config.json`.
//!
//! diffusers' UNet has many switches; this reads each one that changes the computation and refuses a
//! value candle's UNet does not implement, naming the key, instead of loading something that would
//! silently compute another function.

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::stable_diffusion::unet_2d::{
    BlockConfig, UNet2DConditionModel, UNet2DConditionModelConfig,
};
use serde::Deserialize;

use super::layout::{Layout, PerBlock};
use super::weights::Weights;
use super::{DiffusionError, Result};

/// More blocks than any Stable Diffusion UNet has (four): a config asking for more is refused before
/// anything is sized from it.
const MAX_BLOCKS: usize = 8;

/// `unet/config.json`, the keys that matter.
#[derive(Debug, Clone, Deserialize)]
pub struct UnetConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    #[serde(default = "two")]
    pub layers_per_block: usize,
    pub attention_head_dim: Option<PerBlock>,
    pub num_attention_heads: Option<PerBlock>,
    pub cross_attention_dim: usize,
    #[serde(default)]
    pub use_linear_projection: bool,
    #[serde(default = "thirty_two")]
    pub norm_num_groups: usize,
    #[serde(default = "norm_eps")]
    pub norm_eps: f64,
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    #[serde(default)]
    pub freq_shift: f64,
    #[serde(default)]
    pub center_input_sample: bool,
    #[serde(default = "one")]
    pub downsample_padding: usize,
    #[serde(default = "one_f")]
    pub mid_block_scale_factor: f64,
    pub transformer_layers_per_block: Option<PerBlock>,
    pub sample_size: Option<usize>,
    /// Keys whose non-default values candle's UNet does not implement.
    pub time_cond_proj_dim: Option<serde_json::Value>,
    pub class_embed_type: Option<serde_json::Value>,
    pub addition_embed_type: Option<serde_json::Value>,
    pub encoder_hid_dim: Option<serde_json::Value>,
    #[serde(default)]
    pub only_cross_attention: serde_json::Value,
    #[serde(default)]
    pub dual_cross_attention: bool,
    pub resnet_time_scale_shift: Option<String>,
    pub mid_block_type: Option<String>,
    pub time_embedding_type: Option<String>,
    pub act_fn: Option<String>,
    pub conv_in_kernel: Option<usize>,
    pub conv_out_kernel: Option<usize>,
}

fn two() -> usize {
    2
}
fn one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}
fn thirty_two() -> usize {
    32
}
fn norm_eps() -> f64 {
    1e-5
}
fn yes() -> bool {
    true
}

impl UnetConfig {
    /// candle's config, or the first key it cannot honour.
    pub fn to_candle(&self) -> std::result::Result<UNet2DConditionModelConfig, String> {
        let unsupported = |key: &str, value: &dyn std::fmt::Debug| {
            Err(format!("`{key}` = {value:?} is not supported"))
        };
        if let Some(v) = self.time_cond_proj_dim.as_ref().filter(|v| !v.is_null()) {
            return unsupported("time_cond_proj_dim", v);
        }
        if let Some(v) = self.class_embed_type.as_ref().filter(|v| !v.is_null()) {
            return unsupported("class_embed_type", v);
        }
        if let Some(v) = self.addition_embed_type.as_ref().filter(|v| !v.is_null()) {
            return unsupported("addition_embed_type", v);
        }
        if let Some(v) = self.encoder_hid_dim.as_ref().filter(|v| !v.is_null()) {
            return unsupported("encoder_hid_dim", v);
        }
        if !matches!(
            self.only_cross_attention,
            serde_json::Value::Null | serde_json::Value::Bool(false)
        ) {
            return unsupported("only_cross_attention", &self.only_cross_attention);
        }
        if self.dual_cross_attention {
            return unsupported("dual_cross_attention", &true);
        }
        for (key, value, default) in [
            (
                "resnet_time_scale_shift",
                &self.resnet_time_scale_shift,
                "default",
            ),
            (
                "mid_block_type",
                &self.mid_block_type,
                "UNetMidBlock2DCrossAttn",
            ),
            (
                "time_embedding_type",
                &self.time_embedding_type,
                "positional",
            ),
            ("act_fn", &self.act_fn, "silu"),
        ] {
            if let Some(v) = value.as_deref().filter(|v| *v != default) {
                return unsupported(key, &v);
            }
        }
        for (key, value) in [
            ("conv_in_kernel", self.conv_in_kernel),
            ("conv_out_kernel", self.conv_out_kernel),
        ] {
            if let Some(v) = value.filter(|v| *v != 3) {
                return unsupported(key, &v);
            }
        }
        let blocks = self.block_out_channels.len();
        if blocks == 0
            || blocks > MAX_BLOCKS
            || self.down_block_types.len() != blocks
            || self.up_block_types.len() != blocks
        {
            return Err(format!(
                "{blocks} `block_out_channels` but {} down and {} up block types",
                self.down_block_types.len(),
                self.up_block_types.len()
            ));
        }
        // diffusers' legacy naming: without `num_attention_heads`, `attention_head_dim` is the number
        // of heads (which is what candle's `attention_head_dim` means too).
        let heads = self
            .num_attention_heads
            .as_ref()
            .or(self.attention_head_dim.as_ref())
            .unwrap_or(&PerBlock::One(8))
            .expand(blocks)
            .ok_or("`attention_head_dim` has a length other than the number of blocks")?;
        let layers = self
            .transformer_layers_per_block
            .as_ref()
            .unwrap_or(&PerBlock::One(1))
            .expand(blocks)
            .ok_or("`transformer_layers_per_block` has a length other than the number of blocks")?;
        let mut configs = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let cross = match self.down_block_types[i].as_str() {
                "CrossAttnDownBlock2D" => true,
                "DownBlock2D" => false,
                other => return Err(format!("down block type `{other}` is not supported")),
            };
            // candle builds up block i from down block (blocks - 1 - i), as SD's symmetric UNets are.
            let up = self.up_block_types[blocks - 1 - i].as_str();
            let expected = if cross {
                "CrossAttnUpBlock2D"
            } else {
                "UpBlock2D"
            };
            if up != expected {
                return Err(format!(
                    "up block {} is `{up}` where the mirror of down block {i} needs `{expected}`",
                    blocks - 1 - i
                ));
            }
            let channels = self.block_out_channels[i];
            if heads[i] == 0
                || !channels.is_multiple_of(heads[i])
                || !channels.is_multiple_of(self.norm_num_groups)
            {
                return Err(format!(
                    "block {i}: {channels} channels do not split into {} heads and {} groups",
                    heads[i], self.norm_num_groups
                ));
            }
            configs.push(BlockConfig {
                out_channels: channels,
                use_cross_attn: cross.then_some(layers[i]),
                attention_head_dim: heads[i],
            });
        }
        Ok(UNet2DConditionModelConfig {
            center_input_sample: self.center_input_sample,
            flip_sin_to_cos: self.flip_sin_to_cos,
            freq_shift: self.freq_shift,
            blocks: configs,
            layers_per_block: self.layers_per_block,
            downsample_padding: self.downsample_padding,
            mid_block_scale_factor: self.mid_block_scale_factor,
            norm_num_groups: self.norm_num_groups,
            norm_eps: self.norm_eps,
            cross_attention_dim: self.cross_attention_dim,
            sliced_attention_size: None,
            use_linear_projection: self.use_linear_projection,
        })
    }
}

/// The UNet with what the pipeline needs to know about it.
pub struct Unet {
    pub model: UNet2DConditionModel,
    pub config: UnetConfig,
}

impl std::fmt::Debug for Unet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unet")
            .field("config", &self.config)
            .finish()
    }
}

impl Unet {
    pub fn load(layout: &Layout, dtype: DType, device: &Device) -> Result<Self> {
        let config: UnetConfig = layout.config("unet")?;
        let candle_config = config
            .to_candle()
            .map_err(|message| DiffusionError::Unsupported {
                path: layout.part("unet").join("config.json"),
                message,
            })?;
        let weights = Weights::open(layout.weights("unet")?)?;
        let model = UNet2DConditionModel::new(
            weights.builder(dtype, device),
            config.in_channels,
            config.out_channels,
            false,
            candle_config,
        )
        .map_err(|e| weights.error(e))?;
        weights.finish()?;
        Ok(Unet { model, config })
    }

    /// The UNet's prediction for `latents` (already scaled by the scheduler) at `timestep`.
    pub fn forward(&self, latents: &Tensor, timestep: f64, context: &Tensor) -> Result<Tensor> {
        Ok(self.model.forward(latents, timestep, context)?)
    }
}
