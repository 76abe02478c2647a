//! Text-to-image, image-to-image and inpainting, computed as diffusers' `StableDiffusionPipeline`,
//! `StableDiffusionImg2ImgPipeline` and `StableDiffusionInpaintPipeline` compute them, over one
//! loaded model.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::clip::TextEncoder;
use super::layout::Layout;
use super::noise::Noise;
use super::scheduler::{Scheduler, SchedulerConfig};
use super::tokenizer::ClipTokenizer;
use super::unet::Unet;
use super::vae::Vae;
use super::{DiffusionError, Result};

/// A model, every part loaded.
pub struct Pipeline {
    pub layout: Layout,
    pub tokenizer: ClipTokenizer,
    pub text_encoder: TextEncoder,
    pub unet: Unet,
    pub vae: Vae,
    pub scheduler: SchedulerConfig,
    pub device: Device,
    pub dtype: DType,
}

/// What to make.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    /// Pixels; multiples of [`Pipeline::pixel_multiple`].
    pub width: usize,
    pub height: usize,
    pub steps: usize,
    /// Classifier-free guidance; at most 1 turns it off (one UNet pass per step).
    pub guidance: f64,
    /// Start from this image instead of pure noise.
    pub init: Option<Init>,
}

/// Image-to-image's or inpainting's input.
#[derive(Debug, Clone)]
pub struct Init {
    /// `(1, 3, height, width)` in `[-1, 1]`.
    pub image: Tensor,
    /// `(1, 1, height, width)`, 1 where to change, 0 where to keep: inpainting.
    pub mask: Option<Tensor>,
    /// 0 keeps the source, 1 ignores it: how far into the schedule the run starts.
    pub strength: f64,
}

/// One denoising step, as it happened (for progress, previews and the parity tests).
pub struct Step<'a> {
    /// 0-based among the steps this run takes.
    pub index: usize,
    /// How many steps this run takes (fewer than asked when image-to-image starts part way).
    pub steps: usize,
    pub timestep: f64,
    /// Exactly what the UNet was given.
    pub model_input: &'a Tensor,
    /// The UNet's raw output (both halves under guidance).
    pub prediction: &'a Tensor,
    /// The latents after the step.
    pub latents: &'a Tensor,
}

/// The result.
pub struct Output {
    /// `(1, 3, height, width)`, about `[-1, 1]`.
    pub image: Tensor,
    pub latents: Tensor,
    /// Tokens of the prompt beyond the text encoder's length, dropped as diffusers drops them.
    pub prompt_tokens_dropped: usize,
}

impl Pipeline {
    pub fn load(root: &Path, device: &Device, dtype: DType) -> Result<Self> {
        let layout = Layout::open(root)?;
        let scheduler: SchedulerConfig = layout.config("scheduler")?;
        Scheduler::new(&scheduler, 1).map_err(|message| DiffusionError::Unsupported {
            path: layout.part("scheduler").join("scheduler_config.json"),
            message,
        })?;
        let tokenizer = ClipTokenizer::load(&layout)?;
        let text_encoder = TextEncoder::load(&layout, dtype, device)?;
        let unet = Unet::load(&layout, dtype, device)?;
        let vae = Vae::load(&layout, dtype, device)?;
        let pipeline = Pipeline {
            layout,
            tokenizer,
            text_encoder,
            unet,
            vae,
            scheduler,
            device: device.clone(),
            dtype,
        };
        pipeline.check_parts()?;
        Ok(pipeline)
    }

    fn check_parts(&self) -> Result<()> {
        let unet = &self.unet.config;
        let latent = self.vae.config.latent_channels;
        let mismatch = |message: String| DiffusionError::Unsupported {
            path: self.layout.root.clone(),
            message,
        };
        if unet.cross_attention_dim != self.text_encoder.config.hidden_size {
            return Err(mismatch(format!(
                "the UNet attends to {} features, the text encoder gives {}",
                unet.cross_attention_dim, self.text_encoder.config.hidden_size
            )));
        }
        let inpainting_unet = unet.in_channels == 2 * latent + 1;
        if (unet.in_channels != latent && !inpainting_unet) || unet.out_channels != latent {
            return Err(mismatch(format!(
                "a UNet of {} in / {} out channels does not fit {latent} latent channels",
                unet.in_channels, unet.out_channels
            )));
        }
        Ok(())
    }

