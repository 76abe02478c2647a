//! Which format to send: the one asked for, the source's when none is, or for `format=auto` the best the
//! client accepts (AVIF, then WebP, then JPEG), in which case the response varies by `Accept`.

use axum::http::{header, HeaderMap};

use crate::domain::format::ImageFormat;
use crate::urls::options::OutputFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub format: ImageFormat,
    /// The choice depended on `Accept`: the response must say `Vary: Accept`.
    pub vary: bool,
}

pub fn negotiate(
    asked: Option<OutputFormat>,
    source: ImageFormat,
    headers: &HeaderMap,
) -> Negotiated {
    let fixed = |format| Negotiated {
        format,
        vary: false,
    };
    match asked {
        None => fixed(source),
        Some(OutputFormat::Png) => fixed(ImageFormat::Png),
        Some(OutputFormat::Jpeg) => fixed(ImageFormat::Jpeg),
        Some(OutputFormat::Webp) => fixed(ImageFormat::Webp),
        Some(OutputFormat::Avif) => fixed(ImageFormat::Avif),
        Some(OutputFormat::Auto) => {
            let accept = headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",");
            // A media type is acceptable when listed with a quality above zero.
            let accepts = |mime: &str| {
                accept.split(',').any(|part| {
                    let mut fields = part.split(';').map(str::trim);
                    let listed = fields.next().is_some_and(|m| m.eq_ignore_ascii_case(mime));
                    let quality = fields
                        .find_map(|f| f.strip_prefix("q="))
                        .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
                    listed && quality > 0.0
                })
            };
            let format = if accepts("image/avif") {
                ImageFormat::Avif
            } else if accepts("image/webp") {
                ImageFormat::Webp
            } else {
                ImageFormat::Jpeg
            };
            Negotiated { format, vary: true }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn auto_prefers_avif_then_webp_then_jpeg() {
        let auto = Some(OutputFormat::Auto);
        let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(
            negotiate(auto, ImageFormat::Png, &accept(chrome)).format,
            ImageFormat::Avif
        );
        assert_eq!(
            negotiate(auto, ImageFormat::Png, &accept("image/webp,*/*")).format,
            ImageFormat::Webp
        );
        assert_eq!(
            negotiate(
                auto,
                ImageFormat::Png,
                &accept("image/avif;q=0, image/webp")
            )
            .format,
            ImageFormat::Webp
        );
        assert_eq!(
            negotiate(auto, ImageFormat::Png, &HeaderMap::new()).format,
            ImageFormat::Jpeg
        );
        assert!(negotiate(auto, ImageFormat::Png, &HeaderMap::new()).vary);
        let fixed = negotiate(Some(OutputFormat::Webp), ImageFormat::Png, &accept(chrome));
        assert_eq!((fixed.format, fixed.vary), (ImageFormat::Webp, false));
        assert_eq!(
            negotiate(None, ImageFormat::Jpeg, &HeaderMap::new()).format,
            ImageFormat::Jpeg
        );
    }
}
