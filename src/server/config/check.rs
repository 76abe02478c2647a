//! The checks several sections' `validate` share, each refusing a value with a [`ConfigError`] that
//! names its key.

use std::borrow::Cow;

use super::ConfigError;

/// Refuses `key` for `reason`.
pub(super) fn invalid(
    key: impl Into<Cow<'static, str>>,
    reason: impl Into<String>,
) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    })
}

/// An http(s) URL with a host. Empty passes unless `required` (the key has a default server, and an
/// empty value, an unset variable in a compose file, would switch it on with nowhere to send requests).
pub(super) fn http_url(
    key: impl Into<Cow<'static, str>>,
    url: &str,
    required: bool,
) -> Result<(), ConfigError> {
    if url.is_empty() && required {
        return invalid(key, "must not be empty (leave it unset for the default)");
    }
    if !url.is_empty() && !is_http_url(url) {
        return invalid(key, format!("`{url}` is not an http(s) URL"));
    }
    Ok(())
}

fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A timeout, count or size that means nothing at 0.
pub(super) fn at_least_one(
    key: impl Into<Cow<'static, str>>,
    value: u64,
) -> Result<(), ConfigError> {
    if value == 0 {
        return invalid(key, "must be at least 1");
    }
    Ok(())
}

/// The fewest characters a key that unlocks the server may have: a sign-in is slowed per address
/// (`guard::SignInThrottle`), but a short key still falls to guesses from many.
pub const MIN_SECRET_CHARS: usize = 16;

/// A key of at least [`MIN_SECRET_CHARS`], or none. The message names the setting and its variable,
/// never the value.
pub(super) fn long_secret(
    key: &'static str,
    variable: &str,
    secret: &crate::server::secret::Secret,
) -> Result<(), ConfigError> {
    if secret.is_empty() || secret.expose().chars().count() >= MIN_SECRET_CHARS {
        return Ok(());
    }
    invalid(
        key,
        format!(
            "({variable}) is shorter than {MIN_SECRET_CHARS} characters; use a random one of at \
             least {MIN_SECRET_CHARS} (e.g. `openssl rand -hex 16`)"
        ),
    )
}
