//! Cross-site request forgery: browsers send the session cookie with a post from any site only if it
//! is `SameSite=Lax` or looser, and ours is `Strict`, but a form post or a server-function call that
//! changes state is refused here as well whenever the browser says it came from another origin, so
//! neither an older browser nor a sibling subdomain (same site, other origin) can sign the owner in or
//! out, generate or delete. Programs that send neither `Origin` nor `Sec-Fetch-Site` (curl, the API
//! clients) are not browsers, carry no cookie of ours, and pass.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};

use crate::server::error::ApiError;
use crate::server::state::AppState;

/// The paths whose posts act on the browser's session.
fn uses_session(path: &str) -> bool {
    ["/auth/", "/studio/", "/sfn/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// The refusal for a cross-origin post that acts on the session, if `request` is one. Called by the
/// limits middleware rather than being a layer of its own, so a cached image passes one middleware.
pub fn refusal(state: &AppState, request: &Request) -> Option<Response> {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !changes_state || !uses_session(request.uri().path()) {
        return None;
    }
    let seen = check(state, request.headers()).err()?;
    Some(
        ApiError::Forbidden(format!(
            "cross-origin posts are refused ({seen}); use the studio on this server's own address"
        ))
        .into_response(),
    )
}

/// `Ok` for a same-origin browser request or a non-browser; else what gave the other origin away.
/// `Origin: null` (a sandboxed frame, or a page whose referrer policy hides its origin) says nothing
/// either way, so the fetch metadata decides, and without any a browser's null origin is refused.
fn check(state: &AppState, headers: &HeaderMap) -> Result<(), String> {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("?"));
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match origin {
        Some("null") => match fetch_site {
            Some("same-origin" | "none") => Ok(()),
            Some(other) => Err(format!("Origin: null, Sec-Fetch-Site: {other}")),
            None => Err("Origin: null".into()),
        },
        Some(origin) => match url_host(origin) {
            Some(host) if own_hosts(state, headers).contains(&host) => Ok(()),
            _ => Err(format!("Origin: {origin}")),
        },
        None => match fetch_site {
            None | Some("same-origin" | "none") => Ok(()),
            Some(other) => Err(format!("Sec-Fetch-Site: {other}")),
        },
    }
}

/// The host (and port) this server answers as: the request's `Host`, and `server.public_url`'s
/// (what a reverse proxy in front serves). The scheme is not compared: behind a TLS proxy the server
/// cannot always tell how the browser reached it, and the host is what another site cannot fake.
fn own_hosts(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let tls = state.auth.sessions.over_tls(headers);
    let mut hosts = Vec::with_capacity(2);
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
        hosts.push(without_default_port(&host.to_ascii_lowercase(), tls));
    }
    if let Some(public) = url_host(&state.public_url) {
        hosts.push(public);
    }
    hosts
}

/// The lowercased `host[:port]` of an absolute URL or an `Origin`, without the scheme's default port.
fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return None;
    }
    let tls = scheme.eq_ignore_ascii_case("https");
    Some(without_default_port(&authority.to_ascii_lowercase(), tls))
}

fn without_default_port(authority: &str, tls: bool) -> String {
    let default = if tls { ":443" } else { ":80" };
    authority
        .strip_suffix(default)
        .unwrap_or(authority)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_as_browsers_write_them() {
        assert_eq!(
            url_host("https://Images.Example.com/").as_deref(),
            Some("images.example.com")
        );
        assert_eq!(
            url_host("https://images.example.com:443").as_deref(),
            Some("images.example.com")
        );
        assert_eq!(
            url_host("http://10.0.0.2:3000").as_deref(),
            Some("10.0.0.2:3000")
        );
        assert_eq!(url_host(""), None);
        assert!(uses_session("/sfn/delete_image"));
        assert!(!uses_session("/api/image"));
    }
}
