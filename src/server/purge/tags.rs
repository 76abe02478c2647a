//! The names a CDN can purge an image's responses by. Every image response carries them, whichever
//! path answers (`http::image_response`): `Cache-Tag` (Cloudflare, comma-separated) and
//! `Surrogate-Key` (Fastly and others, space-separated), each naming [`GLOBAL_TAG`] and the stored
//! image's own tag ([`image_tag`]): an original, its derivatives, and placeholder URLs showing it.
//! A purge names the image's tag only.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// Every Pixzoo response: purging it drops all of Pixzoo's images and nothing else on the zone.
pub const GLOBAL_TAG: &str = "pixzoo";

pub const CACHE_TAG: HeaderName = HeaderName::from_static("cache-tag");
pub const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// Stored image `id`'s tag.
pub fn image_tag(id: &str) -> String {
    format!("{GLOBAL_TAG}-img-{id}")
}

/// An image's tags as header values, built once when a response is kept in memory so that a hit
/// formats nothing.
#[derive(Debug, Clone)]
pub struct Tags {
    cache_tag: HeaderValue,
    surrogate_key: HeaderValue,
}

impl Tags {
    /// `None` for an id no tag list can carry (a separator or a byte no header allows); ids Pixzoo
    /// makes are hex.
    pub fn of(id: &str) -> Option<Self> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return None;
        }
        let tag = image_tag(id);
        Some(Self {
            cache_tag: HeaderValue::try_from(format!("{GLOBAL_TAG},{tag}")).ok()?,
            surrogate_key: HeaderValue::try_from(format!("{GLOBAL_TAG} {tag}")).ok()?,
        })
    }

    pub fn insert_into(&self, headers: &mut HeaderMap) {
        headers.insert(CACHE_TAG, self.cache_tag.clone());
        headers.insert(SURROGATE_KEY, self.surrogate_key.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_header_lists_the_global_tag_and_the_images_in_its_cdns_syntax() {
        let mut headers = HeaderMap::new();
        Tags::of("0193abc").unwrap().insert_into(&mut headers);
        assert_eq!(headers[CACHE_TAG], "pixzoo,pixzoo-img-0193abc");
        assert_eq!(headers[SURROGATE_KEY], "pixzoo pixzoo-img-0193abc");
        for bad in ["", "a,b", "a b", "é"] {
            assert!(Tags::of(bad).is_none(), "{bad}");
        }
    }
}
