//! Replicate's predictions API: `POST /v1/models/{owner}/{name}/predictions` (or `/v1/predictions` with a
//! version) with `Prefer: wait`, then
//! polling `urls.get` while the prediction is `starting` or `processing`. Output is an array of URLs, one
//! URL, or a `data:` URI. Errors are problem-details JSON. Edits send their images as data URIs.

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::AUTHORIZATION;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{self, data_uri, download, send_json};
use super::provider::{EditInput, ImageProvider, ProviderError, ProviderImage, ProviderRequest};
use crate::server::config::ReplicateConfig;
use crate::server::secret::Secret;

const NAME: &str = crate::server::config::ProviderKind::Replicate.name();

pub struct Replicate {
    client: reqwest::Client,
    token: Secret,
    base: Url,
    timeout: Duration,
    poll_interval: Duration,
    file_hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Prediction {
    status: String,
    #[serde(default)]
    output: Value,
    #[serde(default)]
    error: Value,
    #[serde(default)]
    urls: Urls,
}

#[derive(Debug, Default, Deserialize)]
struct Urls {
    get: Option<String>,
}

impl Replicate {
    pub fn new(config: &ReplicateConfig) -> Self {
        let timeout = Duration::from_secs(config.timeout_secs);
        Self {
            client: http::client(timeout),
            token: config.api_token.clone(),
            // Validated at start-up.
            base: Url::parse(&config.base_url).expect("validated base_url"),
            timeout,
            poll_interval: Duration::from_millis(config.poll_interval_ms.max(10)),
            file_hosts: config.file_hosts.clone(),
        }
    }

    fn input(request: &ProviderRequest) -> Value {
        if let Some(edit) = &request.edit {
            return Self::edit_input(request, edit);
        }
        let mut input =
            json!({ "prompt": request.prompt, "num_outputs": 1, "output_format": "png" });
        match &request.aspect_ratio {
            Some(ratio) => input["aspect_ratio"] = json!(ratio),
            None => {
                input["width"] = json!(request.width);
                input["height"] = json!(request.height);
            }
        }
        if let Some(steps) = request.steps {
            input["num_inference_steps"] = json!(steps);
        }
        if let Some(seed) = request.seed {
            input["seed"] = json!(seed);
        }
        if let Some(negative) = &request.negative_prompt {
            input["negative_prompt"] = json!(negative);
        }
        input
    }

    /// FLUX Kontext takes the source as `input_image` and keeps its shape; Stable Diffusion inpainting
    /// takes `image` and `mask` (white = repaint) at a size. Both as data URIs.
    fn edit_input(request: &ProviderRequest, edit: &EditInput) -> Value {
        let png = |bytes: &[u8]| {
            format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        };
        let mut input = if request.upstream_model.contains("kontext") {
            json!({
                "prompt": request.prompt,
                "input_image": png(&edit.image),
                "aspect_ratio": "match_input_image",
                "output_format": "png",
            })
        } else {
            let mut input = json!({
                "prompt": request.prompt,
                "image": png(&edit.image),
                "width": request.width,
                "height": request.height,
                "num_outputs": 1,
                "prompt_strength": edit.strength(),
            });
            if let Some(mask) = &edit.mask {
                input["mask"] = json!(png(mask));
            }
            if let Some(steps) = request.steps {
                input["num_inference_steps"] = json!(steps);
            }
            if let Some(negative) = &request.negative_prompt {
                input["negative_prompt"] = json!(negative);
            }
            input
        };
        if let Some(seed) = request.seed {
            input["seed"] = json!(seed);
        }
        input
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Prediction, ProviderError> {
        let request = request.header(AUTHORIZATION, format!("Bearer {}", self.token.expose()));
        send_json(NAME, self.timeout, request, problem_message).await
    }

    async fn output_bytes(&self, output: &Value) -> Result<bytes::Bytes, ProviderError> {
        let first = match output {
            Value::Array(items) => items.first().and_then(Value::as_str),
            Value::String(url) => Some(url.as_str()),
            _ => None,
        }
        .ok_or_else(|| ProviderError::InvalidOutput {
            provider: NAME,
            message: "the prediction succeeded without an output".into(),
        })?;
        if first.starts_with("data:") {
            data_uri(NAME, first)
        } else {
            download(
                NAME,
                &self.client,
                self.timeout,
                first,
                &self.base,
                &self.file_hosts,
            )
            .await
        }
    }
}

/// The most useful text of a problem-details body (`detail`, then `title`), with `invalid_fields`.
fn problem_message(body: &[u8]) -> Option<String> {
    let problem = serde_json::from_slice::<Value>(body).ok()?;
    let mut message = problem["detail"]
        .as_str()
        .or_else(|| problem["title"].as_str())
        .unwrap_or("no details")
        .to_owned();
    if let Some(fields) = problem["invalid_fields"].as_array() {
        let fields: Vec<String> = fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f["field"].as_str().unwrap_or("?"),
                    f["description"].as_str().unwrap_or("invalid")
                )
            })
            .collect();
        if !fields.is_empty() {
            message.push_str(&format!(" ({})", fields.join("; ")));
        }
    }
    Some(message)
}

