//! `/{W}x{H}/{slug}`: the size segment and the slug, as any client may send them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pixzoo::urls::placeholder::{parse_size, placeholder_path, prompt_from_slug, UrlLimits};

fuzz_target!(|input: &str| {
    let limits = UrlLimits::default();
    let (size, slug) = input.split_once('/').unwrap_or((input, ""));
    if let Ok(size) = parse_size(size, &limits) {
        assert!(size.width >= 1 && size.width <= limits.max_width);
        assert!(size.height >= 1 && size.height <= limits.max_height);
        // A size prints as a segment that parses back to itself.
        assert_eq!(parse_size(&size.to_string(), &limits).ok(), Some(size));
    }
    if let Ok(prompt) = prompt_from_slug(slug, &limits) {
        assert!(prompt.chars().count() <= limits.max_slug_chars);
        let _ = placeholder_path(
            pixzoo::urls::placeholder::Size {
                width: 1,
                height: 1,
            },
            &prompt,
        );
    }
});
