//! Edits: the image a request changes, found by id or uploaded on the way ([`Engine::source`]), and
//! what a provider is handed for it ([`Inner::edit_input`]): the source cropped and scaled to the size
//! being made, as a PNG, and the mask scaled alike, as a grayscale PNG (white = change). Every provider
//! gets the same two images, so none of them resizes, guesses orientation or converts formats on its
//! own; one that wants the mask another way (OpenAI: transparent = change) converts only that.

use bytes::Bytes;
use image::{DynamicImage, GrayImage};

use super::admission::Admission;
use super::errors::EngineError;
use super::intake::{Edit, EditPlan, Source};
use super::{Engine, Inner};
use crate::server::providers::EditInput;
use crate::server::storage::ImageRecord;
use crate::server::transform::encode::{encode, png_gray8};
use crate::server::transform::geometry::{layout, Region};
use crate::server::transform::inspect::{decode, inspect};
use crate::server::transform::resize::scale;
use crate::urls::options::{Fit, TransformOptions};
use crate::urls::placeholder::Size;

impl Engine {
    /// An edit's source and mask as stored records (uploading what was sent as bytes), for
    /// [`GenerateRequest::edit`](super::GenerateRequest). The fields are named `image` and `mask` in
    /// every face's errors.
    pub async fn edit(
        &self,
        image: Source,
        mask: Option<Source>,
        strength: Option<u8>,
        admission: &dyn Admission,
    ) -> Result<Edit, EngineError> {
        let source = self.source("image", image, admission).await?;
        let mask = match mask {
            Some(mask) => {
                if let Source::Bytes { bytes, .. } = &mask {
                    self.mask_fits(&source, bytes)?;
                }
                let mask = self.source("mask", mask, admission).await?;
                fits(&source, mask.width, mask.height)?;
                Some(mask)
            }
            None => None,
        };
        Ok(Edit {
            source,
            mask,
            strength,
        })
    }

    /// The stored image `source` names, uploading it first when it is bytes. `field` is the request's
    /// name for it, so a missing id is reported where the client put it.
    pub async fn source(
        &self,
        field: &str,
        source: Source,
        admission: &dyn Admission,
    ) -> Result<ImageRecord, EngineError> {
        match source {
            Source::Id(id) => {
                let id = id.trim();
                if id.is_empty() {
                    return Err(EngineError::BadRequest(format!(
                        "`{field}` is empty: give an image id or a data: URI"
                    )));
                }
                self.record(id).await?.ok_or_else(|| {
                    EngineError::BadRequest(format!("`{field}`: no stored image has id `{id}`"))
                })
            }
            Source::Bytes { bytes, name } => self
                .upload(bytes, name, admission)
                .await
                .map(|uploaded| uploaded.record)
                .map_err(|err| match err {
                    EngineError::BadRequest(message) => {
                        EngineError::BadRequest(format!("`{field}`: {message}"))
                    }
                    EngineError::Unsupported(message) => {
                        EngineError::Unsupported(format!("`{field}`: {message}"))
                    }
                    EngineError::TooLarge(message) => {
                        EngineError::TooLarge(format!("`{field}`: {message}"))
                    }
                    other => other,
                }),
        }
    }
}

/// A mask is at most as large as the image it masks, on each side: it is scaled to the source's size
/// anyway, and a larger one would cost more to decode than the edit it serves (a 190 KB PNG can
/// hold 49 megapixels).
fn fits(source: &ImageRecord, width: u32, height: u32) -> Result<(), EngineError> {
    if width > source.width || height > source.height {
        return Err(EngineError::BadRequest(format!(
            "`mask`: it is {width}x{height}, larger than the image it masks ({}x{}); send it at the image's size",
            source.width, source.height
        )));
    }
    Ok(())
}

impl Engine {
    /// Whether a mask sent as `bytes` fits its `source`, judged from its header alone, before
    /// anything decodes it.
    pub fn mask_fits(&self, source: &ImageRecord, bytes: &[u8]) -> Result<(), EngineError> {
        let inspected = inspect(bytes, self.inner.upload_limits.max_pixels)
            .map_err(|e| EngineError::BadRequest(format!("`mask`: {e}")))?;
        fits(source, inspected.width, inspected.height)
    }

    /// A mask drawn the OpenAI way (transparent where the image is to change) as Pixzoo's (white
    /// there), for the face that speaks OpenAI's API. A mask without transparency is taken as ours.
    /// Checked against its `source` before it is decoded ([`Engine::mask_fits`]).
    pub async fn mask_from_transparency(
        &self,
        source: &ImageRecord,
        bytes: Bytes,
    ) -> Result<Bytes, EngineError> {
        self.mask_fits(source, &bytes)?;
        let max_pixels = self.inner.upload_limits.max_pixels;
        let converted = self
            .inner
            .cpu
            .run(move || -> Result<Vec<u8>, EngineError> {
                let inspected = inspect(&bytes, max_pixels)
                    .map_err(|e| EngineError::BadRequest(format!("`mask`: {e}")))?;
                let image = decode(&bytes, inspected)
                    .map_err(|e| EngineError::BadRequest(format!("`mask`: {e}")))?;
                if !image.color().has_alpha() {
                    return Ok(bytes.to_vec());
                }
                let rgba = image.to_rgba8();
                let gray = GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
                    image::Luma([255 - rgba.get_pixel(x, y).0[3]])
                });
                png_gray8(gray.as_raw(), gray.width(), gray.height())
                    .map_err(|e| EngineError::Internal(format!("encoding a mask: {e}")))
            })
            .await??;
        Ok(Bytes::from(converted))
    }
}

