//! What every purge target is handed and what it can fail with: the files that send (`cloudflare.rs`,
//! `webhook.rs`) and the one that retries them (`mod.rs`) share these.

/// Why an image's copies must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takedown {
    /// The image is gone: every URL showing it.
    Deleted,
    /// A `?redo` replaced it: the placeholder URLs that showed it show another image now.
    Replaced,
}

impl Takedown {
    pub fn as_str(self) -> &'static str {
        match self {
            Takedown::Deleted => "deleted",
            Takedown::Replaced => "replaced",
        }
    }
}

/// What one purge names.
#[derive(Debug, Clone)]
pub struct PurgeRequest {
    pub reason: Takedown,
    pub image_id: String,
    /// Complete: every response of the image carries them.
    pub tags: Vec<String>,
    /// Absolute URLs known to show the image (`/img/{id}` for a delete), under `server.public_url`.
    pub urls: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// Built without the URL, which may carry a webhook's secret.
    #[error("could not reach it: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("it answered {0}")]
    Status(reqwest::StatusCode),
    #[error("it refused: {0}")]
    Refused(String),
}

impl PurgeError {
    pub(super) fn transport(err: reqwest::Error) -> Self {
        Self::Transport(err.without_url())
    }

    /// Worth another attempt: the endpoint was unreachable, busy or failing, not refusing.
    pub(super) fn is_retryable(&self) -> bool {
        match self {
            PurgeError::Transport(_) => true,
            PurgeError::Status(status) => {
                status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS
            }
            PurgeError::Refused(_) => false,
        }
    }
}
