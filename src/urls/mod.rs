//! URL grammars shared by the server (which parses them) and the browser (which builds them), so that every
//! URL the UI prints is one the server accepts.

pub mod image;
pub mod options;
pub mod pages;
pub mod placeholder;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a value keeps as it is in a URL meant to be read and shared: RFC 3986's unreserved characters
/// and the `/`, `:` and `@` a query may hold (`FLUX.1-schnell`, `@cf/flux`, `0.35`); everything else,
/// `&`, `=`, `#` and `+` among it, is percent-encoded.
const SHAREABLE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b':')
    .remove(b'@');

/// `path?name=value&…` with values percent-encoded, empty ones left out, and no `?` when none is left.
pub fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    join(path, query, SHAREABLE)
}

/// As [`with_query`], with every byte but ASCII letters and digits encoded: the studio's own links,
/// which its no-JavaScript redirects have always spelled so.
fn with_strict_query(path: &str, query: &[(&str, &str)]) -> String {
    join(path, query, NON_ALPHANUMERIC)
}

fn join(path: &str, query: &[(&str, &str)], set: &'static AsciiSet) -> String {
    let pairs: Vec<String> = query
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, set)))
        .collect();
    if pairs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", pairs.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(with_query("/a", &[]), "/a");
        assert_eq!(
            with_query(
                "/a",
                &[
                    ("model", "@cf/FLUX.1-schnell"),
                    ("seed", ""),
                    ("q", "a&b=c #d+")
                ]
            ),
            "/a?model=@cf/FLUX.1-schnell&q=a%26b%3Dc%20%23d%2B"
        );
        assert_eq!(with_strict_query("/", &[("e", "sign-in")]), "/?e=sign%2Din");
    }
}
