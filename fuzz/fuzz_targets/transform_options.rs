//! `/img/{id}/{options}`: Cloudflare-style option strings. Parsing never panics, and whatever parses
//! prints canonically and parses back to the same (normalized) options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pixzoo::urls::options::TransformOptions;

fuzz_target!(|input: &str| {
    if let Ok(options) = TransformOptions::parse(input) {
        let canonical = options.to_string();
        let again = TransformOptions::parse(&canonical).expect("canonical options parse");
        assert_eq!(again, options.normalized(), "{input:?} -> {canonical:?}");
        assert_eq!(again.to_string(), canonical);
    }
});
