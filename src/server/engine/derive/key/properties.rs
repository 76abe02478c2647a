//! The key's property test: requests that share a key are answered with the same bytes.

use proptest::prelude::*;

use super::tests::{served, source, Source};
use super::*;
use crate::server::engine::derive::request::Enlarge;
use crate::urls::options::strategy::{masks, mixed, transform_options_around};

fn request(options: TransformOptions, format: ImageFormat, default_fit: Fit) -> DeriveRequest {
    DeriveRequest {
        options,
        format,
        default_fit,
        enlarge: Enlarge::Unlimited,
    }
}

fn sources() -> &'static [Source; 2] {
    static SOURCES: std::sync::OnceLock<[Source; 2]> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        [
            source(48, 36, ImageFormat::Jpeg, false),
            source(48, 36, ImageFormat::Png, true),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// One key is one output: requests that share an ETag are answered with the same bytes, so
    /// requests whose bytes differ never share one.
    #[test]
    fn a_shared_key_is_the_same_bytes(
        a in transform_options_around(48, 36),
        other in transform_options_around(48, 36),
        mask in masks(),
        which in 0usize..2,
        format in proptest::sample::select(ImageFormat::ALL.to_vec()),
        fits in proptest::sample::select(vec![
            (Fit::ScaleDown, Fit::ScaleDown),
            (Fit::Cover, Fit::Cover),
            (Fit::ScaleDown, Fit::Cover),
        ]),
    ) {
        let source = &sources()[which];
        let b = mixed(&a, &other, mask);
        let first = served(source, &request(a.clone(), format, fits.0));
        let second = served(source, &request(b.clone(), format, fits.1));
        if first.0 == second.0 {
            prop_assert_eq!(&first.1, &second.1, "{} and {} share {}", a, b, first.0);
        }
    }
}