impl Inner {
    /// The provider's inputs for an edit made at `size`; `None` for an image from a prompt alone.
    pub(super) async fn edit_input(
        &self,
        edit: Option<&EditPlan>,
        size: Size,
    ) -> Result<Option<EditInput>, EngineError> {
        let Some(edit) = edit else {
            return Ok(None);
        };
        let source = self.original_bytes(&edit.source).await?;
        let mask = match &edit.mask {
            Some(mask) => Some(self.original_bytes(mask).await?),
            None => None,
        };
        let (image, mask) = self
            .cpu
            .run(move || prepare(&source, mask.as_deref(), size))
            .await??;
        Ok(Some(EditInput {
            image: Bytes::from(image),
            mask: mask.map(Bytes::from),
            strength: edit.strength,
        }))
    }
}

/// The source cropped to `size`'s aspect ratio around its centre and scaled to it, as PNG; the mask
/// scaled to the source's size first (a mask painted on a preview of another size still lines up),
/// then cropped and scaled alike, as grayscale PNG.
pub fn prepare(
    source: &[u8],
    mask: Option<&[u8]>,
    size: Size,
) -> Result<(Vec<u8>, Option<Vec<u8>>), EngineError> {
    let failed = |what: &str, err: &dyn std::fmt::Display| {
        EngineError::Internal(format!("preparing the edit's {what}: {err}"))
    };
    let image = read(source).map_err(|e| failed("source", &e))?;
    let dims = (image.width(), image.height());
    let options = TransformOptions {
        width: Some(size.width),
        height: Some(size.height),
        ..TransformOptions::default()
    };
    let fitted = layout(dims, &options, Fit::Cover);
    let to_size = |image: &DynamicImage| {
        if fitted.is_identity(dims) {
            return Ok(image.clone());
        }
        scale(image, fitted.crop, fitted.scaled).map_err(|e| failed("scaling", &e))
    };
    let out = to_size(&image)?;
    let (png, _) = encode(&out, crate::domain::format::ImageFormat::Png, 100)
        .map_err(|e| failed("PNG", &e))?;
    let mask = match mask {
        None => None,
        Some(bytes) => {
            let mask = read(bytes).map_err(|e| failed("mask", &e))?;
            // White is change: its light, with transparency as black (nothing painted).
            let light = DynamicImage::ImageRgb8(flatten_on_black(&mask));
            let at_source = if (light.width(), light.height()) == dims {
                light
            } else {
                scale(&light, Region::whole((light.width(), light.height())), dims)
                    .map_err(|e| failed("mask", &e))?
            };
            let gray: GrayImage = to_size(&at_source)?.to_luma8();
            Some(
                png_gray8(gray.as_raw(), gray.width(), gray.height())
                    .map_err(|e| failed("mask PNG", &e))?,
            )
        }
    };
    Ok((png, mask))
}

/// A stored image: within the limits when it was stored.
fn read(bytes: &[u8]) -> Result<DynamicImage, String> {
    let inspected = inspect(bytes, u64::MAX).map_err(|e| e.to_string())?;
    decode(bytes, inspected).map_err(|e| e.to_string())
}

fn flatten_on_black(image: &DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        image::Rgb([0, 1, 2].map(|i| (u16::from(p[i]) * a / 255) as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: DynamicImage) -> Vec<u8> {
        encode(&image, crate::domain::format::ImageFormat::Png, 100)
            .unwrap()
            .0
    }

    #[test]
    fn source_and_mask_arrive_at_the_size_made_and_lined_up() {
        // A 40x20 source, left half red, right half blue; a 20x10 mask, white on the right half.
        let source = image::RgbImage::from_fn(40, 20, |x, _| {
            if x < 20 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let mask =
            image::GrayImage::from_fn(20, 10, |x, _| image::Luma([if x < 10 { 0 } else { 255 }]));
        let (image, mask) = prepare(
            &png(DynamicImage::ImageRgb8(source)),
            Some(&png(DynamicImage::ImageLuma8(mask))),
            Size {
                width: 20,
                height: 20,
            },
        )
        .unwrap();
        let image = image::load_from_memory(&image).unwrap().to_rgb8();
        let mask = image::load_from_memory(&mask.unwrap()).unwrap();
        assert_eq!((image.width(), image.height()), (20, 20));
        assert_eq!((mask.width(), mask.height()), (20, 20));
        assert_eq!(mask.color(), image::ColorType::L8, "grayscale");
        let mask = mask.to_luma8();
        // The centre square kept: red left of the middle, blue right; the mask agrees.
        assert_eq!(image.get_pixel(2, 10).0, [255, 0, 0]);
        assert_eq!(image.get_pixel(17, 10).0, [0, 0, 255]);
        assert_eq!(mask.get_pixel(2, 10).0, [0]);
        assert_eq!(mask.get_pixel(17, 10).0, [255]);
    }

    #[test]
    fn transparent_mask_pixels_keep() {
        let mask = image::RgbaImage::from_fn(4, 4, |x, _| {
            image::Rgba([255, 255, 255, if x < 2 { 0 } else { 255 }])
        });
        let source = png(DynamicImage::new_rgb8(4, 4));
        let (_, mask) = prepare(
            &source,
            Some(&png(DynamicImage::ImageRgba8(mask))),
            Size {
                width: 4,
                height: 4,
            },
        )
        .unwrap();
        let mask = image::load_from_memory(&mask.unwrap()).unwrap().to_luma8();
        assert_eq!(mask.get_pixel(0, 0).0, [0]);
        assert_eq!(mask.get_pixel(3, 0).0, [255]);
    }
}
