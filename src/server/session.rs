//! Studio sign-in. When `API_KEY` is set, the browser presents the key once and gets a random session
//! token in an HttpOnly, SameSite=Strict cookie; the catalog keeps only an HMAC of the token under the
//! key, so the catalog alone cannot be used to sign in and changing `API_KEY` ends every session (their
//! hashes no longer match). The key itself never travels back to the page. Whether a session
//! authorises something is `auth.rs`'s question.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::server::state::AppState;
use crate::server::storage::CatalogError;

pub const COOKIE: &str = "pixzoo_session";

/// How long a sign-in lasts.
const LIFETIME: time::Duration = time::Duration::days(30);

/// What the catalog keeps of a session token: its HMAC under the current API key.
fn token_hash(state: &AppState, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.api_key.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"pixzoo-session\0");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Starts a session and returns its cookie.
pub async fn sign_in(state: &AppState) -> Result<Cookie<'static>, CatalogError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = crate::server::clock::now_millis()
        + i64::try_from(LIFETIME.whole_milliseconds()).unwrap_or(i64::MAX);
    state
        .sessions
        .insert_session(&token_hash(state, &token), expires_at)
        .await?;
    Ok(Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .path("/")
        .max_age(LIFETIME)
        .build())
}

/// Ends the session the cookie names (if any) and returns the cookie that clears it.
pub async fn sign_out(state: &AppState, jar: &CookieJar) -> Result<Cookie<'static>, CatalogError> {
    if let Some(cookie) = jar.get(COOKIE) {
        state
            .sessions
            .delete_session(&token_hash(state, cookie.value()))
            .await?;
    }
    Ok(Cookie::build((COOKIE, "")).path("/").build())
}

/// Whether `token` names a sign-in that has not expired; a catalog failure counts as "no".
pub async fn is_live(state: &AppState, token: &str) -> bool {
    match state
        .sessions
        .session_valid(&token_hash(state, token))
        .await
    {
        Ok(valid) => valid,
        Err(err) => {
            tracing::error!(error = %err, "checking a studio session failed");
            false
        }
    }
}
