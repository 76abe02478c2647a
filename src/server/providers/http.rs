//! What every HTTP provider shares: the client, mapping statuses to [`ProviderError`], `Retry-After`, and
//! downloading output files only from allowed hosts.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::provider::ProviderError;

/// Largest response body read from a provider (an image or JSON holding one in base64).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("pixzoo/", env!("CARGO_PKG_VERSION")))
        // Redirects could lead output downloads to hosts that were not allowed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client with static settings builds")
}

/// `path` (which starts with the API version) under `base`, keeping a path prefix the base has (a proxy
/// at `/openai`), with or without a trailing slash. A base that already ends in that version, as OpenAI
/// SDKs write `OPENAI_BASE_URL` (`…/v1`), is not doubled. `Url::join` would drop a prefix without a
/// trailing slash and double the version, hence this.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let prefix = base.path().trim_end_matches('/');
    let version = path.split('/').next().unwrap_or_default();
    let prefix = prefix
        .strip_suffix(&format!("/{version}"))
        .unwrap_or(prefix);
    let mut url = base.clone();
    url.set_path(&format!("{prefix}/{path}"));
    url
}

/// A transport failure: timeout, or anything else as an upstream failure (without the URL).
pub fn transport_error(
    provider: &'static str,
    timeout: Duration,
    err: reqwest::Error,
) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout {
            provider,
            after: timeout,
        }
    } else {
        ProviderError::Upstream {
            provider,
            message: format!("request failed: {}", err.without_url()),
        }
    }
}

/// An HTTP error status as the matching error, with the provider's own message.
pub fn status_error(
    provider: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    message: String,
) -> ProviderError {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            ProviderError::Unauthorized { provider }
        }
        StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited {
            provider,
            retry_after: retry_after(headers).or_else(|| retry_after_in_text(&message)),
            message,
        },
        // A server error's body is the provider's internals (request ids, account details): logged,
        // not passed on to whoever asked.
        s if s.is_server_error() => {
            tracing::warn!(provider, status = s.as_u16(), body = %message, "provider server error");
            ProviderError::Upstream {
                provider,
                message: format!("HTTP {}", s.as_u16()),
            }
        }
        StatusCode::REQUEST_TIMEOUT => ProviderError::Upstream {
            provider,
            message: "request timeout".into(),
        },
        _ => ProviderError::BadRequest { provider, message },
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Replicate's "Your rate limit resets in ~30s." style hint.
pub fn retry_after_in_text(text: &str) -> Option<Duration> {
    let start = text.find('~')? + 1;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let rest = &text[start + digits.len()..];
    let seconds: u64 = digits.parse().ok()?;
    rest.starts_with('s').then(|| Duration::from_secs(seconds))
}

/// Sends `request` and reads a JSON answer. A failure status becomes the matching [`ProviderError`],
/// with `message_of` picking the provider's own error text out of the body (or `HTTP nnn`).
pub async fn send_json<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    timeout: Duration,
    request: reqwest::RequestBuilder,
    message_of: fn(&[u8]) -> Option<String>,
) -> Result<T, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, timeout, e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body(provider, timeout, response).await?;
    if !status.is_success() {
        let message = message_of(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        return Err(status_error(provider, status, &headers, message));
    }
    serde_json::from_slice(&body).map_err(|err| ProviderError::Upstream {
        provider,
        message: format!("unreadable response: {err}"),
    })
}