    /// Whether the UNet takes the mask and the masked image as well (a 9-channel inpainting model).
    pub fn is_inpainting_model(&self) -> bool {
        self.unet.config.in_channels == 2 * self.vae.config.latent_channels + 1
    }

    /// Width and height must be multiples of this (the VAE's factor times the UNet's downsampling).
    pub fn pixel_multiple(&self) -> usize {
        self.vae.config.scale_factor() * (1 << (self.unet.config.block_out_channels.len() - 1))
    }

    /// The text embeddings for one prompt, and how many tokens did not fit.
    pub fn encode_prompt(&self, text: &str) -> Result<(Tensor, usize)> {
        let tokens = self.tokenizer.encode(text)?;
        let ids = Tensor::new(tokens.ids.as_slice(), &self.device)?.unsqueeze(0)?;
        Ok((self.text_encoder.forward(&ids)?, tokens.dropped))
    }

    /// Runs `request`, drawing from `noise`, telling `observe` after each step (an error from it,
    /// such as [`DiffusionError::Cancelled`], stops the run), and decodes with the VAE.
    pub fn run(
        &self,
        request: &Request,
        noise: &mut dyn Noise,
        observe: &mut dyn FnMut(&Step) -> Result<()>,
    ) -> Result<Output> {
        let denoised = self.denoise(request, noise, observe)?;
        Ok(Output {
            image: self.vae.decode(&denoised.latents)?,
            latents: denoised.latents,
            prompt_tokens_dropped: denoised.prompt_tokens_dropped,
        })
    }

