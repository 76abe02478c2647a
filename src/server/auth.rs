//! The one authorisation check: may this request spend money or delete? When `API_KEY` is set, a
//! request proves it holds the key the way its face expects: programs (the JSON API, the OpenAI
//! endpoint) send the key itself (`Authorization: Bearer <key>`), browsers (the studio's server
//! functions and form posts) the session they got by presenting it once (`session.rs`). Every face asks
//! [`Caller::may`] with where it is and the [`Action`] it is about to take. The limits layer reads the
//! credentials once per request and leaves the [`Caller`] in the request's extensions.

use axum::http::{header, HeaderMap};
use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;

use crate::server::guard::{ClientRules, Signature};
use crate::server::secret::Secret;
use crate::server::session::{self, SessionBook};

/// What a request may ask for that needs the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start new generations (provider calls cost money).
    Generate,
    /// Store an image someone sent (uploads take disk, and are the sources of paid edits).
    Upload,
    /// Delete an image.
    Delete,
    /// Sign a URL, which lets whoever holds it generate. Only with a key set.
    Sign,
    /// `?redo`: make a stored URL's image again. Only the key itself, and only when one is set: it is
    /// a tool for the owner's scripts, not for browsers.
    Redo,
}

/// Which proof of the key a face accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Programs: the bearer key.
    Api,
    /// Browsers: the studio session cookie.
    Studio,
    /// Either, for an endpoint both use (uploads: scripts and the studio's file drop).
    Any,
}

/// What the check knows: the key, the studio's sessions and the metrics token.
pub struct Authority {
    api_key: Secret,
    metrics_token: Secret,
    pub sessions: SessionBook,
}

impl Authority {
    pub fn new(api_key: Secret, metrics_token: Secret, sessions: SessionBook) -> Self {
        Self {
            api_key,
            metrics_token,
            sessions,
        }
    }

    /// Whether the server has an API key, so generating, uploading and deleting need proof of it.
    pub fn key_required(&self) -> bool {
        !self.api_key.is_empty()
    }

    /// Whether `given` is the configured API key (false when none is configured), in constant time.
    pub fn key_matches(&self, given: &str) -> bool {
        secret_matches(&self.api_key, given)
    }

    /// The credentials a request presents: read once, by the limits middleware.
    pub fn caller(&self, headers: &HeaderMap) -> Caller {
        Caller {
            key: self.key_matches(bearer(headers)),
            session: CookieJar::from_headers(headers)
                .get(session::cookie_name(self.sessions.over_tls(headers)))
                .map(|c| c.value().to_owned()),
        }
    }
}

/// The credentials a request presented.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The bearer token matched the configured key.
    key: bool,
    /// The studio session cookie's token, not yet checked (that takes a catalog read).
    session: Option<String>,
}

impl Caller {
    /// Whether this caller, coming through `via`, may take `action`. Without a configured key
    /// generating and deleting are open, but never `Redo` or `Sign`: a signature handed to anyone who
    /// asks protects nothing, so without a key URLs are signed only on the command line
    /// (`pixzoo sign`). A catalog failure while checking a session counts as "no".
    pub async fn may(&self, authority: &Authority, via: Via, action: Action) -> bool {
        let key_set = authority.key_required();
        match (action, via) {
            (Action::Redo, _) => key_set && self.key,
            (Action::Sign, _) if !key_set => false,
            _ if !key_set => true,
            (_, Via::Api) => self.key,
            (_, Via::Studio) => self.signed_in(&authority.sessions).await,
            (_, Via::Any) => self.key || self.signed_in(&authority.sessions).await,
        }
    }

    /// Whether the request brought the key itself (false when none is configured): the owner's
    /// scripts, counted under one client of their own rather than by address.
    pub fn holds_key(&self) -> bool {
        self.key
    }

    /// Whether this request may make what a stranger may not (a derivative outside
    /// `security.derivatives`, an enlargement past `limits.max_upscale`): its URL's signature is
    /// valid, or it brought the key.
    pub fn vouched(&self, signature: Signature) -> bool {
        signature == Signature::Valid || self.key
    }

    /// Whether the request brings a studio session cookie (live or not: what a page is made for
    /// may depend on it, so no shared cache may keep that page).
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the request carries a live studio session.
    async fn signed_in(&self, sessions: &SessionBook) -> bool {
        match &self.session {
            Some(token) => sessions.is_live(token).await,
            None => false,
        }
    }
}

/// Whether `given` is `expected` (false when `expected` is empty), in constant time.
fn secret_matches(expected: &Secret, given: &str) -> bool {
    let expected = expected.expose();
    // Equal lengths are compared in constant time; a length mismatch reveals only the length.
    !expected.is_empty()
        && given.len() == expected.len()
        && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The request's `Authorization: Bearer` token, if any.
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default()
        .trim()
}

/// Which listener a metrics scrape came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListener {
    /// The public one.
    Main,
    /// `server.metrics_addr`, which the operator keeps private.
    Own,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsRefusal {
    /// A token is configured and the request did not bring it.
    Token,
    /// No token is configured and the client is not on this machine.
    NotLoopback,
}

/// Whether a request may read `/metrics`: the metrics token when one is set (on any listener), else
/// any client of the operator's own listener, or a loopback client of the main one (behind a trusted
/// proxy, the address the proxy names, so the proxy itself does not count as local).
pub fn may_read_metrics(
    authority: &Authority,
    clients: &ClientRules,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    listener: MetricsListener,
) -> Result<(), MetricsRefusal> {
    let token = &authority.metrics_token;
    if !token.is_empty() {
        return if secret_matches(token, bearer(headers)) {
            Ok(())
        } else {
            Err(MetricsRefusal::Token)
        };
    }
    // A loopback peer forwarding for someone (a reverse proxy on this machine that Pixzoo was not told
    // about) is not local: whoever it forwards for is.
    let forwarded = clients.proxy_header.is_none()
        && ["forwarded", "x-forwarded-for", "x-real-ip"]
            .iter()
            .any(|name| headers.contains_key(*name));
    let local = !forwarded
        && clients
            .address(headers, peer)
            .is_some_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback());
    if listener == MetricsListener::Own || local {
        Ok(())
    } else {
        Err(MetricsRefusal::NotLoopback)
    }
}
