//! Cross-site writes. Two kinds of path change state:
//! - the studio's (`/auth/`, `/studio/`, `/sfn/`), which act on the browser's session. Its cookie is
//!   `SameSite=Strict`, but a post that changes state is refused here as well whenever the browser says
//!   it came from another origin, so neither an older browser nor a sibling subdomain (same site, other
//!   origin) can sign the owner in or out, generate or delete;
//! - the API's (`/api/`, `/v1/`): any origin may read it, but a page on another origin may write
//!   (generate, upload, delete) only if `security.cors_origins` lists it or the request brings the API
//!   key, which a page cannot send without having it. Otherwise any site a user visits could spend a
//!   keyless server's provider budget or empty its gallery, with a simple request (a form's multipart
//!   post needs no preflight) or a preflighted one ([`preflight`] refuses those).
//!
//! Programs that send neither `Origin` nor `Sec-Fetch-Site` (curl, the API clients) are not browsers,
//! carry no cookie of ours, and pass.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// The paths whose posts act on the browser's session.
fn uses_session(path: &str) -> bool {
    ["/auth/", "/studio/", "/sfn/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// What an API client refused for its origin can do about it.
const API_ADVICE: &str =
    "the server's owner can allow that origin in security.cors_origins, or send the API key";

/// The API's paths, open to other origins for reading.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v1/")
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The refusal for a cross-origin write, if `request` is one. Called by the limits middleware rather
/// than being a layer of its own, so a cached image passes one middleware.
pub fn refusal(state: &AppState, request: &Request, caller: &Caller) -> Option<Response> {
    if !changes_state(request.method()) {
        return None;
    }
    let path = request.uri().path();
    let seen = if uses_session(path) {
        check(state, request.headers(), &[]).err()?
    } else if is_api(path) && !caller.holds_key() {
        check(state, request.headers(), &state.security.cors_origins).err()?
    } else {
        return None;
    };
    let advice = if uses_session(path) {
        "use the studio on this server's own address"
    } else {
        API_ADVICE
    };
    Some(
        ApiError::Forbidden(format!(
            "cross-origin writes are refused ({seen}); {advice}"
        ))
        .into_response(),
    )
}

/// Answers a CORS preflight for a write to the API from an origin that may not write (the CORS layer,
/// inside this one, answers every other preflight), so the browser never sends the request. A
/// preflight that asks to send `Authorization` passes: the request will bring a key, and
/// [`refusal`] checks that it is the right one.
pub async fn preflight(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS && is_api(request.uri().path()) {
        let headers = request.headers();
        let writes = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .and_then(|m| m.parse::<Method>().ok())
            .is_some_and(|m| changes_state(&m));
        let brings_key = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|name| name.trim().eq_ignore_ascii_case("authorization"));
        if writes && !brings_key {
            if let Err(seen) = check(&state, headers, &state.security.cors_origins) {
                return ApiError::Forbidden(format!(
                    "cross-origin writes are refused ({seen}); {API_ADVICE}"
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// `Ok` for a same-origin browser request or a non-browser; else what gave the other origin away.
/// `Origin: null` (a sandboxed frame, or a page whose referrer policy hides its origin) says nothing
/// either way, so the fetch metadata decides, and without any a browser's null origin is refused.
/// `allowed`: the other origins that may write too (`security.cors_origins`; `*` is any).
fn check(state: &AppState, headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
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
            _ if allows(allowed, origin) => Ok(()),
            _ => Err(format!("Origin: {origin}")),
        },
        None => match fetch_site {
            None | Some("same-origin" | "none") => Ok(()),
            Some(other) => Err(format!("Sec-Fetch-Site: {other}")),
        },
    }
}

/// Whether `origin` is one `security.cors_origins` lists (scheme, host and port; `*` is any).
fn allows(allowed: &[String], origin: &str) -> bool {
    let origin = normal_origin(origin);
    allowed
        .iter()
        .any(|entry| entry == "*" || origin.is_some() && normal_origin(entry) == origin)
}

/// `scheme://host[:port]`, lowercased, without the scheme's default port or a trailing slash.
pub fn normal_origin(origin: &str) -> Option<String> {
    let (scheme, _) = origin.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let host = url_host(origin.trim())?;
    Some(format!("{scheme}://{host}"))
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
        assert!(is_api("/v1/images/edits") && is_api("/api/uploads"));

        let listed = ["https://app.example.com".to_owned()];
        assert!(allows(&listed, "https://App.Example.com:443"));
        assert!(!allows(&listed, "http://app.example.com"));
        assert!(!allows(&listed, "https://app.example.com.evil.example"));
        assert!(!allows(&listed, "null"));
        assert!(allows(&["*".to_owned()], "https://anyone.example"));
        assert!(!allows(&[], "https://anyone.example"));
    }
}
