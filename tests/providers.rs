//! Every provider through the whole engine: Pixzoo on loopback, configured against local fakes that
//! speak each provider's wire format, driven through `/{W}x{H}/{slug}`.
#![cfg(feature = "ssr")]

mod common;
mod fakes;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{client, dimensions, events, header, TestServer};
use pixzoo::domain::format::ImageFormat;
use pixzoo::domain::translation::Translation;
use pixzoo::server::config::{Config, PipelineChoice};
use pixzoo::server::secret::Secret;
use pixzoo::server::storage::ImageRecord;
use reqwest::StatusCode;
use serde_json::json;

/// Every secret the fakes use: none may appear in a response or a log line.
const SECRETS: &[&str] = &[
    fakes::replicate::TOKEN,
    fakes::openai::KEY,
    "cf-token-ok-secret",
    "cf-token-ok2-secret",
    "cf-token-quota-secret",
    "cf-token-limited-secret",
    "cf-token-revoked-secret",
    "wrong-token-secret",
];

fn logs() -> Arc<Mutex<Vec<u8>>> {
    common::captured_logs()
}

fn assert_no_secrets(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} contains the secret {secret}: {text}"
        );
    }
}

fn assert_logs_clean() {
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert_no_secrets("the log", &logs);
}

/// Defaults for a test: fast retries, short timeouts, only the providers a test configures.
fn base_config(dir: &Path) -> Config {
    logs();
    let mut config = common::config(dir);
    config.engine.backoff_base_ms = 10;
    config.engine.backoff_max_ms = 50;
    config.providers.replicate.poll_interval_ms = 20;
    config.providers.replicate.timeout_secs = 5;
    // Prompts reach the fakes as written, so their scenario words survive.
    config.prompt.pipeline = PipelineChoice::Off;
    config
}

fn with_replicate(dir: &Path, base: &str) -> Config {
    let mut config = base_config(dir);
    config.providers.replicate.api_token = Secret::new(fakes::replicate::TOKEN);
    config.providers.replicate.base_url = base.to_owned();
    config
}

fn with_cloudflare(dir: &Path, base: &str, accounts: &[&str]) -> Config {
    let mut config = base_config(dir);
    let list: Vec<_> = accounts
        .iter()
        .map(|id| {
            let token = fakes::cloudflare::ACCOUNTS
                .iter()
                .find(|(a, _)| a == id)
                .unwrap()
                .1;
            serde_json::json!({ "account_id": id, "token": token })
        })
        .collect();
    config.providers.cloudflare.accounts = Secret::new(serde_json::to_string(&list).unwrap());
    config.providers.cloudflare.base_url = base.to_owned();
    config
}

/// GETs `path`; on success returns the catalog record behind it (by `X-Image-Id`) and the body.
async fn get_image(server: &TestServer, path: &str) -> (reqwest::Response, Option<ImageRecord>) {
    let response = server.get(path).await;
    let id = header(&response, "x-image-id").to_owned();
    let record = if id.is_empty() {
        None
    } else {
        server
            .state
            .engine
            .original(&id)
            .await
            .unwrap()
            .map(|(record, _)| record)
    };
    (response, record)
}

/// The status and `error` message of a failed request, checked for secrets.
async fn failure(server: &TestServer, path: &str) -> (StatusCode, String, String) {
    let response = server.get(path).await;
    let status = response.status();
    let retry_after = header(&response, "retry-after").to_owned();
    let body = response.text().await.unwrap();
    assert_no_secrets(path, &body);
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or(body);
    (status, message, retry_after)
}