/// Reads a body up to the size limit.
pub async fn read_body(
    provider: &'static str,
    timeout: Duration,
    mut response: reqwest::Response,
) -> Result<Bytes, ProviderError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(ProviderError::InvalidOutput {
            provider,
            message: "the response is larger than 64 MiB".into(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(provider, timeout, e))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ProviderError::InvalidOutput {
                provider,
                message: "the response is larger than 64 MiB".into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// Whether `url`'s host is `base`'s host or matches one of `patterns` (`*.example.com` for subdomains).
pub fn host_allowed(url: &Url, base: &Url, patterns: &[String]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if Some(host) == base.host_str() && url.port_or_known_default() == base.port_or_known_default()
    {
        return true;
    }
    patterns
        .iter()
        .any(|pattern| match pattern.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.')),
            None => host == pattern,
        })
}

/// Downloads an output file, refusing hosts that are not the provider's. No credentials are sent.
pub async fn download(
    provider: &'static str,
    client: &reqwest::Client,
    timeout: Duration,
    url: &str,
    base: &Url,
    allowed: &[String],
) -> Result<Bytes, ProviderError> {
    let invalid = |message: String| ProviderError::InvalidOutput { provider, message };
    let url = Url::parse(url).map_err(|_| invalid("the output is not a valid URL".into()))?;
    if !matches!(url.scheme(), "http" | "https") || !host_allowed(&url, base, allowed) {
        return Err(invalid(format!(
            "refusing to download output from {}, which is not one of the provider's hosts",
            url.host_str().unwrap_or("an unknown host")
        )));
    }
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| transport_error(provider, timeout, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ProviderError::Upstream {
            provider,
            message: format!("downloading the output answered HTTP {}", status.as_u16()),
        });
    }
    read_body(provider, timeout, response).await
}

/// A `data:` URI's bytes (base64 payloads only, which is what providers send).
pub fn data_uri(provider: &'static str, uri: &str) -> Result<Bytes, ProviderError> {
    let invalid = |message: &str| ProviderError::InvalidOutput {
        provider,
        message: message.into(),
    };
    let (meta, payload) = uri
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .ok_or_else(|| invalid("malformed data URI"))?;
    if !meta.ends_with(";base64") {
        return Err(invalid("data URI is not base64"));
    }
    base64_bytes(provider, payload)
}

pub fn base64_bytes(provider: &'static str, text: &str) -> Result<Bytes, ProviderError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Bytes::from)
        .map_err(|_| ProviderError::InvalidOutput {
            provider,
            message: "the image is not valid base64".into(),
        })
}

#[cfg(test)]
mod tests {

    #[test]
    fn endpoints_keep_prefixes_and_never_double_the_version() {
        let at =
            |base: &str| endpoint(&Url::parse(base).unwrap(), "v1/images/generations").to_string();
        assert_eq!(
            at("https://api.openai.com"),
            "https://api.openai.com/v1/images/generations"
        );
        assert_eq!(
            at("https://api.openai.com/"),
            "https://api.openai.com/v1/images/generations"
        );
        assert_eq!(
            at("https://api.openai.com/v1"),
            "https://api.openai.com/v1/images/generations"
        );
        assert_eq!(
            at("https://api.openai.com/v1/"),
            "https://api.openai.com/v1/images/generations"
        );
        assert_eq!(
            at("http://10.0.0.2:8080/openai"),
            "http://10.0.0.2:8080/openai/v1/images/generations"
        );
        assert_eq!(
            endpoint(
                &Url::parse("http://x/gw/").unwrap(),
                "client/v4/accounts/a/ai/run/@cf/m"
            )
            .as_str(),
            "http://x/gw/client/v4/accounts/a/ai/run/@cf/m"
        );
    }
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_dates_and_text() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        let text = "Request was throttled. Your rate limit resets in ~30s.";
        assert_eq!(retry_after_in_text(text), Some(Duration::from_secs(30)));
        assert_eq!(retry_after_in_text("no hint"), None);
    }

    #[test]
    fn only_allowed_hosts() {
        let base = Url::parse("https://api.replicate.com").unwrap();
        let allowed = vec![
            "replicate.delivery".to_owned(),
            "*.replicate.delivery".to_owned(),
        ];
        let ok = |u: &str| host_allowed(&Url::parse(u).unwrap(), &base, &allowed);
        assert!(ok("https://replicate.delivery/x.webp"));
        assert!(ok("https://pbxt.replicate.delivery/x.webp"));
        assert!(ok("https://api.replicate.com/files/1"));
        assert!(!ok("https://evilreplicate.delivery/x.webp"));
        assert!(!ok("https://replicate.delivery.evil.com/x.webp"));
        assert!(!ok("http://169.254.169.254/latest/meta-data"));
        assert!(!ok("https://api.replicate.com:8443/files/1"));
    }

    #[test]
    fn status_mapping() {
        let headers = HeaderMap::new();
        let err =
            |s: u16| status_error("x", StatusCode::from_u16(s).unwrap(), &headers, "m".into());
        assert!(matches!(err(401), ProviderError::Unauthorized { .. }));
        assert!(matches!(err(403), ProviderError::Unauthorized { .. }));
        assert!(matches!(err(422), ProviderError::BadRequest { .. }));
        assert!(matches!(err(429), ProviderError::RateLimited { .. }));
        assert!(matches!(err(503), ProviderError::Upstream { .. }));
        assert!(err(503).is_retryable() && !err(422).is_retryable());
    }
}