    /// [`Pipeline::run`] up to the final latents, for a caller that decodes them another way
    /// ([`super::taesd::Taesd`]).
    pub fn denoise(
        &self,
        request: &Request,
        noise: &mut dyn Noise,
        observe: &mut dyn FnMut(&Step) -> Result<()>,
    ) -> Result<Denoised> {
        let multiple = self.pixel_multiple();
        if request.width == 0
            || request.height == 0
            || !request.width.is_multiple_of(multiple)
            || !request.height.is_multiple_of(multiple)
        {
            return Err(DiffusionError::Input(format!(
                "{}×{} is not a multiple of {multiple} on both sides",
                request.width, request.height
            )));
        }
        let scheduler =
            Scheduler::new(&self.scheduler, request.steps).map_err(DiffusionError::Input)?;
        let guided = request.guidance > 1.0;

        let (text, dropped) = self.encode_prompt(&request.prompt)?;
        let context = if guided {
            let negative = request.negative_prompt.as_deref().unwrap_or("");
            let (uncond, _) = self.encode_prompt(negative)?;
            Tensor::cat(&[uncond, text], 0)?
        } else {
            text
        };

        // Where the schedule starts: image-to-image and inpainting skip its first part.
        let all = scheduler.timesteps().len();
        let start = match &request.init {
            Some(init) => {
                let run = ((all as f64 * init.strength.clamp(0.0, 1.0)) as usize).clamp(1, all);
                all - run
            }
            None => 0,
        };
        let steps = all - start;

        let factor = self.vae.config.scale_factor();
        let latent_channels = self.vae.config.latent_channels;
        let shape = [
            1,
            latent_channels,
            request.height / factor,
            request.width / factor,
        ];

        // The initial latents, drawing in the order diffusers' pipelines draw.
        let mut blend: Option<Blend> = None;
        let mut extra: Option<Tensor> = None;
        let mut latents = match &request.init {
            None => {
                (noise.draw(&shape, &self.device)?.to_dtype(self.dtype)?
                    * scheduler.init_noise_sigma())?
            }
            Some(init) => {
                let image = init.image.to_device(&self.device)?.to_dtype(self.dtype)?;
                match &init.mask {
                    None => {
                        let source = self.vae.encode_sample(&image, noise)?;
                        let eps = noise.draw(&shape, &self.device)?.to_dtype(self.dtype)?;
                        scheduler.add_noise(&source, &eps, start)?
                    }
                    Some(mask) => {
                        let mask = mask.to_device(&self.device)?.to_dtype(self.dtype)?;
                        let full_strength = init.strength >= 1.0;
                        let needs_source = !self.is_inpainting_model() || !full_strength;
                        let source = if needs_source {
                            Some(self.vae.encode_sample(&image, noise)?)
                        } else {
                            None
                        };
                        let eps = noise.draw(&shape, &self.device)?.to_dtype(self.dtype)?;
                        let latents = match (&source, full_strength) {
                            (Some(source), false) => scheduler.add_noise(source, &eps, start)?,
                            _ => (&eps * scheduler.init_noise_sigma())?,
                        };
                        // The mask at latent size (nearest, as `F.interpolate` picks), and the
                        // masked image's latents (drawn whether or not the UNet takes them).
                        let small = nearest_downscale(&mask, factor)?;
                        let keep = mask.lt(0.5f64)?.to_dtype(self.dtype)?;
                        let masked = image.broadcast_mul(&keep)?;
                        let masked_latents = self.vae.encode_sample(&masked, noise)?;
                        if self.is_inpainting_model() {
                            extra = Some(Tensor::cat(&[&small, &masked_latents], 1)?);
                        } else if let Some(source) = source {
                            blend = Some(Blend {
                                source,
                                noise: eps,
                                mask: small,
                            });
                        }
                        latents
                    }
                }
            }
        };
        let extra = match (extra, guided) {
            (Some(e), true) => Some(Tensor::cat(&[&e, &e], 0)?),
            (e, _) => e,
        };

        for i in 0..steps {
            let index = start + i;
            let timestep = scheduler.timesteps()[index];
            let doubled = if guided {
                Tensor::cat(&[&latents, &latents], 0)?
            } else {
                latents.clone()
            };
            let mut input = scheduler.scale_model_input(&doubled, index)?;
            if let Some(extra) = &extra {
                input = Tensor::cat(&[&input, extra], 1)?;
            }
            let prediction = self.unet.forward(&input, timestep, &context)?;
            let guided_prediction = if guided {
                let halves = prediction.chunk(2, 0)?;
                let (uncond, text) = (&halves[0], &halves[1]);
                (uncond + ((text - uncond)? * request.guidance)?)?
            } else {
                prediction.clone()
            };
            latents = scheduler.step(&guided_prediction, index, &latents, noise)?;
            if let Some(blend) = &blend {
                let proper = if i + 1 < steps {
                    scheduler.add_noise(&blend.source, &blend.noise, index + 1)?
                } else {
                    blend.source.clone()
                };
                let inverse = blend.mask.affine(-1.0, 1.0)?;
                latents =
                    (proper.broadcast_mul(&inverse)? + latents.broadcast_mul(&blend.mask)?)?;
            }
            observe(&Step {
                index: i,
                steps,
                timestep,
                model_input: &input,
                prediction: &prediction,
                latents: &latents,
            })?;
        }
        Ok(Denoised {
            latents,
            prompt_tokens_dropped: dropped,
        })
    }
}

/// The final latents, before decoding.
pub struct Denoised {
    pub latents: Tensor,
    pub prompt_tokens_dropped: usize,
}

/// Inpainting with a plain UNet: after each step, outside the mask goes back to the source, noised to
/// the next step's level.
struct Blend {
    source: Tensor,
    noise: Tensor,
    mask: Tensor,
}

/// `(1, 1, H, W)` to `(1, 1, H/f, W/f)`, each output taking the top-left pixel of its block (what
/// `torch.nn.functional.interpolate(mode="nearest")` picks for an integer factor).
fn nearest_downscale(mask: &Tensor, factor: usize) -> Result<Tensor> {
    let (b, c, h, w) = mask.dims4()?;
    if factor == 1 {
        return Ok(mask.clone());
    }
    Ok(mask
        .reshape((b, c, h / factor, factor, w / factor, factor))?
        .narrow(3, 0, 1)?
        .narrow(5, 0, 1)?
        .reshape((b, c, h / factor, w / factor))?)
}
