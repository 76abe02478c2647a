//! What providers send back and what is stored: sniffing, header dimensions within the pixel limit,
//! then decoding. Hostile bytes must give an error, never a panic or an allocation beyond the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pixzoo::server::transform::inspect::{decode, inspect};

/// 4 megapixels: decoding may allocate width × height × 4 bytes, so this bounds memory per input.
const MAX_PIXELS: u64 = 4_000_000;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(inspected) = inspect(bytes, MAX_PIXELS) {
        assert!(u64::from(inspected.width) * u64::from(inspected.height) <= MAX_PIXELS);
        if let Ok(image) = decode(bytes, inspected) {
            assert_eq!(
                (image.width(), image.height()),
                (inspected.width, inspected.height)
            );
        }
    }
});
