//! `Authorization: Bearer <API_KEY>` when a key is configured, compared in constant time.

use axum::http::{header, HeaderMap};

use crate::server::AppState;

/// Whether the request may do what needs the key (always, when no key is configured).
pub fn authorised(state: &AppState, headers: &HeaderMap) -> bool {
    if state.api_key.is_empty() {
        return true;
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default()
        .trim();
    crate::server::session::key_matches(state, given)
}