#[tokio::test]
async fn replicate_generates_polls_and_serves_the_exact_size() {
    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(with_replicate(dir.path(), &fake.base)).await;

    // Replicate configured: its model is the default.
    let (response, record) = get_image(&server, "/800x600/a-sunny-sloth").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-cache"), "MISS");
    assert_eq!(
        dimensions(&response.bytes().await.unwrap()),
        (800, 600),
        "cropped to the exact size"
    );
    let record = record.unwrap();
    assert_eq!(
        (record.model.as_str(), record.width, record.height),
        ("flux-schnell", 1152, 896)
    );
    assert_eq!(
        fake.calls.count("aspect_ratio:4:3"),
        1,
        "generated at the nearest supported size"
    );
    assert_eq!(fake.calls.count("prefer-wait"), 1);
    assert_eq!(fake.calls.count("model:black-forest-labs/flux-schnell"), 1);

    let again = server.get("/800x600/a-sunny-sloth").await;
    assert_eq!(header(&again, "x-cache"), "HIT");

    // Steps outside the model's range are refused before the provider is called.
    for (steps, needle) in [(json!(9), "steps 9 is out of range"), (json!(-1), "steps")] {
        let body = json!({"messages": [{"role": "user", "content": "a sloth"}], "model": "flux-schnell", "steps": steps});
        let response = client()
            .post(server.url("/api/image"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().contains(needle), "{error}");
    }
    assert_eq!(
        fake.calls.count("create"),
        1,
        "a hit never calls the provider"
    );

    // Same generation at another size of the same aspect ratio: a hit, cropped anew.
    let (bigger, _) = get_image(&server, "/1600x1200/a-sunny-sloth").await;
    assert_eq!(header(&bigger, "x-cache"), "HIT");
    assert_eq!(dimensions(&bigger.bytes().await.unwrap()), (1600, 1200));

    for (path, size) in [
        ("/1920x1080/async-sloth?model=flux-schnell", (1920, 1080)),
        ("/300x300/single-url-sloth", (300, 300)),
        ("/300x300/data-uri-sloth", (300, 300)),
    ] {
        let (response, record) = get_image(&server, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(dimensions(&response.bytes().await.unwrap()), size, "{path}");
        assert_eq!(record.unwrap().format, ImageFormat::Png);
    }
    assert!(fake.calls.total() > 0 && fake.calls.count("aspect_ratio:16:9") == 1);
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn replicate_errors_become_honest_statuses() {
    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(with_replicate(dir.path(), &fake.base)).await;

    let (status, message, _) = failure(&server, "/512x512/invalid-input").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("prompt is required"), "{message}");

    let (status, message, _) = failure(&server, "/512x512/nsfw-sloth").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("NSFW"), "{message}");
    assert_eq!(
        fake.calls.count("create:nsfw sloth"),
        1,
        "a failed prediction is final: another would cost the same again"
    );

    // A wait longer than the deadline is passed on at once instead of ending in a 504.
    let (status, message, retry_after) = failure(&server, "/512x512/throttled-for-an-hour").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
    assert_eq!(retry_after, "3600");
    assert_eq!(fake.calls.count("create:throttled for an hour"), 1);

    let (jpeg, record) = get_image(&server, "/300x200/jpeg-file-sloth").await;
    assert_eq!(jpeg.status(), StatusCode::OK);
    assert_eq!(
        record.unwrap().format,
        ImageFormat::Jpeg,
        "sniffed, not taken from the name"
    );

    let (status, message, _) = failure(&server, "/512x512/garbage-sloth").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("no usable image"), "{message}");

    let (status, message, _) = failure(&server, "/512x512/foreign-host-sloth").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("refusing to download"), "{message}");

    // Rate limits are retried, honouring Retry-After or the "~Ns" in the detail.
    for prompt in ["throttle-header-sloth", "throttle-text-sloth"] {
        let response = server.get(&format!("/512x512/{prompt}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{prompt}");
        assert_eq!(
            fake.calls
                .count(&format!("create:{}", prompt.replace('-', " "))),
            2,
            "{prompt}"
        );
    }
    let (status, message, retry_after) = failure(&server, "/512x512/always-throttled").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
    assert!(!retry_after.is_empty(), "429 carries Retry-After");
    assert_eq!(
        fake.calls.count("create:always throttled"),
        3,
        "bounded attempts"
    );

    let (status, _, _) = failure(&server, "/512x512/server-error").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        fake.calls.count("create:server error"),
        3,
        "server errors are retried"
    );
    assert_eq!(
        fake.calls.count("create:invalid input"),
        1,
        "request errors are not"
    );
    assert!(
        server.recent(50).await.unwrap().len() == 3,
        "failures are never stored: only the two throttled-then-served images and the JPEG one"
    );
    server.stop().await;

    // A token the provider refuses, and a provider that hangs past its timeout.
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_replicate(dir.path(), &fake.base);
    config.providers.replicate.api_token = Secret::new("wrong-token-secret");
    config.providers.replicate.timeout_secs = 1;
    config.engine.max_attempts = 1;
    let server = TestServer::with_config(config).await;
    let (status, message, _) = failure(&server, "/512x512/any-sloth").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("credentials"), "{message}");
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = with_replicate(dir.path(), &fake.base);
    config.providers.replicate.timeout_secs = 1;
    config.engine.max_attempts = 1;
    let server = TestServer::with_config(config).await;
    let (status, message, _) = failure(&server, "/512x512/hang-sloth").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{message}");
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn fifty_identical_requests_make_one_upstream_call() {
    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(with_replicate(dir.path(), &fake.base)).await;
    let url = server.url("/800x600/slow-sloth-crowd");
    let responses = futures::future::join_all((0..50).map(|_| client().get(&url).send())).await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        ids.insert(header(&response, "x-image-id").to_owned());
    }
    assert_eq!(ids.len(), 1, "everyone gets the same image: {ids:?}");
    assert_eq!(fake.calls.count("create"), 1, "exactly one upstream call");
    server.stop().await;
}

