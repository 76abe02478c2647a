//! Cross-site request forgery: browsers send the session cookie with a post from any site only if it
//! is `SameSite=Lax` or looser, and ours is `Strict`, but a form post or a server-function call that
//! changes state is refused here as well whenever the browser says it came from another origin, so
//! neither an older browser nor a sibling subdomain (same site, other origin) can sign the owner in or
//! out, generate or delete. Programs that send neither `Origin` nor `Sec-Fetch-Site` (curl, the API
//! clients) are not browsers, carry no cookie of ours, and pass.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::error::ApiError;
use crate::server::session::over_tls;
use crate::server::state::AppState;

/// The paths whose posts act on the browser's session.
fn uses_session(path: &str) -> bool {
    ["/auth/", "/studio/", "/sfn/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && uses_session(request.uri().path()) {
        if let Err(seen) = check(&state, request.headers()) {
            return ApiError::Forbidden(format!(
                "cross-origin posts are refused ({seen}); use the studio on this server's own address"
            ))
            .into_response();
        }
    }
    next.run(request).await
}

/// `Ok` for a same-origin browser request or a non-browser; else what gave the other origin away.
fn check(state: &AppState, headers: &HeaderMap) -> Result<(), String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("?");
        return if own_origins(state, headers).iter().any(|own| own == origin) {
            Ok(())
        } else {
            Err(format!("Origin: {origin}"))
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => Ok(()),
        Some(other) => Err(format!("Sec-Fetch-Site: {other}")),
    }
}

/// This server's origins: as the request addressed it (`Host`, the scheme it came by) and as
/// `server.public_url` names it (what a reverse proxy in front serves).
fn own_origins(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let mut origins = Vec::with_capacity(2);
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
        let scheme = if over_tls(state, headers) {
            "https"
        } else {
            "http"
        };
        origins.push(format!("{scheme}://{host}"));
    }
    if let Ok(public) = url_origin(&state.public_url) {
        origins.push(public);
    }
    origins
}

/// `scheme://host[:port]` of an absolute URL, as browsers write it in `Origin`.
fn url_origin(url: &str) -> Result<String, ()> {
    let (scheme, rest) = url.split_once("://").ok_or(())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(());
    }
    Ok(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_origins_are_what_browsers_send() {
        assert_eq!(
            url_origin("https://Images.Example.com/").as_deref(),
            Ok("https://images.example.com")
        );
        assert_eq!(
            url_origin("http://10.0.0.2:3000").as_deref(),
            Ok("http://10.0.0.2:3000")
        );
        assert!(url_origin("").is_err());
        assert!(uses_session("/sfn/delete_image"));
        assert!(!uses_session("/api/image"));
    }
}
