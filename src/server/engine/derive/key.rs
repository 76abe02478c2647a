//! The derivative's identity: what a request will make of a stored image ([`Resolved`], worked out
//! from the image's size as the pipeline will), hashed with the source's content and the pipeline's
//! version into its key ([`derivative_key`]) and ETag ([`etag`]); whether the original already is the
//! answer ([`is_passthrough`]); and the check that what was made is what was keyed
//! ([`keyed_as_made`]). The memory cache's coarser key is [`without_ignored`].

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::request::DeriveRequest;
use crate::domain::format::ImageFormat;
use crate::server::engine::errors::EngineError;
use crate::server::storage::ImageRecord;
use crate::server::transform::encode::{uses_quality, written_as};
use crate::server::transform::geometry::{layout, Layout, Region};
use crate::server::transform::pipeline::{
    oriented_size, Output, DEFAULT_BACKGROUND, PIPELINE_VERSION,
};
use crate::urls::options::{Fit, Gravity, TransformOptions};

/// `options` without what an output in `format` ignores; with the format not known yet (it will be
/// the source's), only what every format ignores is dropped. The memory cache keys by this (it cannot
/// see the source's size); the derivative key goes further, by [`Resolved`].
pub fn without_ignored(
    options: &TransformOptions,
    format: Option<ImageFormat>,
    default_fit: Fit,
) -> TransformOptions {
    let mut options = options.normalized();
    if format.is_some_and(|format| !uses_quality(format)) {
        options.quality = None;
    }
    let fit = options.fit.unwrap_or(default_fit);
    if fit != Fit::Pad {
        options.background = None;
    }
    // Gravity places a crop or a padded image, which needs both sides (`geometry::layout`).
    let both_sides = options.width.is_some() && options.height.is_some();
    if !(both_sides && matches!(fit, Fit::Cover | Fit::Crop | Fit::Pad)) {
        options.gravity = None;
    }
    options
}

/// What a derivative will be, worked out from its source's size as the pipeline will: two requests
/// that resolve alike make the same bytes, so they are one derivative (one key, one ETag) however
/// their options are spelled. Width, height, dpr, fit, the default fit and gravity become the
/// layout; only what acts on pixels stays an option.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    /// What is written: the format chosen, or WebP for an AVIF too large to encode as one.
    format: ImageFormat,
    /// Crop, scale and canvas, on the source after trim and rotation; no canvas where nothing is
    /// padded and nothing could show through.
    layout: Layout,
    /// The rest, canonical: trim, flip and rotate (they decide which pixels the layout is of), the
    /// filters, quality where the format uses it, the background where there is a canvas, and
    /// `gravity=auto` where it moves a crop (found on the pixels, so the layout cannot say where).
    effects: TransformOptions,
}

impl Resolved {
    /// `None` when a trim leaves nothing: the pipeline refuses it.
    fn of(record: &ImageRecord, request: &DeriveRequest) -> Option<Self> {
        let o = request.options.normalized();
        let oriented = oriented_size((record.width, record.height), &o).ok()?;
        let mut layout = layout(oriented, &o, request.default_fit);
        let background = o.background.unwrap_or(DEFAULT_BACKGROUND);
        // A canvas the image covers shows its background only through transparency: none in a
        // JPEG source, so with an opaque background that is no padding at all.
        let covered = layout
            .canvas
            .is_some_and(|c| (c.width, c.height) == layout.scaled);
        if covered && background.3 == u8::MAX && record.format == ImageFormat::Jpeg {
            layout.canvas = None;
        }
        let crops = layout.crop != Region::whole(oriented);
        let format = written_as(request.format, layout.output());
        // Whatever the layout does not resolve stays as spelled, a new option too.
        let effects = TransformOptions {
            width: None,
            height: None,
            dpr: None,
            fit: None,
            format: None,
            gravity: o.gravity.filter(|g| *g == Gravity::Auto && crops),
            quality: o.quality.filter(|_| uses_quality(format)),
            background: layout.canvas.map(|_| background),
            ..o
        };
        Some(Self {
            format,
            layout,
            effects,
        })
    }

    /// Whether this is the source as it is (`source` being its size and format).
    fn changes_nothing(&self, source: (u32, u32), format: ImageFormat) -> bool {
        self.format == format && self.effects.is_empty() && self.layout.is_identity(source)
    }

