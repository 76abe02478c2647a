//! A generic purge webhook: the purge as JSON (`{"event":"purge","reason":…,"image_id":…,"urls":[…],
//! "tags":[…]}`), signed so that its receiver can trust it: `X-Pixzoo-Timestamp` (Unix seconds) and
//! `X-Pixzoo-Signature: sha256=<hex>`, the HMAC-SHA256 under the shared secret of
//! `"<timestamp>.<body>"`. The timestamp is signed so that a receiver can refuse an old request played
//! again.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::request::{PurgeError, PurgeRequest};
use crate::server::config::WebhookConfig;
use crate::server::secret::Secret;

pub const TIMESTAMP: &str = "x-pixzoo-timestamp";
pub const SIGNATURE: &str = "x-pixzoo-signature";

pub struct Webhook {
    url: String,
    secret: Secret,
}

impl Webhook {
    pub fn new(config: &WebhookConfig) -> Self {
        Self {
            url: config.url.trim().to_owned(),
            secret: config.secret.clone(),
        }
    }

    pub async fn send(
        &self,
        http: &reqwest::Client,
        request: &PurgeRequest,
    ) -> Result<(), PurgeError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "event": "purge",
            "reason": request.reason.as_str(),
            "image_id": request.image_id,
            "urls": request.urls,
            "tags": request.tags,
        }))
        .expect("strings serialize");
        // Signed afresh for each attempt: a retry is not a replay.
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
            .to_string();
        let signature = sign(&self.secret, &timestamp, &body);
        let response = http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP, &timestamp)
            .header(SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(PurgeError::transport)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(PurgeError::Status(status))
        }
    }
}

/// `sha256=<hex>` of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let secret = Secret::new("whsec");
        let signed = sign(&secret, "1700000000", b"{}");
        assert!(
            signed.starts_with("sha256=") && signed.len() == 7 + 64,
            "{signed}"
        );
        assert_ne!(signed, sign(&secret, "1700000001", b"{}"));
        assert_ne!(signed, sign(&secret, "1700000000", b"{ }"));
        assert_ne!(signed, sign(&Secret::new("other"), "1700000000", b"{}"));
    }
}
