//! Signed URLs: `sig` = HMAC-SHA256 over the canonical path and query (every parameter but `sig`,
//! sorted), base64url without padding. A signature proves the server's owner minted the URL, so a stranger
//! cannot make a paid provider draw whatever they type into an address bar.
//!
//! Clients encode the same URL differently (`/café` raw, `/caf%C3%A9` from a browser, `%2C` for `,`), so
//! both sides sign and verify one canonical form: each path segment percent-decoded and re-encoded with
//! [`PATH_SEGMENT`], the query decoded and re-encoded as a form. `pixzoo sign` prints that same form,
//! which is what browsers send.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, CONTROLS};
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

/// What a path segment encodes: the WHATWG path percent-encode set (what browsers escape), plus `%`
/// and `/`, since the segment has been decoded; every byte outside ASCII is always encoded.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b'/');

/// `path` in its one canonical encoding: each segment decoded, then encoded with [`PATH_SEGMENT`]. An
/// escaped slash (`%2F`) stays escaped, so segments never merge.
pub fn canonical_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let bytes: Vec<u8> = percent_decode_str(segment).collect();
            percent_encode(&bytes, PATH_SEGMENT).to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The query's pairs other than `sig`, decoded, in the order given.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(name, _)| name != "sig")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn encode_query(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The text a signature covers: the canonical path, then the query pairs other than `sig`, decoded,
/// sorted, and encoded again, so parameter order and encoding quirks do not matter.
pub fn canonical(path: &str, query: Option<&str>) -> String {
    let path = canonical_path(path);
    let mut pairs = query_pairs(query);
    pairs.sort();
    if pairs.is_empty() {
        return path;
    }
    format!("{path}?{}", encode_query(&pairs))
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
    // Printed as a browser sends it: the canonical path, the pairs in their order, encoded.
    let mut signed = format!("{origin}{}?", canonical_path(path));
    let pairs = query_pairs(query);
    if !pairs.is_empty() {
        signed.push_str(&encode_query(&pairs));
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

    /// Signs `url` and checks the signature against the URL as a client sent it, raw or encoded.
    fn verifies_as_sent(keys: &[Secret], url: &str, sent: &str) -> bool {
        let sig = split(&sign_url(keys, url).unwrap()).2;
        let (path, query) = match sent.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (sent, None),
        };
        verify(keys, path, query, &sig)
    }

    #[test]
    fn non_ascii_urls_verify_however_they_are_encoded() {
        let keys = keys(&["k"]);
        let cases = [
            ("/800x600/café", "/800x600/caf%C3%A9"),
            (
                "/800x600/戴墨镜的树懒",
                "/800x600/%E6%88%B4%E5%A2%A8%E9%95%9C%E7%9A%84%E6%A0%91%E6%87%92",
            ),
            ("/512x512/a-🦥-sloth", "/512x512/a-%F0%9F%A6%A5-sloth"),
            (
                "/64x64/zorro y búho?model=flux&seed=2",
                "/64x64/zorro%20y%20b%C3%BAho?seed=2&model=flux",
            ),
            ("/64x64/a,b+c", "/64x64/a%2Cb%2Bc"),
            (
                "/64x64/fox?prompt_hint=日本",
                "/64x64/fox?prompt_hint=%E6%97%A5%E6%9C%AC",
            ),
        ];
        for (minted, encoded) in cases {
            assert!(verifies_as_sent(&keys, minted, minted), "raw {minted}");
            assert!(
                verifies_as_sent(&keys, minted, encoded),
                "{minted} as {encoded}"
            );
            assert!(
                verifies_as_sent(&keys, encoded, minted),
                "{encoded} as {minted}"
            );
        }
        // What `pixzoo sign` prints is what a browser sends.
        let signed = sign_url(&keys, "/800x600/café?note=été").unwrap();
        assert!(
            signed.starts_with("/800x600/caf%C3%A9?note=%C3%A9t%C3%A9&sig="),
            "{signed}"
        );
        // Another word, or a slash smuggled into a segment, is another URL.
        assert!(!verifies_as_sent(&keys, "/800x600/café", "/800x600/cafe"));
        assert!(!verifies_as_sent(&keys, "/64x64/a%2Fb", "/64x64/a/b"));
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
