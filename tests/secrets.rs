//! Every secret configured with a recognisable value, every face exercised (pages, server functions,
//! the JSON and OpenAI APIs, image URLs, form posts, health and metrics), success and error paths alike:
//! no response body, no header and no log line may contain any of them.

mod common;
mod fakes;

use std::sync::{Arc, Mutex};

use common::{config, TestServer};
use pixzoo::server::config::PipelineChoice;
use pixzoo::server::secret::Secret;
use reqwest::header::COOKIE;
use reqwest::redirect::Policy;
use serde_json::json;

const API_KEY: &str = "api-key-SECRET-7f3a";
const SIGNING_KEY: &str = "signing-key-SECRET-2b9c";
const METRICS_TOKEN: &str = "metrics-token-SECRET-5d1e";
const CF_TOKENS: &[&str] = &["cf-token-ok-secret", "cf-token-quota-secret"];
const PURGE_TOKEN: &str = "purge-token-SECRET-8a4f";
const WEBHOOK_SECRET: &str = "webhook-secret-SECRET-3c7d";
/// A webhook's URL may carry its own credential: it is never logged either.
const WEBHOOK_URL_TOKEN: &str = "hook-url-SECRET-6e2b";

fn secrets() -> Vec<&'static str> {
    let mut all = vec![
        API_KEY,
        SIGNING_KEY,
        METRICS_TOKEN,
        fakes::replicate::TOKEN,
        fakes::openai::KEY,
        PURGE_TOKEN,
        WEBHOOK_SECRET,
        WEBHOOK_URL_TOKEN,
    ];
    all.extend_from_slice(CF_TOKENS);
    all
}

fn logs() -> Arc<Mutex<Vec<u8>>> {
    common::captured_logs()
}

/// Everything one response shows: status line, headers, body.
async fn seen(response: reqwest::Response) -> String {
    let mut text = format!("{} {}\n", response.status(), response.url());
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = response.bytes().await.unwrap();
    text.push_str(&String::from_utf8_lossy(&body));
    text.push('\n');
    text
}