impl Replicate {
    /// Runs `model` (`owner/name`) on `input` to a finished prediction: created with `Prefer: wait`,
    /// then polled at `urls.get` (on the API's own host only) while it is `starting` or `processing`.
    /// `owner/name` runs the model's latest version; `owner/name:version` (community models) that
    /// version.
    async fn predict(&self, model: &str, input: Value) -> Result<Prediction, ProviderError> {
        let unknown = || ProviderError::UnknownModel {
            provider: NAME,
            model: model.to_owned(),
        };
        let (path, body) = match model.split_once(':') {
            Some((_, version)) if !version.is_empty() => (
                "v1/predictions".to_owned(),
                json!({ "version": version, "input": input }),
            ),
            Some(_) => return Err(unknown()),
            None => {
                let (owner, name) = model.split_once('/').ok_or_else(unknown)?;
                (
                    format!("v1/models/{owner}/{name}/predictions"),
                    json!({ "input": input }),
                )
            }
        };
        let url = http::endpoint(&self.base, &path);
        let mut prediction = self
            .call(self.client.post(url).header("Prefer", "wait").json(&body))
            .await?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match prediction.status.as_str() {
                "succeeded" => return Ok(prediction),
                "failed" | "canceled" | "aborted" => {
                    let reason = prediction.error.as_str().unwrap_or("no reason given");
                    return Err(ProviderError::Failed {
                        provider: NAME,
                        message: format!("the prediction {}: {reason}", prediction.status),
                    });
                }
                _ => {}
            }
            let poll = prediction
                .urls
                .get
                .clone()
                .ok_or_else(|| ProviderError::Upstream {
                    provider: NAME,
                    message: format!(
                        "prediction is {} but has no urls.get to poll",
                        prediction.status
                    ),
                })?;
            let poll = Url::parse(&poll)
                .ok()
                .filter(|u| http::host_allowed(u, &self.base, &[]))
                .ok_or_else(|| ProviderError::Upstream {
                    provider: NAME,
                    message: "refusing to poll a URL outside the API host".into(),
                })?;
            if tokio::time::Instant::now() + self.poll_interval > deadline {
                return Err(ProviderError::Timeout {
                    provider: NAME,
                    after: self.timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
            prediction = self.call(self.client.get(poll)).await?;
        }
    }

    /// A language model's answer: Replicate streams text models' output as an array of pieces.
    pub async fn run_text(&self, model: &str, input: Value) -> Result<String, ProviderError> {
        let prediction = self.predict(model, input).await?;
        match prediction.output {
            Value::String(text) => Ok(text),
            Value::Array(pieces) => Ok(pieces.iter().filter_map(Value::as_str).collect()),
            _ => Err(ProviderError::InvalidOutput {
                provider: NAME,
                message: "the prediction succeeded without text".into(),
            }),
        }
    }
}

#[async_trait::async_trait]
impl ImageProvider for Replicate {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn generate(&self, request: ProviderRequest) -> Result<ProviderImage, ProviderError> {
        let prediction = self
            .predict(&request.upstream_model, Self::input(&request))
            .await?;
        let bytes = self.output_bytes(&prediction.output).await?;
        Ok(ProviderImage {
            bytes,
            seed: request.seed,
        })
    }
}
