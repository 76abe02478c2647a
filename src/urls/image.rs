//! Where a stored image is served: the one place `/img/…` URLs are built.

/// The stored original: `/img/{id}`.
pub fn image_path(id: &str) -> String {
    format!("/img/{id}")
}

/// The image transformed by canonical `options` (the original itself when there are none).
pub fn derivative_path(id: &str, options: &str) -> String {
    if options.is_empty() {
        image_path(id)
    } else {
        format!("/img/{id}/{options}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(image_path("abc"), "/img/abc");
        assert_eq!(derivative_path("abc", ""), "/img/abc");
        assert_eq!(
            derivative_path("abc", "width=320,format=webp"),
            "/img/abc/width=320,format=webp"
        );
    }
}