#[tokio::test]
async fn cloudflare_models_outputs_and_envelope_errors() {
    let fake = fakes::cloudflare::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_cloudflare(dir.path(), &fake.base, &["acc-ok"]);
    config.providers.cloudflare.timeout_secs = 1;
    config.engine.max_attempts = 2;
    let server = TestServer::with_config(config).await;

    // FLUX: always 1024x1024, base64 JPEG in JSON.
    let (response, record) = get_image(&server, "/800x600/sloth?model=FLUX.1-Schnell-CF").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(dimensions(&response.bytes().await.unwrap()), (800, 600));
    let record = record.unwrap();
    assert_eq!(
        (record.width, record.height, record.format),
        (1024, 1024, ImageFormat::Jpeg)
    );

    // The default model with Cloudflare configured is FLUX.1-Schnell-CF.
    let (_, record) = get_image(&server, "/300x300/default-sloth").await;
    assert_eq!(record.unwrap().model, "FLUX.1-Schnell-CF");

    // SD models: raw bytes at the requested size, format sniffed whatever the header says.
    let (response, record) = get_image(&server, "/640x480/sloth?model=DS-8-CF").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(record.unwrap().format, ImageFormat::Png);
    let (response, record) = get_image(
        &server,
        "/640x480/mislabelled-sloth?model=SD-XL-Lightning-CF",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record.unwrap();
    assert_eq!(
        (record.format, record.width, record.height),
        (ImageFormat::Jpeg, 640, 480)
    );

    let (status, message, _) = failure(&server, "/640x480/success-false?model=SD-XL-Bash-CF").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "success:false with HTTP 200 is an error"
    );
    assert!(
        message.contains("oneOf") && message.contains("5006"),
        "{message}"
    );
    let (status, message, _) = failure(&server, "/640x480/bad-request?model=SD-XL-Bash-CF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an HTTP 400 envelope");
    assert!(message.contains("shorter than 2048"), "{message}");
    let (status, message, _) =
        failure(&server, "/640x480/internal-error?model=SD-XL-Bash-CF").await;
    assert_eq!(
        status,
        StatusCode::BAD_GATEWAY,
        "code 3043 is Cloudflare's fault"
    );
    assert!(message.contains("3043"), "{message}");
    let (status, _, _) = failure(&server, "/640x480/garbage?model=DS-8-CF").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (status, _, _) = failure(&server, "/640x480/hang?model=DS-8-CF").await;
    assert_eq!(
        status,
        StatusCode::GATEWAY_TIMEOUT,
        "a hang past the timeout"
    );
    let (status, message, _) = failure(&server, "/640x480/sloth?model=DS-8-CF&seed=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn cloudflare_accounts_rotate_rest_and_fail_over() {
    let fake = fakes::cloudflare::start().await;

    // Daily allocation used on the first account: the next one answers, and the spent one rests.
    let dir = tempfile::tempdir().unwrap();
    let config = with_cloudflare(dir.path(), &fake.base, &["acc-quota", "acc-ok"]);
    let server = TestServer::with_config(config).await;
    for prompt in ["first-sloth", "second-sloth", "third-sloth"] {
        let response = server
            .get(&format!("/512x512/{prompt}?model=DS-8-CF"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{prompt}");
    }
    assert_eq!(
        fake.calls.count("account:acc-quota"),
        1,
        "skipped until 00:00 UTC"
    );
    assert_eq!(fake.calls.count("account:acc-ok"), 3);
    server.stop().await;

    // A refused token takes the account out; the request fails over.
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(with_cloudflare(
        dir.path(),
        &fake.base,
        &["acc-badtoken", "acc-ok2"],
    ))
    .await;
    for prompt in ["a-sloth", "b-sloth", "c-sloth"] {
        assert_eq!(
            server
                .get(&format!("/512x512/{prompt}?model=DS-8-CF"))
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(fake.calls.count("account:acc-badtoken"), 1);
    server.stop().await;

    // Round robin across healthy accounts.
    let dir = tempfile::tempdir().unwrap();
    let before = (
        fake.calls.count("account:acc-ok"),
        fake.calls.count("account:acc-ok2"),
    );
    let server = TestServer::with_config(with_cloudflare(
        dir.path(),
        &fake.base,
        &["acc-ok", "acc-ok2"],
    ))
    .await;
    for prompt in ["d-sloth", "e-sloth", "f-sloth", "g-sloth"] {
        assert_eq!(
            server
                .get(&format!("/512x512/{prompt}?model=DS-8-CF"))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let after = (
        fake.calls.count("account:acc-ok"),
        fake.calls.count("account:acc-ok2"),
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (2, 2),
        "requests alternate between accounts"
    );
    server.stop().await;

    // Every account rate limited: 429 with the time until one is back.
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_cloudflare(dir.path(), &fake.base, &["acc-limited"]);
    config.engine.max_attempts = 1;
    let server = TestServer::with_config(config).await;
    let (status, _, retry_after) = failure(&server, "/512x512/busy-sloth?model=DS-8-CF").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
        "Retry-After: {retry_after}"
    );
    server.stop().await;

    // A 429 that says how long: the account rests that long and the client is told so.
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_cloudflare(dir.path(), &fake.base, &["acc-limited-for-a-minute"]);
    config.engine.max_attempts = 1;
    let server = TestServer::with_config(config).await;
    let (status, _, retry_after) = failure(&server, "/512x512/busy-sloth?model=DS-8-CF").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        retry_after
            .parse::<u64>()
            .is_ok_and(|s| (55..=60).contains(&s)),
        "Retry-After: {retry_after}"
    );
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn openai_and_a1111_images() {
    let openai = fakes::openai::start().await;
    let a1111 = fakes::a1111::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    config.providers.openai.base_url = openai.base.clone();
    config.providers.a1111.base_url = a1111.base.clone();
    let server = TestServer::with_config(config).await;

    let (response, record) = get_image(&server, "/1024x1024/a-fox?model=dall-e-3").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(record.unwrap().provider, "openai");
    assert_eq!(openai.calls.count("size:1024x1024"), 1);
    let (response, _) = get_image(&server, "/1792x1024/url-output-fox?model=dall-e-3").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a `url` output from the API's own host is fetched"
    );
    let (status, message, _) = failure(&server, "/1024x1024/policy-fox?model=dall-e-3").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("safety system"), "{message}");

    let (response, record) = get_image(&server, "/640x480/a-cat?model=a1111&seed=77").await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record.unwrap();
    assert_eq!((record.seed, record.width, record.height), (77, 640, 480));
    let (_, record) = get_image(&server, "/640x480/reseed-cat?model=a1111&seed=77").await;
    assert_eq!(
        record.unwrap().seed,
        fakes::a1111::RANDOM_SEED as u32,
        "the seed from `info` is recorded"
    );
    let (status, _, _) = failure(&server, "/640x480/garbage-cat?model=a1111").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (response, _) = get_image(&server, "/1024x1024/rate-limited-fox?model=dall-e-3").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a 429 with Retry-After is waited out"
    );
    assert_eq!(openai.calls.count("attempt:rate-limited-fox"), 2);
    let (status, _, _) = failure(&server, "/1024x1024/garbage-fox?model=dall-e-3").await;
    assert_eq!(
        status,
        StatusCode::BAD_GATEWAY,
        "base64 of something that is not an image"
    );
    let (status, _, retry_after) =
        failure(&server, "/512x512/always-limited-fox?model=dall-e-3").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!retry_after.is_empty(), "a 429 says when to come back");
    assert_eq!(
        openai.calls.count("prompt:always-limited-fox"),
        3,
        "a 429 without Retry-After is retried with backoff, then passed on"
    );
    server.stop().await;

    // A refused key, and a server that hangs past its timeout.
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.providers.openai.api_key = Secret::new("wrong-token-secret");
    config.providers.openai.base_url = openai.base.clone();
    config.providers.a1111.base_url = a1111.base.clone();
    config.providers.a1111.timeout_secs = 1;
    config.engine.max_attempts = 1;
    let server = TestServer::with_config(config).await;
    let (status, message, _) = failure(&server, "/1024x1024/a-fox?model=dall-e-3").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("credentials"), "{message}");
    let (status, _, _) = failure(&server, "/512x512/hang-cat?model=a1111").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    config.providers.openai.base_url = openai.base.clone();
    config.providers.openai.timeout_secs = 1;
    config.engine.max_attempts = 1;
    let server = TestServer::with_config(config).await;
    let (status, _, _) = failure(&server, "/1024x1024/hang-fox?model=dall-e-3").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn prompts_are_translated_cached_and_fall_back() {
    let openai = fakes::openai::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.prompt.pipeline = PipelineChoice::Auto;
    config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    config.providers.openai.base_url = openai.base.clone();
    let server = TestServer::with_config(config.clone()).await;
    assert_eq!(server.state.engine.prompt_pipeline(), "openai");

    let path = "/1024x1024/%E6%88%B4%E5%A2%A8%E9%95%9C%E7%9A%84%E6%A0%91%E6%87%92?model=dall-e-3";
    let (response, record) = get_image(&server, path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record.unwrap();
    assert_eq!(record.prompt, "戴墨镜的树懒");
    assert_eq!(
        record.final_prompt,
        "A sloth wearing sunglasses, relaxing on a sunny beach."
    );
    assert_eq!(record.translation, Translation::Llm);
    assert_eq!(openai.calls.count("chat"), 1);
    assert_eq!(header(&server.get(path).await, "x-cache"), "HIT");
    assert_eq!(openai.calls.count("chat"), 1, "the translation is cached");
    // Search looks in the final prompt too: the word is only in the translation.
    let found: serde_json::Value = server
        .get("/api/images?q=sunglasses")
        .await
        .json()
        .await
        .unwrap();
    let prompts: Vec<&str> = found["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["prompt"].as_str())
        .collect();
    assert_eq!(prompts, ["戴墨镜的树懒"], "{found}");
    server.stop().await;

    let server = TestServer::with_config(config.clone()).await;
    assert_eq!(
        header(&server.get(path).await, "x-cache"),
        "HIT",
        "also after a restart"
    );
    assert_eq!(openai.calls.count("chat"), 1);
    assert_eq!(openai.calls.count("images"), 1);

    let (response, record) = get_image(&server, "/1024x1024/llm-down-fox?model=dall-e-3").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a failing LLM never fails the image"
    );
    let record = record.unwrap();
    assert_eq!(
        (record.translation, record.final_prompt.as_str()),
        (Translation::Fallback, "llm down fox")
    );
    // The category is public; what the LLM server said is only logged.
    let note = record.translation_note.unwrap();
    assert!(note.contains("HTTP 503"), "{note}");
    assert!(!note.contains("overloaded"), "{note}");
    let (_, record) = get_image(&server, "/1024x1024/raw-fox?model=dall-e-3&translate=false").await;
    assert_eq!(record.unwrap().translation, Translation::Off);
    server.stop().await;

    // Cloudflare: m2m100 translates, an instruct model optimises.
    let cf = fakes::cloudflare::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_cloudflare(dir.path(), &cf.base, &["acc-ok"]);
    config.prompt.pipeline = PipelineChoice::Auto;
    let server = TestServer::with_config(config).await;
    assert_eq!(server.state.engine.prompt_pipeline(), "cloudflare");
    let (response, record) = get_image(&server, &path.replace("dall-e-3", "DS-8-CF")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record.unwrap();
    assert_eq!(cf.calls.count("translate:zh->en"), 1);
    assert_eq!(
        record.final_prompt,
        "A photograph of a sloth wearing sunglasses on the beach, golden hour light."
    );
    assert_eq!(record.translation, Translation::Llm);
    let (_, record) = get_image(
        &server,
        "/512x512/%E7%BF%BB%E8%AF%91%E5%A4%B1%E8%B4%A5?model=DS-8-CF",
    )
    .await;
    let record = record.unwrap();
    assert_eq!(record.translation, Translation::Fallback);
    assert!(record
        .translation_note
        .unwrap()
        .contains("translation failed"));
    server.stop().await;

    // Only REPLICATE_API_TOKEN: a language model on Replicate translates and optimises, with the same
    // token, and the image comes from Replicate too.
    let rep = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_replicate(dir.path(), &rep.base);
    config.prompt.pipeline = PipelineChoice::Auto;
    let server = TestServer::with_config(config).await;
    assert_eq!(server.state.engine.prompt_pipeline(), "replicate");
    let (response, record) = get_image(&server, &path.replace("dall-e-3", "flux-schnell")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record = record.unwrap();
    assert_eq!(
        (record.provider.as_str(), record.translation),
        ("replicate", Translation::Llm)
    );
    assert_eq!(
        record.final_prompt,
        "A sloth wearing sunglasses on a sunny beach."
    );
    assert_eq!(
        rep.calls.count("llm:meta-llama-3-8b-instruct:戴墨镜的树懒"),
        1
    );
    assert_eq!(
        rep.calls
            .count("create:A sloth wearing sunglasses on a sunny beach."),
        1,
        "the image model gets the optimised prompt"
    );
    let (_, record) = get_image(&server, "/512x512/llm-down-sloth?model=flux-schnell").await;
    let record = record.unwrap();
    assert_eq!(record.translation, Translation::Fallback);
    let note = record.translation_note.unwrap();
    assert_eq!(
        note, "the replicate prompt pipeline failed: the language model service failed",
        "the category is kept; the upstream text is not"
    );
    let logged = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(logged.contains("the model crashed"), "the detail is logged");
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn jobs_report_progress_outlive_their_callers_and_share_failures() {
    use pixzoo::server::engine::progress::Progress;
    use pixzoo::server::engine::{GenerateRequest, Seed};
    use pixzoo::urls::placeholder::Size;

    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(with_replicate(dir.path(), &fake.base)).await;

    // Progress, in order, for one job.
    let engine = &server.state.engine;
    let plan = engine
        .plan(GenerateRequest {
            model: Some("flux-schnell".into()),
            prompt: "progress sloth".into(),
            negative_prompt: None,
            seed: Seed::FromPrompt,
            steps: None,
            size: Some(Size {
                width: 640,
                height: 480,
            }),
            translate: true,
            redo: false,
            edit: None,
        })
        .unwrap();
    let mut job = engine.submit(plan, std::sync::Arc::new(pixzoo::server::engine::Open));
    let mut events = Vec::new();
    while let Ok(event) = job.progress.recv().await {
        let done = matches!(event, Progress::Done { .. } | Progress::Error { .. });
        events.push(event);
        if done {
            break;
        }
    }
    let names: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Progress::Queued => "queued",
            Progress::Translating => "translating",
            Progress::Translated { .. } => "translated",
            Progress::Generating { .. } => "generating",
            Progress::Storing => "storing",
            Progress::Done { .. } => "done",
            Progress::Error { .. } => "error",
        })
        .collect();
    assert_eq!(
        names,
        [
            "queued",
            "translating",
            "translated",
            "generating",
            "storing",
            "done"
        ]
    );
    let generated = job.result.await.unwrap();
    assert!(matches!(&events[5], Progress::Done { id } if *id == generated.record.id));

    // A caller that gives up does not stop the generation: it is stored anyway.
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(impatient
        .get(server.url("/512x512/slow-abandoned-sloth"))
        .send()
        .await
        .is_err());
    let mut stored = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if server
            .recent(50)
            .await
            .unwrap()
            .iter()
            .any(|r| r.prompt == "slow abandoned sloth")
        {
            stored = true;
            break;
        }
    }
    assert!(stored, "the abandoned generation finished and was stored");
    assert_eq!(
        header(
            &server.get("/512x512/slow-abandoned-sloth").await,
            "x-cache"
        ),
        "HIT"
    );

    // One failing job: every waiter gets its error, and nothing is cached.
    let url = server.url("/512x512/server-error-crowd");
    let responses = futures::future::join_all((0..10).map(|_| client().get(&url).send())).await;
    for response in responses {
        assert_eq!(response.unwrap().status(), StatusCode::BAD_GATEWAY);
    }
    assert_eq!(
        fake.calls.count("create:server error crowd"),
        3,
        "one job, three attempts"
    );
    assert_eq!(
        server.get("/512x512/server-error-crowd").await.status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        fake.calls.count("create:server error crowd"),
        6,
        "failures are not cached"
    );
    server.stop().await;

    // Output over the pixel limit is refused from its header.
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_replicate(dir.path(), &fake.base);
    config.engine.max_output_pixels = 1000;
    let server = TestServer::with_config(config).await;
    let (status, message, _) = failure(&server, "/512x512/huge-sloth").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("over the limit"), "{message}");
    server.stop().await;
}

/// The JSON API and the OpenAI endpoint map a provider's failures as `/{W}x{H}/…` does, each in its own
/// error shape; a stream that fails after it started ends in an `error` event.
#[tokio::test]
async fn the_api_faces_pass_provider_failures_on() {
    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_replicate(dir.path(), &fake.base);
    config.providers.replicate.timeout_secs = 1;
    let server = TestServer::with_config(config).await;
    let api = |prompt: &str, stream: bool| json!({"messages": [{"role": "user", "content": prompt}], "model": "flux-schnell", "size": "512x512", "stream": stream});
    let openai =
        |prompt: &str| json!({"model": "flux-schnell", "prompt": prompt, "size": "512x512"});
    let send = |path: &'static str, body: serde_json::Value| {
        let url = server.url(path);
        async move { client().post(url).json(&body).send().await.unwrap() }
    };

    for (prompt, status) in [
        ("server error", StatusCode::BAD_GATEWAY),
        ("always throttled", StatusCode::TOO_MANY_REQUESTS),
        ("hang", StatusCode::GATEWAY_TIMEOUT),
    ] {
        let response = send("/api/image", api(prompt, false)).await;
        assert_eq!(response.status(), status, "/api/image {prompt}");
        let retry_after = header(&response, "retry-after").to_owned();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(!retry_after.is_empty(), "429 carries Retry-After");
        }

        let response = send("/v1/images/generations", openai(prompt)).await;
        assert_eq!(response.status(), status, "/v1 {prompt}");
        let body: serde_json::Value = response.json().await.unwrap();
        let error = &body["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty())
                && error["type"].is_string()
                && error.get("code").is_some(),
            "OpenAI's error shape: {body}"
        );
    }

    let response = send("/api/image", api("server error again", true)).await;
    assert_eq!(response.status(), StatusCode::OK, "the stream had started");
    let (names, last) = events(&response.text().await.unwrap());
    assert_eq!(names.first().map(String::as_str), Some("queued"));
    assert!(names.contains(&"generating".to_owned()), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("error"), "{names:?}");
    assert!(
        last["error"].as_str().is_some_and(|m| m.contains("failed")),
        "{last}"
    );
    server.stop().await;
    assert_logs_clean();
}

