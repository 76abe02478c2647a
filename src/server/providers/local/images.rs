//! Pictures in and out of the model: PNG bytes to `[-1, 1]` tensors, the mask to 0/1, and the decoded
//! tensor back to an 8-bit PNG, as diffusers' image processor converts them.

use std::io::Cursor;

use candle_core::{DType, Device, Tensor};
use image::{DynamicImage, ImageFormat, RgbImage};

use crate::server::diffusion::DiffusionError;

fn decode(bytes: &[u8], what: &str) -> Result<DynamicImage, DiffusionError> {
    image::load_from_memory(bytes).map_err(|e| DiffusionError::Input(format!("the {what}: {e}")))
}

/// `(1, 3, H, W)` in `[-1, 1]`.
pub fn source(bytes: &[u8]) -> Result<Tensor, DiffusionError> {
    let rgb = decode(bytes, "source image")?.to_rgb8();
    let (w, h) = rgb.dimensions();
    let pixels = Tensor::from_vec(rgb.into_raw(), (h as usize, w as usize, 3), &Device::Cpu)?;
    Ok(pixels
        .permute((2, 0, 1))?
        .to_dtype(DType::F32)?
        .affine(2.0 / 255.0, -1.0)?
        .unsqueeze(0)?)
}

/// `(1, 1, H, W)`: 1 where the mask is at least half white (change), 0 elsewhere (keep).
pub fn mask(bytes: &[u8]) -> Result<Tensor, DiffusionError> {
    let gray = decode(bytes, "mask")?.to_luma8();
    let (w, h) = gray.dimensions();
    let values: Vec<f32> = gray
        .into_raw()
        .into_iter()
        .map(|v| f32::from(u8::from(v >= 128)))
        .collect();
    Ok(Tensor::from_vec(
        values,
        (1, 1, h as usize, w as usize),
        &Device::Cpu,
    )?)
}

/// The pipeline's `(1, 3, H, W)` output as a PNG: `round(clamp(x / 2 + 0.5, 0, 1) × 255)`.
pub fn png(image: &Tensor) -> Result<Vec<u8>, DiffusionError> {
    let (_, _, h, w) = image.dims4()?;
    let pixels = ((image.to_dtype(DType::F32)? / 2.0)? + 0.5)?
        .clamp(0f32, 1f32)?
        .affine(255.0, 0.0)?
        .round()?
        .to_dtype(DType::U8)?
        .squeeze(0)?
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1::<u8>()?;
    let rgb = RgbImage::from_raw(w as u32, h as u32, pixels)
        .ok_or_else(|| DiffusionError::Input("the decoded image has the wrong size".into()))?;
    let mut out = Cursor::new(Vec::new());
    rgb.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| DiffusionError::Input(format!("cannot encode the image: {e}")))?;
    Ok(out.into_inner())
}