#[tokio::test]
async fn no_secret_reaches_a_response_or_a_log_line() {
    let logs = logs();
    let replicate = fakes::replicate::start().await;
    let cloudflare = fakes::cloudflare::start().await;
    let openai = fakes::openai::start().await;
    let a1111 = fakes::a1111::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(API_KEY);
    settings.security.signing_keys = Secret::new(SIGNING_KEY);
    settings.security.metrics_token = Secret::new(METRICS_TOKEN);
    settings.providers.replicate.api_token = Secret::new(fakes::replicate::TOKEN);
    settings.providers.replicate.base_url = replicate.base.clone();
    settings.providers.replicate.poll_interval_ms = 20;
    let accounts = json!([
        {"account_id": "acc-ok", "token": CF_TOKENS[0]},
        {"account_id": "acc-quota", "token": CF_TOKENS[1]},
    ]);
    settings.providers.cloudflare.accounts = Secret::new(accounts.to_string());
    settings.providers.cloudflare.base_url = cloudflare.base.clone();
    settings.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    settings.providers.openai.base_url = openai.base.clone();
    settings.providers.a1111.base_url = a1111.base.clone();
    settings.prompt.pipeline = PipelineChoice::Openai;
    settings.prompt.openai.api_key = Secret::new(fakes::openai::KEY);
    settings.prompt.openai.base_url = openai.base.clone();
    settings.engine.backoff_base_ms = 10;
    settings.engine.backoff_max_ms = 50;
    // Purge endpoints that always fail, so every purge log line is written, retries and failures.
    let cdn = fakes::cdn::Cdn::start(usize::MAX, std::time::Duration::ZERO).await;
    settings.purge.backoff_base_ms = 10;
    settings.purge.cloudflare.zone_id = "zone123".into();
    settings.purge.cloudflare.api_token = Secret::new(PURGE_TOKEN);
    settings.purge.cloudflare.api_base = cdn.base.clone();
    settings.purge.webhook.url = format!("{}/hook?token={WEBHOOK_URL_TOKEN}", cdn.base);
    settings.purge.webhook.secret = Secret::new(WEBHOOK_SECRET);
    let server = TestServer::with_config(settings).await;
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let mut transcript = String::new();

    // Sign in (wrong key, then the right one) to reach the guarded paths too.
    let wrong = http
        .post(server.url("/auth/sign-in"))
        .form(&[("key", "not-it"), ("next", "/")])
        .send()
        .await
        .unwrap();
    transcript += &seen(wrong).await;
    let signed_in = http
        .post(server.url("/auth/sign-in"))
        .form(&[("key", API_KEY), ("next", "/")])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    transcript += &seen(signed_in).await;

    let signed = |path: &str| {
        pixzoo::server::guard::signing::sign_url(&[Secret::new(SIGNING_KEY)], path).unwrap()
    };
    // Image URLs: every provider, successes and each fake's failures; unsigned and badly signed.
    let mut paths = vec![
        "/64x64/unsigned-newt".to_owned(),
        "/64x64/bad-sig-newt?sig=AAAA".to_owned(),
        "/64x64/anything?redo".to_owned(),
        "/0x0/nothing".to_owned(),
    ];
    for path in [
        "/320x240/a-heron?model=flux-schnell",
        "/320x240/server-error-heron?model=flux-schnell",
        "/320x240/invalid-input-heron?model=flux-schnell",
        "/320x240/always-throttled-heron?model=flux-schnell",
        "/320x240/a-heron?model=FLUX.1-Schnell-CF",
        "/320x240/success-false-heron?model=DS-8-CF",
        "/320x240/a-heron?model=dall-e-3",
        "/320x240/policy-heron?model=dall-e-3",
        "/320x240/rate-limited-heron?model=dall-e-3",
        "/320x240/llm-down-heron?model=builtin",
        "/320x240/garbage-heron?model=a1111",
        "/320x240/a-heron?model=a1111",
        "/320x240/a-heron?model=no-such-model",
    ] {
        paths.push(signed(path));
    }
    for path in &paths {
        transcript += &seen(http.get(server.url(path)).send().await.unwrap()).await;
    }
    let id = server.recent(1).await.unwrap()[0].id.clone();

    // Pages, static and API reads, image transforms, metrics.
    for path in [
        "/".to_owned(),
        "/gallery".to_owned(),
        format!("/gallery/{id}"),
        "/gallery/no-such-image".to_owned(),
        "/sign-in?failed=1&next=%2F".to_owned(),
        "/nowhere/at/all".to_owned(),
        "/healthz".to_owned(),
        "/metrics".to_owned(),
        "/api/models".to_owned(),
        "/api/images?limit=5".to_owned(),
        "/api/images?cursor=bogus".to_owned(),
        format!("/api/images/{id}"),
        "/api/openapi.json".to_owned(),
        format!("/img/{id}"),
        format!("/img/{id}/width=64,format=webp"),
        format!("/img/{id}/width=-1"),
    ] {
        for with_cookie in [false, true] {
            let mut request = http.get(server.url(&path));
            if with_cookie {
                request = request.header(COOKIE, &cookie);
            }
            transcript += &seen(request.send().await.unwrap()).await;
        }
    }

    // Metrics with their token: the scrape shows no secret either.
    let scrape = http
        .get(server.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), reqwest::StatusCode::OK);
    transcript += &seen(scrape).await;

    // The JSON API and the OpenAI endpoint: without the key, with a wrong key, with it; good and bad input.
    let bodies = [
        json!({"messages": [{"role": "user", "content": "an api heron"}], "model": "flux-schnell"}),
        json!({"messages": [{"role": "user", "content": "an api heron"}], "model": "flux-schnell", "stream": true}),
        json!({"messages": [{"role": "user", "content": "server-error heron"}], "model": "flux-schnell"}),
        json!({"messages": []}),
        json!({"messages": [{"role": "user", "content": "x"}], "size": "big"}),
    ];
    for body in &bodies {
        for key in [None, Some("wrong"), Some(API_KEY)] {
            let mut request = http.post(server.url("/api/image")).json(body);
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            transcript += &seen(request.send().await.unwrap()).await;
        }
    }
    for body in [
        json!({"model": "builtin", "prompt": "an openai heron", "size": "128x128"}),
        json!({"model": "dall-e-3", "prompt": "policy heron", "size": "1024x1024"}),
        json!({"model": "builtin", "prompt": "x", "n": 9}),
    ] {
        let response = http
            .post(server.url("/v1/images/generations"))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        transcript += &seen(response).await;
    }

    // Server functions, signed in and not.
    let server_fns: &[(&str, String)] = &[
        ("studio_setup", String::new()),
        ("gallery_page", "search=&model=".into()),
        ("image_detail", format!("id={id}")),
        ("sign_placeholder_url", "path=%2F64x64%2Fsigned-by-studio".into()),
        (
            "start_generation",
            "form[prompt]=a+studio+heron&form[model]=flux-schnell&form[width]=320&form[height]=240&form[translate]=true".into(),
        ),
        ("generation_status", "job=no-such-job".into()),
        ("delete_image", "id=no-such-image".into()),
    ];
    for (name, body) in server_fns {
        for with_cookie in [false, true] {
            let mut request = http
                .post(server.url(&format!("/sfn/{name}")))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone());
            if with_cookie {
                request = request.header(COOKIE, &cookie);
            }
            transcript += &seen(request.send().await.unwrap()).await;
        }
    }

    // The form post without JavaScript.
    for with_cookie in [false, true] {
        let mut request = http.post(server.url("/studio/generate")).form(&[
            ("prompt", "a form heron"),
            ("model", "flux-schnell"),
            ("width", "320"),
            ("height", "240"),
        ]);
        if with_cookie {
            request = request.header(COOKIE, &cookie);
        }
        transcript += &seen(request.send().await.unwrap()).await;
    }

    // A delete, whose purges fail at every attempt.
    let made = http
        .get(server.url(&signed("/64x64/a-purged-newt")))
        .send()
        .await
        .unwrap();
    let id = made.headers()["x-image-id"].to_str().unwrap().to_owned();
    let deleted = http
        .delete(server.url(&format!("/api/images/{id}")))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    transcript += &seen(deleted).await;
    cdn.wait_for(2 * 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // The exercise reached the providers and their failures, not only refusals at the door.
    assert!(replicate.calls.count("create") >= 3, "{transcript}");
    assert!(transcript.contains("502 Bad Gateway"));
    assert!(
        transcript.contains("429 Too Many Requests"),
        "{}",
        transcript
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(transcript.contains("403 Forbidden"));
    assert!(transcript.contains("401 Unauthorized"));
    assert!(
        !transcript.contains("500 Internal Server Error"),
        "bad input or a failing provider must never be a 500"
    );

    server.stop().await;
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.is_empty());
    assert!(logged.contains("purge failed"), "{logged}");
    for secret in secrets() {
        assert!(
            !transcript.contains(secret),
            "a response shows the secret {secret}"
        );
        assert!(
            !logged.contains(secret),
            "the log shows the secret {secret}"
        );
    }
}

#[tokio::test]
async fn each_request_is_one_log_line_with_its_path_and_never_its_query() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(config(dir.path())).await;
    let path = "/no-such-page-for-the-log-line";
    let response = server.get(&format!("{path}?token=a-query-secret")).await;
    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    server.stop().await;

    let logs = without_colours(&String::from_utf8_lossy(&logs.lock().unwrap()));
    let lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("answered") && line.contains(&id))
        .collect();
    assert_eq!(lines.len(), 1, "one line for the request: {lines:?}");
    let line = lines[0];
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains(&format!("path=\"{path}\"")), "{line}");
    assert!(line.contains("status=404"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(
        !logs.contains("a-query-secret"),
        "the query stays out of the log"
    );
}

/// The text with terminal colour codes (`ESC [ … m`) taken out.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}