/// The overall deadline covers every attempt and wait: past it the client gets a 504 that says so.
#[tokio::test]
async fn a_generation_past_the_deadline_is_a_504() {
    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_replicate(dir.path(), &fake.base);
    config.providers.replicate.timeout_secs = 10;
    config.engine.deadline_secs = 1;
    let server = TestServer::with_config(config).await;
    let (status, message, _) = failure(&server, "/512x512/hang-sloth").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        message.contains("generation did not finish within 1s"),
        "the deadline, not the provider's 10 s timeout: {message}"
    );
    server.stop().await;
}

/// A gradient PNG of exactly the size an edit is made at, so what reaches a provider is its pixels.
fn source_png(width: u32, height: u32) -> Vec<u8> {
    fakes::png(width, height)
}

/// White (change) on the left half.
fn mask_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::GrayImage::from_fn(width, height, |x, _| {
        image::Luma([if x < width / 2 { 255 } else { 0 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads through the engine (the HTTP face of uploads is tests/edits.rs) and answers the id.
async fn upload(server: &TestServer, bytes: Vec<u8>) -> String {
    server
        .state
        .engine
        .upload(bytes.into(), None, &pixzoo::server::engine::Open)
        .await
        .unwrap()
        .record
        .id
}

/// Makes `path` and checks the image stored is an edit of `source` (with `mask`).
async fn edited(server: &TestServer, path: &str, source: &str, mask: Option<&str>) -> ImageRecord {
    let (response, record) = get_image(server, path).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        response.text().await.unwrap()
    );
    let record = record.unwrap();
    assert_eq!(record.kind, pixzoo::domain::kind::ImageKind::Edit);
    assert_eq!(record.source_id.as_deref(), Some(source));
    assert_eq!(record.mask_id.as_deref(), mask);
    record
}

#[tokio::test]
async fn cloudflare_edits_send_byte_arrays_and_inpainting_sends_the_mask() {
    let fake = fakes::cloudflare::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server =
        TestServer::with_config(with_cloudflare(dir.path(), &fake.base, &["acc-ok"])).await;
    let (source_bytes, mask_bytes) = (source_png(256, 256), mask_png(256, 256));
    let source = upload(&server, source_bytes.clone()).await;
    let mask = upload(&server, mask_bytes.clone()).await;

    // No model named: the first that can edit.
    let record = edited(
        &server,
        &format!("/256x256/a-watercolour?image={source}&strength=0.4"),
        &source,
        None,
    )
    .await;
    assert_eq!(record.model, "SD-1.5-Img2Img-CF");
    assert_eq!(
        fake.calls
            .count("model:@cf/runwayml/stable-diffusion-v1-5-img2img"),
        1
    );
    assert_eq!(
        fake.calls
            .count(&format!("image:{}", fakes::pixels_hash(&source_bytes))),
        1,
        "the source arrived intact"
    );
    assert_eq!(fake.calls.count("strength:0.4"), 1);

    let record = edited(
        &server,
        &format!("/256x256/a-red-door?image={source}&mask={mask}"),
        &source,
        Some(&mask),
    )
    .await;
    assert_eq!(record.model, "SD-1.5-Inpainting-CF");
    assert_eq!(
        fake.calls
            .count(&format!("mask:{}", fakes::mask_hash(&mask_bytes))),
        1,
        "the mask arrived intact"
    );

    // A model that cannot edit is refused, naming those that can; Cloudflare's own errors come through.
    let (status, message, _) = failure(
        &server,
        &format!("/256x256/a-cat?image={source}&model=DS-8-CF"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.contains("`DS-8-CF` cannot edit an image") && message.contains("SD-1.5-Img2Img-CF"),
        "{message}"
    );
    let (status, message, _) =
        failure(&server, &format!("/256x256/bad-request?image={source}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("prompt must be shorter"), "{message}");
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn a1111_edits_through_img2img_with_init_images_and_a_mask() {
    let fake = fakes::a1111::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.providers.a1111.base_url = fake.base.clone();
    let server = TestServer::with_config(config).await;
    let (source_bytes, mask_bytes) = (source_png(128, 128), mask_png(128, 128));
    let source = upload(&server, source_bytes.clone()).await;
    let mask = upload(&server, mask_bytes.clone()).await;

    edited(
        &server,
        &format!("/128x128/an-oil-painting?image={source}&model=a1111"),
        &source,
        None,
    )
    .await;
    assert_eq!(
        (fake.calls.count("img2img"), fake.calls.count("txt2img")),
        (1, 0)
    );
    assert_eq!(
        fake.calls
            .count(&format!("image:{}", fakes::pixels_hash(&source_bytes))),
        1
    );
    assert_eq!(fake.calls.count("strength:0.75"), 1, "the default strength");
    edited(
        &server,
        &format!("/128x128/a-moon?image={source}&mask={mask}&model=a1111"),
        &source,
        Some(&mask),
    )
    .await;
    assert_eq!(
        fake.calls
            .count(&format!("mask:{}", fakes::mask_hash(&mask_bytes))),
        1
    );
    assert_eq!(fake.calls.count("invert:0"), 1, "white is repainted");
    let (status, message, _) = failure(
        &server,
        &format!("/128x128/garbage?image={source}&model=a1111"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{message}");
    server.stop().await;
}

#[tokio::test]
async fn openai_edits_post_multipart_with_the_mask_as_transparency() {
    let fake = fakes::openai::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    config.providers.openai.base_url = fake.base.clone();
    let server = TestServer::with_config(config).await;
    let (source_bytes, mask_bytes) = (source_png(1024, 1024), mask_png(1024, 1024));
    let source = upload(&server, source_bytes.clone()).await;
    let mask = upload(&server, mask_bytes.clone()).await;

    edited(
        &server,
        &format!("/1024x1024/a-hat?image={source}&mask={mask}&model=gpt-image-1"),
        &source,
        Some(&mask),
    )
    .await;
    assert_eq!(fake.calls.count("edits"), 1);
    assert_eq!(fake.calls.count("field:image[]"), 1);
    assert_eq!(
        fake.calls
            .count(&format!("image:{}", fakes::pixels_hash(&source_bytes))),
        1
    );
    assert_eq!(
        fake.calls
            .count(&format!("mask:{}", fakes::mask_hash(&mask_bytes))),
        1,
        "transparent exactly where ours is white"
    );
    edited(
        &server,
        &format!("/1024x1024/a-scarf?image={source}&model=dall-e-2"),
        &source,
        None,
    )
    .await;
    assert_eq!(fake.calls.count("field:image"), 1);
    let (status, message, _) = failure(
        &server,
        &format!("/1024x1024/policy?image={source}&model=gpt-image-1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("safety system"), "{message}");
    let (status, message, _) = failure(
        &server,
        &format!("/1024x1024/a-hat?image={source}&model=dall-e-3"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("gpt-image-1, dall-e-2"), "{message}");
    server.stop().await;
    assert_logs_clean();
}

#[tokio::test]
async fn replicate_edits_send_data_uris_to_kontext_and_to_inpainting() {
    let fake = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(with_replicate(dir.path(), &fake.base)).await;
    let (source_bytes, mask_bytes) = (source_png(1024, 1024), mask_png(1024, 1024));
    let source = upload(&server, source_bytes.clone()).await;
    let mask = upload(&server, mask_bytes.clone()).await;

    let record = edited(
        &server,
        &format!("/1024x1024/make-it-night?image={source}"),
        &source,
        None,
    )
    .await;
    assert_eq!(record.model, "flux-kontext-pro");
    assert_eq!(
        fake.calls.count("model:black-forest-labs/flux-kontext-pro"),
        1
    );
    assert_eq!(
        fake.calls
            .count(&format!("image:{}", fakes::pixels_hash(&source_bytes))),
        1
    );
    assert_eq!(fake.calls.count("aspect_ratio:match_input_image"), 1);

    let record = edited(
        &server,
        &format!("/1024x1024/a-window?image={source}&mask={mask}"),
        &source,
        Some(&mask),
    )
    .await;
    assert_eq!(record.model, "sd-inpainting");
    assert_eq!(
        fake.calls
            .count("model:stability-ai/stable-diffusion-inpainting"),
        1
    );
    assert_eq!(fake.calls.count("prompt_strength:0.75"), 1);
    assert_eq!(
        fake.calls
            .count(&format!("mask:{}", fakes::mask_hash(&mask_bytes))),
        1
    );
    let (status, message, _) = failure(&server, &format!("/1024x1024/nsfw?image={source}")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(message.contains("NSFW"), "{message}");
    server.stop().await;
    assert_logs_clean();
}

/// The OpenAI face's mask (transparent = change) reaches the OpenAI provider's upstream as the same
/// transparency, through Pixzoo's own white-is-change mask in between.
#[tokio::test]
async fn an_openai_client_s_mask_reaches_openai_as_it_was_drawn() {
    let fake = fakes::openai::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path());
    config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    config.providers.openai.base_url = fake.base.clone();
    let server = TestServer::with_config(config).await;
    let source = source_png(1024, 1024);
    // Transparent on the left half, as OpenAI's clients draw masks.
    let openai_mask = {
        let image = image::RgbaImage::from_fn(1024, 1024, |x, _| {
            image::Rgba([0, 0, 0, if x < 512 { 0 } else { 255 }])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let part = |bytes: Vec<u8>, name: &str| {
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("image/png")
            .unwrap()
    };
    let form = reqwest::multipart::Form::new()
        .part("image", part(source.clone(), "source.png"))
        .part("mask", part(openai_mask, "mask.png"))
        .text("prompt", "a red scarf")
        .text("model", "gpt-image-1");
    let response = client()
        .post(server.url("/v1/images/edits"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_secrets("the edit's answer", &body);
    assert_eq!(
        fake.calls
            .count(&format!("image:{}", fakes::pixels_hash(&source))),
        1
    );
    assert_eq!(
        fake.calls
            .count(&format!("mask:{}", fakes::mask_hash(&mask_png(1024, 1024)))),
        1,
        "transparent on the left half again"
    );
    server.stop().await;
    assert_logs_clean();
}
