//! The studio's own pages: the one place links to them are built (an image's page, the studio with
//! its form filled in).

use super::with_strict_query;

/// `/gallery/{id}`: one image's page.
pub fn gallery_path(id: &str) -> String {
    format!("/gallery/{id}")
}

/// The studio with its form filled in from `query`: `/?name=value&…`, every byte but letters and
/// digits encoded.
pub fn studio_path(query: &[(&str, &str)]) -> String {
    with_strict_query("/", query)
}

/// The sign-in page, returning to `next` (a path on this site) once signed in; `failed` after a wrong
/// key.
pub fn sign_in_path(next: &str, failed: bool) -> String {
    with_strict_query(
        "/sign-in",
        &[("failed", if failed { "1" } else { "" }), ("next", next)],
    )
}

/// The sign-in page after too many wrong keys from one address: it says how many `seconds` to wait.
pub fn sign_in_wait_path(next: &str, seconds: u64) -> String {
    with_strict_query(
        "/sign-in",
        &[("wait", &seconds.to_string()), ("next", next)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(gallery_path("abc"), "/gallery/abc");
        assert_eq!(studio_path(&[]), "/");
        assert_eq!(
            sign_in_path("/gallery", true),
            "/sign-in?failed=1&next=%2Fgallery"
        );
        assert_eq!(
            sign_in_path("/gallery/ab", false),
            "/sign-in?next=%2Fgallery%2Fab"
        );
        assert_eq!(
            studio_path(&[
                ("prompt", "a fox & an owl"),
                ("seed", ""),
                ("error", "sign-in")
            ]),
            "/?prompt=a%20fox%20%26%20an%20owl&error=sign%2Din"
        );
    }
}