    /// The canonical text hashed into the key. Floats print as the shortest text that reads back
    /// to the same value, so equal layouts print alike.
    fn describe(&self) -> String {
        let Layout {
            crop,
            scaled,
            canvas,
        } = self.layout;
        let mut text = format!(
            "{}\0{}\0crop={},{},{},{};scaled={}x{}",
            self.format.as_str(),
            self.effects,
            crop.left,
            crop.top,
            crop.width,
            crop.height,
            scaled.0,
            scaled.1
        );
        if let Some(c) = canvas {
            let _ = write!(text, ";canvas={}x{}+{}+{}", c.width, c.height, c.x, c.y);
        }
        text
    }
}

/// The key's own version, beside the pipeline's: bumped when what is hashed changes. Rows under older
/// keys are simply never asked for again; derivatives are a cache within a byte budget that removes
/// the least recently served first ([`ByteBudget`](super::budget::ByteBudget)), so they age out and
/// nothing needs migrating.
/// (2: what is made, [`Resolved`], rather than the options as spelled.)
const KEY_VERSION: u32 = 2;

/// The derivative's identity: the source content, what will be made of it ([`Resolved`]) and the
/// pipeline version. Also its ETag, so a conditional request is answered without reading a byte.
pub fn derivative_key(record: &ImageRecord, request: &DeriveRequest) -> String {
    let made = match Resolved::of(record, request) {
        Some(resolved) => resolved.describe(),
        // Refused when made; keyed by the spelling meanwhile.
        None => format!(
            "unresolved\0{}\0{}\0{}",
            request.format.as_str(),
            without_ignored(&request.options, Some(request.format), request.default_fit),
            request.default_fit.as_str()
        ),
    };
    let digest = Sha256::new()
        .chain_update(format!(
            "pixzoo-derivative-k{KEY_VERSION}-v{PIPELINE_VERSION}\0"
        ))
        .chain_update(&record.content_hash)
        .chain_update(b"\0")
        .chain_update(made)
        .finalize();
    hex::encode(digest)
}

/// The quoted ETag for this request on this image.
pub fn etag(record: &ImageRecord, request: &DeriveRequest) -> String {
    if is_passthrough(record, request) {
        format!("\"{}\"", record.content_hash)
    } else {
        format!("\"{}\"", derivative_key(record, request))
    }
}

/// Whether the original already is the answer: same format, and the options change nothing.
pub(super) fn is_passthrough(record: &ImageRecord, request: &DeriveRequest) -> bool {
    Resolved::of(record, request)
        .is_some_and(|made| made.changes_nothing((record.width, record.height), record.format))
}

