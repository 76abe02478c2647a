//! The offline provider: a deterministic procedural placeholder, so a fresh install works with no keys.
//! It is not a diffusion model and says so on every image it makes.

mod edit;
mod palette;
pub mod render;
mod text;

use std::sync::Arc;

use bytes::Bytes;

use super::provider::{EditInput, ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use crate::server::config::ProviderKind;
use crate::server::cpu::CpuPool;
use render::{render, Scene};

/// The one model this provider runs (`upstream` in the catalog).
pub const UPSTREAM_MODEL: &str = "placeholder-v1";

/// Renders on the server's CPU pool: a render is pure CPU work and a large canvas holds tens of
/// megabytes, so it takes its turn with transforms instead of adding threads of its own.
pub struct Builtin {
    cpu: Arc<CpuPool>,
}

impl Builtin {
    pub fn new(cpu: Arc<CpuPool>) -> Self {
        Self { cpu }
    }
}

#[async_trait::async_trait]
impl ImageProvider for Builtin {
    fn name(&self) -> &'static str {
        ProviderKind::Builtin.name()
    }

    fn trusted_output(&self) -> bool {
        true
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError> {
        if request.upstream_model != UPSTREAM_MODEL {
            return Err(ProviderError::UnknownModel {
                provider: self.name(),
                model: request.upstream_model,
            });
        }
        let failed = |message: String| ProviderError::Upstream {
            provider: ProviderKind::Builtin.name(),
            message,
        };
        let seed = request.seed.unwrap_or_default();
        self.cpu
            .run(move || match &request.edit {
                Some(input) => edit_png(&request.prompt, seed, input),
                None => render_png(&request.prompt, seed, request.width, request.height),
            })
            .await
            .map_err(|err| failed(format!("the render task stopped: {err}")))?
            .map_err(failed)
    }
}

/// Renders and encodes one image; what the provider runs on the blocking pool, and what the benchmark
/// measures.
pub fn render_png(
    prompt: &str,
    seed: u32,
    width: u32,
    height: u32,
) -> Result<ProviderImage, String> {
    let pixmap = render(&Scene {
        prompt,
        seed,
        width,
        height,
    })
    .map_err(|err| err.to_string())?;
    let bytes = encode_png(pixmap.data(), width, height).map_err(|err| err.to_string())?;
    Ok(ProviderImage {
        bytes: Bytes::from(bytes),
        seed: Some(seed),
    })
}

/// Edits and encodes one image (see `edit.rs`).
pub fn edit_png(prompt: &str, seed: u32, input: &EditInput) -> Result<ProviderImage, String> {
    let pixmap = edit::edit(prompt, seed, input)?;
    let bytes = encode_png(pixmap.data(), pixmap.width(), pixmap.height())
        .map_err(|err| err.to_string())?;
    Ok(ProviderImage {
        bytes: Bytes::from(bytes),
        seed: Some(seed),
    })
}

/// Encodes opaque RGBA pixels (every render is opaque) as an RGB PNG.
pub fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, image::ImageError> {
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    crate::server::transform::encode::png_rgb8(&rgb, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(width: u32, height: u32) -> ProviderRequest {
        ProviderRequest {
            upstream_model: UPSTREAM_MODEL.into(),
            prompt: "sunglasses sloth".into(),
            negative_prompt: None,
            seed: Some(42),
            steps: None,
            width,
            height,
            aspect_ratio: None,
            edit: None,
            on_step: Default::default(),
        }
    }

    use crate::domain::format::ImageFormat;

    fn builtin() -> Builtin {
        Builtin::new(Arc::new(CpuPool::new(0, 0)))
    }

    #[tokio::test]
    async fn generates_a_png_of_the_exact_size() {
        let image = builtin().generate(request(800, 600)).await.unwrap();
        assert_eq!(ImageFormat::sniff(&image.bytes), Some(ImageFormat::Png));
        let decoded = image::load_from_memory(&image.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (800, 600));
        let again = builtin().generate(request(800, 600)).await.unwrap();
        assert_eq!(
            image.bytes, again.bytes,
            "deterministic down to the encoded bytes"
        );
    }

    #[tokio::test]
    async fn refuses_models_it_does_not_run() {
        let mut other = request(10, 10);
        other.upstream_model = "flux".into();
        let err = builtin().generate(other).await.unwrap_err();
        assert!(err.to_string().contains("flux"), "{err}");
    }
}
