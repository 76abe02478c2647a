//! Signed URLs: `sig` = HMAC-SHA256 over the canonical path and query (every parameter but `sig`,
//! sorted), base64url without padding. A signature proves the server's owner minted the URL, so a stranger
//! cannot make a paid provider draw whatever they type into an address bar.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::server::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("no signing key is configured (security.signing_keys / PIXZOO_SIGNING_KEY)")]
    NoKey,
    #[error("`{0}` is not a URL or a path starting with /")]
    NotAUrl(String),
}

/// The text a signature covers: the path as sent, then the query pairs other than `sig`, decoded,
/// sorted, and encoded again, so parameter order and encoding quirks do not matter.
pub fn canonical(path: &str, query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(name, _)| name != "sig")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

fn mac(key: &Secret, message: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac
}

/// The signature for a canonical string.
pub fn signature(key: &Secret, canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, canonical).finalize().into_bytes())
}

/// Whether `sig` is a valid signature of the request under any of the keys, compared in constant time.
pub fn verify(keys: &[Secret], path: &str, query: Option<&str>, sig: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(sig.trim()) else {
        return false;
    };
    let message = canonical(path, query);
    keys.iter()
        .any(|key| mac(key, &message).verify_slice(&given).is_ok())
}

/// `url` (absolute, or a path) with its signature appended, keeping scheme and host as given.
pub fn sign_url(keys: &[Secret], url: &str) -> Result<String, SignError> {
    let key = keys.first().ok_or(SignError::NoKey)?;
    let (origin, rest) = match url.find("://") {
        Some(scheme_end) => {
            let after = scheme_end + 3;
            let path_start = url[after..].find('/').map_or(url.len(), |i| after + i);
            (&url[..path_start], &url[path_start..])
        }
        None => ("", url),
    };
    let rest = if rest.is_empty() { "/" } else { rest };
    if !rest.starts_with('/') {
        return Err(SignError::NotAUrl(url.to_owned()));
    }
    let rest = rest.split('#').next().unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let sig = signature(key, &canonical(path, query));
    let kept: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("sig=") && *pair != "sig")
        .collect();
    let mut signed = format!("{origin}{path}?");
    for pair in kept {
        signed.push_str(pair);
        signed.push('&');
    }
    signed.push_str("sig=");
    signed.push_str(&sig);
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<Secret> {
        names.iter().map(|k| Secret::new(*k)).collect()
    }

    fn split(url: &str) -> (&str, Option<&str>, String) {
        let (path, query) = url.split_once('?').unwrap();
        let sig = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "sig")
            .unwrap()
            .1
            .into_owned();
        (path, Some(query), sig)
    }

    #[test]
    fn a_signed_url_verifies_and_a_changed_one_does_not() {
        let keys = keys(&["k1"]);
        let signed = sign_url(&keys, "/800x600/a-sloth?model=flux&seed=3").unwrap();
        let (path, query, sig) = split(&signed);
        assert!(signed.starts_with("/800x600/a-sloth?model=flux&seed=3&sig="));
        assert!(verify(&keys, path, query, &sig));
        // Parameter order does not matter; every parameter and the path do.
        assert!(verify(&keys, path, Some("seed=3&model=flux"), &sig));
        assert!(!verify(&keys, path, Some("model=flux&seed=4"), &sig));
        assert!(!verify(&keys, "/800x601/a-sloth", query, &sig));
        assert!(!verify(&keys, path, query, "not-base64!"));
        assert!(!verify(&keys, path, query, ""));
    }

    #[test]
    fn any_configured_key_verifies_and_the_first_signs() {
        let old = keys(&["old"]);
        let rotated = keys(&["new", "old"]);
        let signed_before = sign_url(&old, "http://img.example/64x64/cat").unwrap();
        assert!(signed_before.starts_with("http://img.example/64x64/cat?sig="));
        let (path, query, sig) = split(signed_before.strip_prefix("http://img.example").unwrap());
        assert!(verify(&rotated, path, query, &sig));
        assert!(!verify(&keys(&["new"]), path, query, &sig));
    }

    #[test]
    fn signing_replaces_an_old_signature_and_needs_a_key() {
        let keys = keys(&["k"]);
        let once = sign_url(&keys, "/64x64/cat?sig=stale").unwrap();
        assert_eq!(once.matches("sig=").count(), 1);
        assert_eq!(sign_url(&[], "/64x64/cat"), Err(SignError::NoKey));
        assert!(matches!(
            sign_url(&keys, "64x64/cat"),
            Err(SignError::NotAUrl(_))
        ));
    }
}