/// The key trusts the row's size (read from the same bytes' header when they were stored); an output
/// of another size means the row is wrong, and storing it would answer other requests with it.
pub(super) fn keyed_as_made(
    record: &ImageRecord,
    request: &DeriveRequest,
    output: &Output,
) -> Result<(), EngineError> {
    let expected = Resolved::of(record, request).map(|made| made.layout.output());
    match expected {
        Some(size) if size != (output.width, output.height) => Err(EngineError::Internal(format!(
            "image {} is recorded as {}x{}, yet made {}x{} where {}x{} was expected",
            record.id, record.width, record.height, output.width, output.height, size.0, size.1
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::engine::derive::request::Enlarge;
    use crate::server::storage::blobs::content_hash;
    use crate::server::transform::pipeline::{transform, Settings};

    #[test]
    fn what_the_output_ignores_is_dropped_once_the_format_is_known() {
        let parse = |text: &str| TransformOptions::parse(text).unwrap();
        let png =
            |text: &str| without_ignored(&parse(text), Some(ImageFormat::Png), Fit::ScaleDown);
        assert_eq!(png("width=40,quality=10"), png("width=40,quality=90"));
        assert_eq!(png("width=40,background=red"), png("width=40"));
        let webp =
            |text: &str| without_ignored(&parse(text), Some(ImageFormat::Webp), Fit::ScaleDown);
        assert_ne!(webp("width=40,quality=10"), webp("width=40,quality=90"));
        let unknown = |text: &str| without_ignored(&parse(text), None, Fit::ScaleDown);
        assert_ne!(
            unknown("width=40,quality=10"),
            unknown("width=40,quality=90")
        );
        assert_eq!(unknown("width=40,background=red"), unknown("width=40"));
        assert_ne!(
            unknown("width=40,fit=pad,background=red"),
            unknown("width=40,fit=pad")
        );
        // Gravity only where something is cropped or padded.
        assert_eq!(unknown("width=40,gravity=left"), unknown("width=40"));
        assert_eq!(
            unknown("width=40,height=40,fit=contain,gravity=left"),
            unknown("width=40,height=40,fit=contain")
        );
        assert_ne!(
            unknown("width=40,height=40,fit=cover,gravity=left"),
            unknown("width=40,height=40,fit=cover")
        );
        let cover = |text: &str| without_ignored(&parse(text), None, Fit::Cover);
        assert_ne!(
            cover("width=40,height=40,gravity=left"),
            cover("width=40,height=40"),
            "the placeholder's default fit crops"
        );
    }

    /// A stored image as the engine sees it: its bytes and its row.
    pub(super) struct Source {
        pub(super) bytes: Vec<u8>,
        pub(super) record: ImageRecord,
    }

    /// Left half red, right half a blue gradient; with `alpha`, a transparent band across the top.
    pub(super) fn source(width: u32, height: u32, format: ImageFormat, alpha: bool) -> Source {
        let image = image::RgbaImage::from_fn(width, height, |x, y| {
            let a = if alpha && y < height / 4 { 0 } else { 255 };
            if x < width / 2 {
                image::Rgba([220, 30, 30, a])
            } else {
                image::Rgba([0, (y * 255 / height) as u8, 200, a])
            }
        });
        let (image, encoded) = match format {
            ImageFormat::Jpeg => (
                image::DynamicImage::ImageRgb8(image::DynamicImage::ImageRgba8(image).to_rgb8()),
                image::ImageFormat::Jpeg,
            ),
            _ => (
                image::DynamicImage::ImageRgba8(image),
                image::ImageFormat::Png,
            ),
        };
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, encoded).unwrap();
        let bytes = out.into_inner();
        let record = ImageRecord {
            width,
            height,
            format,
            bytes: bytes.len() as u64,
            content_hash: content_hash(&bytes),
            ..crate::server::storage::conformance::record("source", "key", 0)
        };
        Source { bytes, record }
    }

    fn request(options: &str, format: ImageFormat, default_fit: Fit) -> DeriveRequest {
        DeriveRequest {
            options: TransformOptions::parse(options).unwrap(),
            format,
            default_fit,
            enlarge: Enlarge::Unlimited,
        }
    }

    /// What a request is answered with: its ETag, and the original or the pipeline's output (or why
    /// not), made the way [`Engine::derive`](crate::server::engine::Engine::derive) makes it.
    pub(super) fn served(
        source: &Source,
        request: &DeriveRequest,
    ) -> (String, Result<Vec<u8>, String>) {
        let tag = etag(&source.record, request);
        if is_passthrough(&source.record, request) {
            return (tag, Ok(source.bytes.clone()));
        }
        let settings = Settings {
            default_fit: request.default_fit,
            max_pixels: 50_000_000,
            max_output_pixels: 50_000_000,
            max_upscale: None,
            format: request.format,
        };
        let made = transform(&source.bytes, &request.options, settings);
        if let Ok(output) = &made {
            keyed_as_made(&source.record, request, output).unwrap();
        }
        (tag, made.map(|o| o.bytes).map_err(|e| e.to_string()))
    }

    const WEBP: ImageFormat = ImageFormat::Webp;
    const JPEG: ImageFormat = ImageFormat::Jpeg;
    const PNG: ImageFormat = ImageFormat::Png;

    /// Options that make the same bytes in a format, on a 128x96 JPEG under scale-down.
    const SAME: &[(&str, &str, ImageFormat)] = &[
        // Scale-down never enlarges: every width past the source is the source's size.
        ("width=129", "width=12000", WEBP),
        ("width=129,format=webp", "format=webp", WEBP),
        ("height=97", "width=4000,height=3000", WEBP),
        ("width=50,dpr=2", "width=100", JPEG),
        ("width=100,fit=scale-down", "width=100", JPEG),
        // One side smaller than the source: every fit scales proportionally.
        ("width=100,fit=contain", "width=100", JPEG),
        ("width=100,fit=cover", "width=100,fit=crop", JPEG),
        ("height=60,fit=squeeze", "width=80", JPEG),
        // The format is the one chosen, however it was asked for; quality where it is used.
        ("width=100,format=auto", "width=100,format=webp", WEBP),
        ("width=100,format=jpeg", "width=100", JPEG),
        ("width=100,quality=10", "width=100,format=png", PNG),
        ("width=100,quality=85", "width=100", WEBP),
        // Gravity where nothing is cropped, `auto` where the crop is the whole image.
        ("width=100,gravity=left", "width=100", JPEG),
        (
            "width=50,height=50,fit=contain,gravity=left",
            "width=50",
            JPEG,
        ),
        (
            "width=64,height=48,fit=cover,gravity=auto",
            "width=64",
            JPEG,
        ),
        (
            "width=64,height=64,fit=cover,gravity=0.5x0.5",
            "width=64,height=64,fit=cover",
            JPEG,
        ),
        // A JPEG has no transparency: a canvas the image covers is no padding.
        (
            "width=64,height=48,fit=pad,background=red",
            "width=64",
            JPEG,
        ),
        (
            "width=64,height=64,fit=pad,background=white",
            "width=64,height=64,fit=pad",
            WEBP,
        ),
        ("width=64,background=red", "width=64", WEBP),
        // Nothing changes: the original.
        ("dpr=2", "", JPEG),
        (
            "format=jpeg",
            "width=128,height=96,fit=cover,gravity=left",
            JPEG,
        ),
        ("width=128,height=96,fit=pad", "width=300,height=96", JPEG),
        // Trim and rotation change the size the layout starts from.
        ("trim=8;0;8;0,width=200", "trim=8;0;8;0,width=128", WEBP),
        ("rotate=90,width=200", "rotate=90,width=96", WEBP),
        ("trim=0;0;0;0,rotate=0,blur=0,width=100", "width=100", JPEG),
    ];

    /// Options whose bytes differ in a format, on the same JPEG.
    const DIFFERENT: &[(&str, &str, ImageFormat)] = &[
        ("width=100", "width=101", JPEG),
        ("width=129,fit=contain", "width=128", JPEG),
        ("width=100,fit=cover", "width=200,fit=cover", JPEG),
        (
            "width=64,height=64,fit=cover,gravity=left",
            "width=64,height=64,fit=cover",
            JPEG,
        ),
        (
            "width=64,height=64,fit=cover,gravity=auto",
            "width=64,height=64,fit=cover",
            JPEG,
        ),
        (
            "width=64,height=64,fit=pad,background=red",
            "width=64,height=64,fit=pad",
            JPEG,
        ),
        (
            "width=64,height=64,fit=pad,gravity=top",
            "width=64,height=64,fit=pad",
            JPEG,
        ),
        ("width=100,quality=50", "width=100,quality=60", WEBP),
        ("width=100,quality=50", "width=100", JPEG),
        ("width=100,blur=3", "width=100", JPEG),
        ("width=100,saturation=0", "width=100", JPEG),
        ("width=100,flip=h", "width=100", JPEG),
        ("rotate=90", "rotate=270", JPEG),
        ("trim=1;0;0;0", "", JPEG),
        ("quality=50", "", JPEG),
    ];

    #[test]
    fn requests_that_make_the_same_bytes_share_a_key_and_others_do_not() {
        let jpeg = source(128, 96, ImageFormat::Jpeg, false);
        let serve = |options: &str, format, fit| served(&jpeg, &request(options, format, fit));
        let same = |a: (&str, ImageFormat, Fit), b: (&str, ImageFormat, Fit)| {
            let ((a_tag, a_bytes), (b_tag, b_bytes)) = (serve(a.0, a.1, a.2), serve(b.0, b.1, b.2));
            assert_eq!(a_bytes, b_bytes, "{a:?} and {b:?} make the same bytes");
            assert_eq!(a_tag, b_tag, "{a:?} and {b:?} share a key");
        };
        let different = |a: (&str, ImageFormat, Fit), b: (&str, ImageFormat, Fit)| {
            let ((a_tag, a_bytes), (b_tag, b_bytes)) = (serve(a.0, a.1, a.2), serve(b.0, b.1, b.2));
            assert_ne!(a_bytes, b_bytes, "{a:?} and {b:?} make different bytes");
            assert_ne!(a_tag, b_tag, "{a:?} and {b:?} have keys of their own");
        };
        for (a, b, format) in SAME {
            same((*a, *format, Fit::ScaleDown), (*b, *format, Fit::ScaleDown));
        }
        for (a, b, format) in DIFFERENT {
            different((*a, *format, Fit::ScaleDown), (*b, *format, Fit::ScaleDown));
        }
        // The default fit is resolved too (the placeholder's is cover).
        same(
            ("width=100", JPEG, Fit::Cover),
            ("width=100", JPEG, Fit::ScaleDown),
        );
        different(
            ("width=200", JPEG, Fit::Cover),
            ("width=200", JPEG, Fit::ScaleDown),
        );
        different(
            ("width=64,height=64", JPEG, Fit::Cover),
            ("width=64,height=64", JPEG, Fit::ScaleDown),
        );
        // And the format.
        different(
            ("width=100", WEBP, Fit::ScaleDown),
            ("width=100", JPEG, Fit::ScaleDown),
        );
        different(
            ("width=100", ImageFormat::Avif, Fit::ScaleDown),
            ("width=100", WEBP, Fit::ScaleDown),
        );
    }

    #[test]
    fn what_shows_through_transparency_and_what_avif_cannot_hold_are_keyed_as_made() {
        // A source that may be transparent: the background of a covered canvas shows through it.
        let png = source(128, 96, ImageFormat::Png, true);
        let serve = |options: &str| served(&png, &request(options, PNG, Fit::ScaleDown));
        let red = serve("width=64,height=48,fit=pad,background=red");
        let blue = serve("width=64,height=48,fit=pad,background=blue");
        assert_ne!(red.1, blue.1);
        assert_ne!(red.0, blue.0);
        assert_ne!(red.0, serve("width=64").0);
        // AVIF over its pixel limit is written as WebP: the same bytes as WebP asked for.
        let jpeg = source(128, 96, ImageFormat::Jpeg, false);
        let big = |format: ImageFormat| {
            let options = format!(
                "width=2400,height=1800,fit=contain,format={}",
                format.as_str()
            );
            etag(&jpeg.record, &request(&options, format, Fit::ScaleDown))
        };
        assert_eq!(big(ImageFormat::Avif), big(WEBP));
        let small = |format| etag(&jpeg.record, &request("width=100", format, Fit::ScaleDown));
        assert_ne!(small(ImageFormat::Avif), small(WEBP));
    }

    #[test]
    fn a_trim_that_leaves_nothing_is_keyed_by_its_spelling() {
        let jpeg = source(128, 96, ImageFormat::Jpeg, false);
        let key =
            |options: &str| derivative_key(&jpeg.record, &request(options, JPEG, Fit::ScaleDown));
        assert_ne!(key("trim=0;128;0;0"), key("trim=0;200;0;0"));
        assert_eq!(key("trim=0;128;0;0"), key("trim=0;128;0;0,gravity=left"));
        let (_, made) = served(&jpeg, &request("trim=0;128;0;0", JPEG, Fit::ScaleDown));
        assert!(made.unwrap_err().contains("trim removes"));
    }

    #[test]
    fn a_trim_of_nothing_spelled_out_is_the_same_bytes_as_none() {
        // Found by the property test (`key/properties.rs`, its seed kept in proptest-regressions):
        // `trim=0;0;0;0` once took another decode path than no trim, making other bytes under one key.
        let jpeg = source(48, 36, ImageFormat::Jpeg, false);
        let png = ImageFormat::Png;
        let plain = served(&jpeg, &request("height=12", png, Fit::ScaleDown));
        let spelled = served(
            &jpeg,
            &request("height=12,trim=0;0;0;0", png, Fit::ScaleDown),
        );
        assert_eq!(plain.0, spelled.0);
        assert_eq!(plain.1, spelled.1);
    }

    #[test]
    fn a_row_whose_size_is_not_its_bytes_stores_nothing() {
        let mut jpeg = source(128, 96, ImageFormat::Jpeg, false);
        jpeg.record.width = 256;
        let asked = request("width=200", JPEG, Fit::ScaleDown);
        let settings = Settings {
            default_fit: Fit::ScaleDown,
            max_pixels: 50_000_000,
            max_output_pixels: 50_000_000,
            max_upscale: None,
            format: JPEG,
        };
        let output = transform(&jpeg.bytes, &asked.options, settings).unwrap();
        let refused = keyed_as_made(&jpeg.record, &asked, &output).unwrap_err();
        assert!(
            refused.to_string().contains("recorded as 256x96"),
            "{refused}"
        );
    }
}

#[cfg(test)]
mod properties;
