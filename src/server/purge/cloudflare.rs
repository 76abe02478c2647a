//! Cloudflare's purge API: `POST {api_base}/client/v4/zones/{zone_id}/purge_cache` with the zone's
//! token as a bearer, purging by tag (`{"tags":[…]}`) or by URL (`{"files":[…]}`); it answers
//! `{"success":true,…}`, or `{"success":false,"errors":[{"code":…,"message":…}]}`.

use serde::Deserialize;

use super::request::{PurgeError, PurgeRequest};
use crate::server::config::{CloudflarePurgeConfig, PurgeBy};
use crate::server::secret::Secret;

pub struct Cloudflare {
    endpoint: String,
    token: Secret,
    by: PurgeBy,
}

#[derive(Deserialize)]
struct Answer {
    success: bool,
    #[serde(default)]
    errors: Vec<Problem>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

impl Cloudflare {
    pub fn new(config: &CloudflarePurgeConfig) -> Self {
        Self {
            endpoint: format!(
                "{}/client/v4/zones/{}/purge_cache",
                config.api_base.trim_end_matches('/'),
                config.zone_id.trim()
            ),
            token: config.api_token.clone(),
            by: config.by,
        }
    }

    /// The body for `request`, or `None` when it names nothing this purge can (by URL, a `?redo`:
    /// the URLs that showed the old image are not known).
    fn body(&self, request: &PurgeRequest) -> Option<serde_json::Value> {
        match self.by {
            PurgeBy::Tags => Some(serde_json::json!({ "tags": request.tags })),
            PurgeBy::Files if request.urls.is_empty() => None,
            PurgeBy::Files => Some(serde_json::json!({ "files": request.urls })),
        }
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        request: &PurgeRequest,
    ) -> Result<(), PurgeError> {
        let Some(body) = self.body(request) else {
            return Ok(());
        };
        let response = http
            .post(&self.endpoint)
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(PurgeError::transport)?;
        let status = response.status();
        // Cloudflare explains a refusal in the body whatever the status; a body that is not its
        // envelope (a proxy's error page) is judged by the status alone.
        let answer = response.json::<Answer>().await.ok();
        match answer {
            Some(answer) if answer.success && status.is_success() => Ok(()),
            _ if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                Err(PurgeError::Status(status))
            }
            Some(answer) => Err(PurgeError::Refused(
                answer
                    .errors
                    .iter()
                    .map(|problem| format!("{} {}", problem.code, problem.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
            None => Err(PurgeError::Status(status)),
        }
    }
}
