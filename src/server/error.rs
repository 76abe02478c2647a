//! The one place errors become HTTP: a status and `{"error": "..."}` (plus `Retry-After` for 429),
//! for every face: the HTTP routes and the studio's server functions alike.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::server::engine::EngineError;
use crate::server::providers::ProviderError;
use crate::server::storage::{CatalogError, FailureKind};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("missing or wrong API key: send Authorization: Bearer <key>")]
    Unauthorized,
    /// A bearer token other than the API key is missing or wrong (the metrics token).
    #[error("{0}")]
    BadToken(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    UriTooLong(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    GatewayTimeout(String),
    #[error("{0}")]
    Busy(String),
    /// Details go to the log, never to the client.
    #[error("internal error; the server log has the details")]
    Internal,
}

impl ApiError {
    /// The 404 of every face that looks an image up by id.
    pub fn no_image(id: &str) -> Self {
        ApiError::NotFound(format!("no image with id `{id}`"))
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized | ApiError::BadToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<&EngineError> for ApiError {
    fn from(err: &EngineError) -> Self {
        match err {
            EngineError::UnknownModel(err) => ApiError::NotFound(err.to_string()),
            EngineError::BadRequest(message) | EngineError::Incapable(message) => {
                ApiError::BadRequest(message.clone())
            }
            EngineError::EmptyPrompt => ApiError::BadRequest(err.to_string()),
            EngineError::TooLarge(message) => ApiError::PayloadTooLarge(message.clone()),
            EngineError::Unsupported(message) => ApiError::UnsupportedMediaType(message.clone()),
            EngineError::Deadline(_) => ApiError::GatewayTimeout(err.to_string()),
            EngineError::Busy => ApiError::Busy(err.to_string()),
            EngineError::Forbidden(message) => ApiError::Forbidden(message.clone()),
            EngineError::Gone(message) => ApiError::NotFound(message.clone()),
            EngineError::Limited {
                message,
                retry_after,
            } => ApiError::RateLimited {
                message: message.clone(),
                retry_after: Some(*retry_after),
            },
            EngineError::Provider(provider) => {
                tracing::warn!(error = %provider, "provider failed");
                match provider {
                    ProviderError::RateLimited { retry_after, .. }
                    | ProviderError::QuotaExhausted { retry_after, .. } => ApiError::RateLimited {
                        message: provider.to_string(),
                        retry_after: *retry_after,
                    },
                    ProviderError::BadRequest { .. } => ApiError::BadRequest(provider.to_string()),
                    ProviderError::Timeout { .. } => ApiError::GatewayTimeout(provider.to_string()),
                    ProviderError::UnknownModel { .. }
                    | ProviderError::Unauthorized { .. }
                    | ProviderError::Upstream { .. }
                    | ProviderError::Failed { .. }
                    | ProviderError::InvalidOutput { .. } => {
                        ApiError::BadGateway(provider.to_string())
                    }
                }
            }
            EngineError::Elsewhere(failure) => {
                let message = failure.message.clone();
                match failure.kind {
                    FailureKind::BadRequest => ApiError::BadRequest(message),
                    FailureKind::Refused => ApiError::Forbidden(message),
                    FailureKind::Limited(seconds) => ApiError::RateLimited {
                        message,
                        retry_after: Some(Duration::from_secs(seconds)),
                    },
                    FailureKind::Timeout => ApiError::GatewayTimeout(message),
                    FailureKind::Busy => ApiError::Busy(message),
                    FailureKind::Upstream => ApiError::BadGateway(message),
                    FailureKind::Internal => ApiError::Internal,
                }
            }
            EngineError::Catalog(CatalogError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "the catalog is unavailable");
                ApiError::Busy("the catalog is unavailable for a moment; try again".into())
            }
            EngineError::Catalog(_)
            | EngineError::Blob(_)
            | EngineError::Internal(_)
            | EngineError::Setup(_) => {
                tracing::error!(error = %err, "request failed inside the server");
                ApiError::Internal
            }
        }
    }
}

/// An engine error as a sentence for people (the studio), with the wait when rate limited.
pub fn user_message(err: &EngineError) -> String {
    let api = ApiError::from(err);
    match &api {
        ApiError::RateLimited {
            retry_after: Some(wait),
            ..
        } => format!("{api} Try again in {} s.", wait.as_secs().max(1)),
        _ => api.to_string(),
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        ApiError::from(&err)
    }
}

impl From<Arc<EngineError>> for ApiError {
    fn from(err: Arc<EngineError>) -> Self {
        ApiError::from(err.as_ref())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        self.with_body(body)
    }
}

impl ApiError {
    /// This error's status and headers around `body`. `{"error": "..."}` for every face but the OpenAI
    /// one, which answers in OpenAI's shape (`http/api/openai.rs`).
    pub fn with_body(self, body: impl serde::Serialize) -> Response {
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        // An error is about this moment; no cache should keep it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            ApiError::RateLimited { retry_after, .. } => {
                // Whole seconds, at least one: clients should not hammer us with zero.
                let seconds = retry_after.map_or(60, |d| d.as_secs_f64().ceil().max(1.0) as u64);
                headers.insert(header::RETRY_AFTER, seconds.into());
            }
            ApiError::Busy(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Unauthorized | ApiError::BadToken(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
