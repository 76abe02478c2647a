//! Studio sign-in. When `API_KEY` is set, the browser presents the key once and gets a random session
//! token in an HttpOnly, SameSite=Strict cookie; the catalog keeps only the token's hash. The key itself
//! never travels back to the page.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::server::storage::CatalogError;
use crate::server::AppState;

pub const COOKIE: &str = "pixzoo_session";

/// How long a sign-in lasts.
const LIFETIME: time::Duration = time::Duration::days(30);

/// Whether `given` is the configured API key (false when none is configured), in constant time.
pub fn key_matches(state: &AppState, given: &str) -> bool {
    let expected = state.api_key.expose();
    // Equal lengths are compared in constant time; a length mismatch reveals only the length.
    !expected.is_empty()
        && given.len() == expected.len()
        && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session and returns its cookie.
pub async fn sign_in(state: &AppState) -> Result<Cookie<'static>, CatalogError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = crate::server::now_millis()
        + i64::try_from(LIFETIME.whole_milliseconds()).unwrap_or(i64::MAX);
    state
        .engine
        .catalog()
        .insert_session(&token_hash(&token), expires_at)
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
            .engine
            .catalog()
            .delete_session(&token_hash(cookie.value()))
            .await?;
    }
    Ok(Cookie::build((COOKIE, "")).path("/").build())
}

/// Whether the request may generate and delete from the studio: always without an API key, otherwise
/// with a live session. A catalog failure counts as "no".
pub async fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    if state.api_key.is_empty() {
        return true;
    }
    let Some(cookie) = CookieJar::from_headers(headers).get(COOKIE).cloned() else {
        return false;
    };
    match state
        .engine
        .catalog()
        .session_valid(&token_hash(cookie.value()))
        .await
    {
        Ok(valid) => valid,
        Err(err) => {
            tracing::error!(error = %err, "checking a studio session failed");
            false
        }
    }
}

/// [`authorised`] for the request a server function is answering.
pub async fn server_fn_authorised(state: &AppState) -> bool {
    match leptos_axum::extract::<HeaderMap>().await {
        Ok(headers) => authorised(state, &headers).await,
        Err(_) => state.api_key.is_empty(),
    }
}
