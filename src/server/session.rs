//! Studio sign-in. When `API_KEY` is set, the browser presents the key once and gets a random session
//! token in an HttpOnly, SameSite=Strict cookie; the catalog keeps only an HMAC of the token under the
//! key, so the catalog alone cannot be used to sign in and changing `API_KEY` ends every session (their
//! hashes no longer match). The key itself never travels back to the page. Whether a session
//! authorises something is `auth.rs`'s question.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::server::secret::Secret;
use crate::server::storage::{CatalogError, Sessions};

/// The cookie over plain HTTP (local use, a LAN).
const COOKIE: &str = "pixzoo_session";
/// The cookie over TLS. Browsers accept a `__Host-` cookie only with `Secure`, `Path=/` and no
/// `Domain`, so neither a sibling subdomain nor a plain-HTTP page can plant or replace it.
const HOST_COOKIE: &str = "__Host-pixzoo_session";

/// What the trusted proxy says the browser used: its last value over all lines counts
/// (`guard::client::last_value`), as for the client address.
const FORWARDED_PROTO: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-forwarded-proto");

/// How long a sign-in lasts.
const LIFETIME: time::Duration = time::Duration::days(30);

/// The session cookie's name for a request that came over TLS or not ([`SessionBook::over_tls`]).
pub fn cookie_name(tls: bool) -> &'static str {
    if tls {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// Studio sign-ins: what a session's row and cookie are made from.
pub struct SessionBook {
    /// `API_KEY`: the sessions' HMAC key, so a new key ends every session.
    api_key: Secret,
    store: Arc<dyn Sessions>,
    /// `server.public_url` is https.
    public_https: bool,
    /// A reverse proxy is trusted (`security.client_ip_header`), so its `X-Forwarded-Proto` counts.
    proxy_trusted: bool,
}

impl SessionBook {
    pub fn new(
        api_key: Secret,
        store: Arc<dyn Sessions>,
        public_url: &str,
        proxy_trusted: bool,
    ) -> Self {
        Self {
            api_key,
            store,
            public_https: public_url.starts_with("https://"),
            proxy_trusted,
        }
    }

    /// Whether the browser reached us over TLS: `server.public_url` is https, or the trusted reverse
    /// proxy (the one `security.client_ip_header` names) says so in `X-Forwarded-Proto`. Without a
    /// configured proxy the header is anyone's to send, so it is not believed.
    pub fn over_tls(&self, headers: &HeaderMap) -> bool {
        self.public_https
            || (self.proxy_trusted
                && crate::server::guard::client::last_value(headers, &FORWARDED_PROTO)
                    .is_some_and(|proto| proto.eq_ignore_ascii_case("https")))
    }

    /// What the catalog keeps of a session token: its HMAC under the current API key.
    fn token_hash(&self, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.api_key.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(b"pixzoo-session\0");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Starts a session and returns its cookie (`tls`: whether the request came over TLS).
    pub async fn sign_in(&self, tls: bool) -> Result<Cookie<'static>, CatalogError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let expires_at = crate::server::clock::now_millis()
            + i64::try_from(LIFETIME.whole_milliseconds()).unwrap_or(i64::MAX);
        self.store
            .insert_session(&self.token_hash(&token), expires_at)
            .await?;
        Ok(Cookie::build((cookie_name(tls), token))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(tls)
            .path("/")
            .max_age(LIFETIME)
            .build())
    }

    /// Ends the session the cookie names (if any) and returns the cookie that clears it.
    pub async fn sign_out(
        &self,
        jar: &CookieJar,
        tls: bool,
    ) -> Result<Cookie<'static>, CatalogError> {
        if let Some(cookie) = jar.get(cookie_name(tls)) {
            self.store
                .delete_session(&self.token_hash(cookie.value()))
                .await?;
        }
        Ok(Cookie::build((cookie_name(tls), ""))
            .secure(tls)
            .path("/")
            .build())
    }

    /// Whether `token` names a sign-in that has not expired; a catalog failure counts as "no".
    pub async fn is_live(&self, token: &str) -> bool {
        match self.store.session_valid(&self.token_hash(token)).await {
            Ok(valid) => valid,
            Err(err) => {
                tracing::error!(error = %err, "checking a studio session failed");
                false
            }
        }
    }
}
