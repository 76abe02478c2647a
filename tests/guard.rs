//! Abuse control over real HTTP: signed URLs, rate limits, daily budgets, `?redo`, request size limits
//! and the request deadline.

mod common;
mod fakes;

use common::{client, config, dimensions, header, one_size, TestServer};
use pixzoo::server::guard::signing::sign_url;
use pixzoo::server::secret::Secret;
use reqwest::StatusCode;
use serde_json::Value;

async fn error_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn with_a_signing_key_only_signed_urls_make_new_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    // Rotation: "new" signs, "old" still verifies.
    settings.security.signing_keys = Secret::new("new-key-0123456789ab, old-key-0123456789ab");
    let server = TestServer::with_config(settings).await;
    let keys = [Secret::new("new-key-0123456789ab")];

    let unsigned = server.get("/320x200/a-signed-otter").await;
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert!(error_of(unsigned).await.contains("signed URL"));
    assert!(server.recent(5).await.unwrap().is_empty());

    let signed = sign_url(&keys, "/320x200/a-signed-otter?seed=9").unwrap();
    let made = server.get(&signed).await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(header(&made, "x-cache"), "MISS");

    // Stored now: served to anyone, signed or not.
    let again = server.get("/320x200/a-signed-otter?seed=9").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(header(&again, "x-cache"), "HIT");

    // A signature for another URL, or a tampered one, does not open a new generation.
    let sig = signed.split("sig=").nth(1).unwrap();
    let moved = server
        .get(&format!("/320x200/a-signed-otter?seed=10&sig={sig}"))
        .await;
    assert_eq!(moved.status(), StatusCode::FORBIDDEN);
    assert!(error_of(moved).await.contains("does not match"));

    // The old key still verifies, for URLs minted before the rotation.
    let old = sign_url(
        &[Secret::new("old-key-0123456789ab")],
        "/64x64/a-rotated-heron",
    )
    .unwrap();
    assert_eq!(server.get(&old).await.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn new_generations_are_rate_limited_per_client_but_stored_images_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.generations_per_minute = 1;
    settings.security.generation_burst = 2;
    let server = TestServer::with_config(settings).await;

    for n in 0..2 {
        let response = server.get(&format!("/64x64/limited-fox-{n}")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let refused = server.get("/64x64/limited-fox-2").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert!(error_of(refused).await.contains("too many new images"));

    // Stored images and their transforms cost nothing against the generation limit.
    for _ in 0..5 {
        let cached = server.get("/64x64/limited-fox-0").await;
        assert_eq!(cached.status(), StatusCode::OK);
        assert_eq!(header(&cached, "x-cache"), "HIT");
    }
    // The API counts against the same limit.
    let api = client()
        .post(server.url("/api/image"))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "limited owl"}], "model": "builtin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}

#[tokio::test]
async fn every_request_counts_against_the_general_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.requests_per_second = 1;
    settings.security.request_burst = 5;
    let server = TestServer::with_config(settings).await;
    let responses = futures::future::join_all((0..8).map(|_| server.get("/healthz"))).await;
    let ok = responses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let limited: Vec<&reqwest::Response> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    // The burst of 5 passes (a sixth if a second went by on a slow machine); the rest wait.
    assert!((5..=6).contains(&ok), "{ok} passed");
    assert_eq!(ok + limited.len(), 8);
    let wait: u64 = header(limited[0], "retry-after").parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    // A browser client on another origin can read the refusal and when to come back.
    assert_eq!(header(limited[0], "access-control-allow-origin"), "*");
    let exposed = header(limited[0], "access-control-expose-headers").to_ascii_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
    server.stop().await;
}

#[tokio::test]
async fn a_spent_daily_budget_refuses_new_images_until_midnight_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.daily_budget.insert("builtin".into(), 2);
    let server = TestServer::with_config(settings.clone()).await;
    for n in 0..2 {
        assert_eq!(
            server
                .get(&format!("/64x64/budget-hare-{n}"))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let spent = server.get("/64x64/budget-hare-2").await;
    assert_eq!(spent.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&spent, "retry-after").parse().unwrap();
    assert!((1..=86_400).contains(&wait), "Retry-After {wait}");
    assert!(error_of(spent)
        .await
        .contains("budget of 2 new images from builtin"));
    assert_eq!(
        server.get("/64x64/budget-hare-1").await.status(),
        StatusCode::OK,
        "stored images keep being served"
    );
    server.stop().await;

    // The count comes from the catalog, so a restart does not refill the budget.
    let server = TestServer::with_config(settings).await;
    assert_eq!(
        server.get("/64x64/budget-hare-3").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;
}

#[tokio::test]
async fn redo_needs_the_key_and_replaces_what_the_url_serves() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new("redo-key-0123456789");
    let server = TestServer::with_config(settings).await;
    let first = server.get("/96x64/a-redone-lynx").await;
    let first_id = header(&first, "x-image-id").to_owned();
    // Another of its URLs, answered from memory from now on.
    let webp = "/96x64/a-redone-lynx.webp";
    assert_eq!(header(&server.get(webp).await, "x-image-id"), first_id);

    // Refused, though the URL is in memory.
    let anonymous = server.get("/96x64/a-redone-lynx?redo").await;
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    assert!(error_of(anonymous).await.contains("API key"));

    let redone = client()
        .get(server.url("/96x64/a-redone-lynx?redo"))
        .bearer_auth("redo-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(redone.status(), StatusCode::OK);
    assert_eq!(header(&redone, "x-cache"), "MISS");
    let second_id = header(&redone, "x-image-id").to_owned();
    assert_ne!(first_id, second_id);

    let now = server.get("/96x64/a-redone-lynx").await;
    assert_eq!(header(&now, "x-image-id"), second_id);
    assert_eq!(header(&now, "x-cache"), "HIT");
    // Every URL of the replaced image left memory with the redo.
    let moved = server.get(webp).await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(header(&moved, "x-image-id"), second_id);
    // The old image stays reachable by id.
    assert_eq!(
        server.get(&format!("/img/{first_id}")).await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn oversized_requests_are_refused_with_the_right_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.max_url_bytes = 256;
    settings.security.max_header_bytes = 2048;
    settings.security.max_body_bytes = 1024;
    let server = TestServer::with_config(settings).await;

    let long = format!("/64x64/{}", "a".repeat(300));
    let response = server.get(&long).await;
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    assert!(error_of(response).await.contains("limit is 256"));

    let response = client()
        .get(server.url("/healthz"))
        .header("x-filler", "b".repeat(4000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );

    let prompt = "c".repeat(2000);
    let response = client()
        .post(server.url("/api/image"))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}

#[tokio::test]
async fn a_request_that_runs_past_the_deadline_gets_408() {
    let a1111 = fakes::a1111::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.providers.a1111.base_url = a1111.base.clone();
    settings.security.request_timeout_secs = 1;
    settings.prompt.pipeline = pixzoo::server::config::PipelineChoice::Off;
    let server = TestServer::with_config(settings).await;
    let started = std::time::Instant::now();
    let response = server.get("/64x64/hang-on?model=a1111").await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(error_of(response).await.contains("no answer within 1s"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_generations_cache_and_joins() {
    let replicate = fakes::replicate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.providers.replicate.api_token = Secret::new(fakes::replicate::TOKEN);
    settings.providers.replicate.base_url = replicate.base.clone();
    settings.prompt.pipeline = pixzoo::server::config::PipelineChoice::Off;
    // Hits of the store are counted here, not memory's.
    settings.storage.memory_cache_bytes = 0;
    let server = TestServer::with_config(settings).await;

    // Identical requests while the first is still running join it.
    let same = (0..4).map(|_| server.get("/320x240/slow-metric-crane?model=flux-schnell"));
    for response in futures::future::join_all(same).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        server
            .get("/320x240/slow-metric-crane?model=flux-schnell")
            .await
            .status(),
        StatusCode::OK
    );
    let id = header(
        &server.get("/64x64/metric-wren?model=builtin").await,
        "x-image-id",
    )
    .to_owned();
    assert_eq!(
        server.get(&format!("/img/{id}/width=32")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        server.get(&format!("/img/{id}/width=32")).await.status(),
        StatusCode::OK
    );

    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
    };
    assert!(value(r#"pixzoo_http_requests_total{route="/{size}/{slug}",status="200"}"#) >= 6.0);
    assert!(value(r#"pixzoo_generations_total{provider="replicate",outcome="ok"}"#) >= 1.0);
    assert!(value(r#"pixzoo_generations_total{provider="builtin",outcome="ok"}"#) >= 1.0);
    assert!(value(r#"pixzoo_cache_total{kind="image",result="hit"}"#) >= 1.0);
    assert!(value(r#"pixzoo_cache_total{kind="derivative",result="hit"}"#) >= 1.0);
    assert!(value(r#"pixzoo_flight_joins_total{kind="image"}"#) >= 1.0);
    assert!(text.contains("pixzoo_generation_seconds_bucket"));
    assert!(text.contains("pixzoo_transform_seconds_count"));
    // One generation at the fake, whatever the number of callers.
    assert_eq!(
        replicate
            .calls
            .count("model:black-forest-labs/flux-schnell"),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn hostile_provider_images_are_refused_cleanly() {
    let a1111 = fakes::a1111::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.providers.a1111.base_url = a1111.base.clone();
    settings.prompt.pipeline = pixzoo::server::config::PipelineChoice::Off;
    settings.engine.max_attempts = 1;
    let server = TestServer::with_config(settings).await;
    for (prompt, expected) in [
        ("bomb-badger", "100000x100000 is over the limit"),
        ("truncated-badger", "does not decode"),
        ("garbage-badger", "not a PNG, JPEG or WebP"),
    ] {
        let started = std::time::Instant::now();
        let response = server.get(&format!("/64x64/{prompt}?model=a1111")).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{prompt}");
        let error = error_of(response).await;
        assert!(error.contains(expected), "{prompt}: {error}");
        // Refused from the header: no time (or memory) spent on 10^10 pixels.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    assert!(server.recent(5).await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn an_unsigned_url_cannot_spend_an_llm_call_either() {
    let openai = fakes::openai::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.signing_keys = Secret::new("llm-guard-key-0123456789ab");
    settings.providers.openai.api_key = Secret::new(fakes::openai::KEY);
    settings.providers.openai.base_url = openai.base.clone();
    settings.prompt.pipeline = pixzoo::server::config::PipelineChoice::Openai;
    let server = TestServer::with_config(settings).await;

    let unsigned = server
        .get("/1024x1024/an-untranslated-ibex?model=dall-e-3")
        .await;
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert_eq!(openai.calls.count("chat"), 0, "no translation was paid for");
    assert_eq!(openai.calls.count("images"), 0);

    // Signed, it is translated and made; afterwards the plain URL is a stored image, no new call.
    let signed = sign_url(
        &[Secret::new("llm-guard-key-0123456789ab")],
        "/1024x1024/an-untranslated-ibex?model=dall-e-3",
    )
    .unwrap();
    assert_eq!(server.get(&signed).await.status(), StatusCode::OK);
    assert_eq!(openai.calls.count("chat"), 1);
    let plain = server
        .get("/1024x1024/an-untranslated-ibex?model=dall-e-3")
        .await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(header(&plain, "x-cache"), "HIT");
    assert_eq!(openai.calls.count("chat"), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_api_key_has_its_own_generation_limit_apart_from_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new("limit-key-0123456789");
    settings.security.generations_per_minute = 1;
    settings.security.generation_burst = 1;
    let server = TestServer::with_config(settings).await;
    let with_key = |path: &str| {
        client()
            .get(server.url(path))
            .bearer_auth("limit-key-0123456789")
            .send()
    };

    // This address spends its one new image; the key holder still has theirs, then spends it too.
    assert_eq!(
        server.get("/64x64/keyed-mole-1").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        server.get("/64x64/keyed-mole-2").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        with_key("/64x64/keyed-mole-3").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        with_key("/64x64/keyed-mole-4").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A wrong key is just another request from this address.
    let wrong = client()
        .get(server.url("/64x64/keyed-mole-5"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}

#[tokio::test]
async fn without_an_api_key_the_studio_signs_nothing_for_anyone() {
    let sign = |server: &TestServer, cookie: Option<String>| {
        let mut request = client()
            .post(server.url("/sfn/sign_placeholder_url"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("path=%2F64x64%2Fa-free-signature");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };

    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.signing_keys = Secret::new("studio-sign-key-0123456789ab");
    let server = TestServer::with_config(settings.clone()).await;
    let answer = sign(&server, None).await;
    assert!(answer.get("Signed").is_none(), "{answer}");
    assert!(
        answer["Refused"].as_str().unwrap().contains("pixzoo sign"),
        "{answer}"
    );
    server.stop().await;

    // With a key, a signed-in studio signs.
    settings.auth.api_key = Secret::new("studio-sign-api-key");
    let server = TestServer::with_config(settings).await;
    assert!(sign(&server, None).await.get("Refused").is_some());
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.url("/auth/sign-in"))
        .form(&[("key", "studio-sign-api-key")])
        .send()
        .await
        .unwrap();
    let cookie = header(&signed_in, "set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let answer = sign(&server, Some(cookie)).await;
    assert!(
        answer["Signed"]
            .as_str()
            .unwrap()
            .starts_with("/64x64/a-free-signature?sig="),
        "{answer}"
    );
    server.stop().await;
}

/// Sends `target` byte for byte in the request line, as curl does with a raw UTF-8 path.
async fn raw_get_status(server: &TestServer, target: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn signed_urls_with_non_ascii_words_verify_raw_and_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.signing_keys = Secret::new("unicode-key-0123456789ab");
    let server = TestServer::with_config(settings).await;
    let keys = [Secret::new("unicode-key-0123456789ab")];
    for (i, words) in ["café-crème", "戴墨镜的树懒", "a-🦥-in-a-hat"]
        .into_iter()
        .enumerate()
    {
        // Minted from the raw words, as the studio and `pixzoo sign` are given them.
        let signed = sign_url(&keys, &format!("/96x64/{words}?seed={i}")).unwrap();
        assert!(signed.is_ascii(), "printed as a browser sends it: {signed}");
        let sig = signed.split("sig=").nth(1).unwrap();
        let raw = format!("/96x64/{words}?seed={i}&sig={sig}");
        if i == 0 {
            assert_eq!(raw_get_status(&server, &raw).await, 200, "{raw}");
        } else {
            let response = server.get(&signed).await;
            assert_eq!(response.status(), StatusCode::OK, "{signed}");
            assert_eq!(header(&response, "x-cache"), "MISS");
            assert_eq!(raw_get_status(&server, &raw).await, 200, "{raw}");
        }
    }
    // Another word is another URL.
    let signed = sign_url(&keys, "/96x64/café-noir").unwrap();
    let forged = signed.replace("caf%C3%A9", "cafe");
    assert_eq!(server.get(&forged).await.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_for_loopback_or_the_metrics_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    // Behind a proxy on this machine, the proxy's loopback address must not make everyone local.
    settings.security.client_ip_header = "x-forwarded-for".into();
    let server = TestServer::with_config(settings.clone()).await;
    let scrape = |from: Option<&'static str>, token: Option<&'static str>| {
        let mut request = client().get(server.url("/metrics"));
        if let Some(from) = from {
            request = request.header("x-forwarded-for", from);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status() }
    };
    // Without the proxy's header the client is unknown, and an unknown client is not local.
    assert_eq!(scrape(None, None).await, StatusCode::FORBIDDEN);
    assert_eq!(scrape(Some("127.0.0.1"), None).await, StatusCode::OK);
    assert_eq!(
        scrape(Some("203.0.113.5"), None).await,
        StatusCode::FORBIDDEN
    );
    // A client's own line first, the proxy's appended after it: the proxy's counts.
    let appended = client()
        .get(server.url("/metrics"))
        .header("x-forwarded-for", "127.0.0.1")
        .header("x-forwarded-for", "203.0.113.5")
        .send()
        .await
        .unwrap();
    assert_eq!(appended.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        scrape(Some("2001:db8::5"), None).await,
        StatusCode::FORBIDDEN
    );
    server.stop().await;

    // A proxy on this machine that Pixzoo was not told about: what it forwards is not local.
    let mut unconfigured = settings.clone();
    unconfigured.security.client_ip_header = String::new();
    let server = TestServer::with_config(unconfigured).await;
    let forwarded = client()
        .get(server.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.5")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.get("/metrics").await.status(), StatusCode::OK);
    server.stop().await;

    settings.security.metrics_token = Secret::new("scrape-token-31-0123456789");
    let server = TestServer::with_config(settings).await;
    let scrape = |token: Option<&'static str>| {
        let mut request = client()
            .get(server.url("/metrics"))
            .header("x-forwarded-for", "203.0.113.5");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap() }
    };
    let refused = scrape(None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&refused, "www-authenticate"), "Bearer");
    assert!(error_of(refused).await.contains("metrics_token"));
    assert_eq!(
        scrape(Some("wrong")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(Some("scrape-token-31-0123456789")).await.status(),
        StatusCode::OK
    );
    // The token is needed from loopback too, once it is set.
    assert_eq!(
        client()
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

/// A proxy that appends its own `X-Forwarded-For` line (HAProxy's `option forwardfor`) after the
/// client's: a client that sends a fresh first line each time is still one client, and one with no
/// header at all is not the proxy's loopback address but the shared unknown client.
#[tokio::test]
async fn the_client_is_the_last_value_of_the_proxy_header_over_all_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.requests_per_second = 1;
    settings.security.request_burst = 5;
    settings.security.client_ip_header = "x-forwarded-for".into();
    let server = TestServer::with_config(settings).await;
    let mut statuses = Vec::new();
    for n in 0..20 {
        let response = client()
            .get(server.url("/healthz"))
            .header("x-forwarded-for", format!("198.18.0.{n}"))
            .header("x-forwarded-for", "203.0.113.77")
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        limited >= 10,
        "one client, whatever its first line: {statuses:?}"
    );
    // Another address behind the same proxy is another client.
    let other = client()
        .get(server.url("/healthz"))
        .header("x-forwarded-for", "203.0.113.78")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    // Requests the proxy did not name share one bucket, whichever connection they come on.
    let mut unknown = Vec::new();
    for _ in 0..20 {
        unknown.push(server.get("/healthz").await.status());
    }
    assert!(
        unknown.contains(&StatusCode::TOO_MANY_REQUESTS),
        "unnamed clients share one bucket: {unknown:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn ipv6_clients_are_one_client_per_64() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.generations_per_minute = 1;
    settings.security.generation_burst = 1;
    settings.security.client_ip_header = "x-forwarded-for".into();
    let server = TestServer::with_config(settings).await;
    let from = |address: &'static str, path: &'static str| {
        let request = client()
            .get(server.url(path))
            .header("x-forwarded-for", address);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        from("2001:db8:7:1::1", "/64x64/v6-fox-a").await,
        StatusCode::OK
    );
    // Another address in the same /64 is the same client, whatever its last 64 bits.
    assert_eq!(
        from("2001:db8:7:1:dead:beef:0:2", "/64x64/v6-fox-b").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        from("2001:db8:7:2::1", "/64x64/v6-fox-c").await,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn new_derivatives_have_a_limit_of_their_own_and_hits_never_count() {
    // Hits from memory, and (memory off) stored derivatives read from disk by the handler.
    for memory_cache_bytes in [16 << 20, 0] {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = config(dir.path());
        settings.security.derivatives_per_minute = 1;
        settings.security.derivative_burst = 2;
        settings.storage.memory_cache_bytes = memory_cache_bytes;
        let server = TestServer::with_config(settings).await;
        let made = server.get("/64x64/a-derived-lynx").await;
        let id = header(&made, "x-image-id").to_owned();
        // The placeholder URL at the model's own size made no derivative; these two are new.
        for width in [10, 20] {
            let path = format!("/img/{id}/width={width}");
            let at = format!("{path} (memory {memory_cache_bytes})");
            assert_eq!(server.get(&path).await.status(), StatusCode::OK, "{at}");
            // Stored now: asking again is a hit and costs nothing.
            for _ in 0..3 {
                let again = server.get(&path).await;
                assert_eq!(again.status(), StatusCode::OK, "{at}");
                assert_eq!(header(&again, "x-cache"), "HIT", "{at}");
            }
        }
        let refused = server.get(&format!("/img/{id}/width=30")).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = header(&refused, "retry-after").parse().unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
        assert!(error_of(refused).await.contains("too many new transforms"));
        // The original and stored derivatives are still served.
        assert_eq!(
            server.get(&format!("/img/{id}")).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            server.get(&format!("/img/{id}/width=10")).await.status(),
            StatusCode::OK
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn strangers_cannot_enlarge_past_max_upscale_or_the_pixel_limit_but_signed_urls_can() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.signing_keys = Secret::new("upscale-key-0123456789ab");
    settings.auth.api_key = Secret::new("upscale-api-key-0123456789");
    let server = TestServer::with_config(settings).await;
    let keys = [Secret::new("upscale-key-0123456789ab")];
    let made = server
        .get(&sign_url(&keys, "/256x256/an-enlarged-ibis").unwrap())
        .await;
    let id = header(&made, "x-image-id").to_owned();

    let twice = server
        .get(&format!("/img/{id}/width=512,fit=contain"))
        .await;
    assert_eq!(twice.status(), StatusCode::OK);
    let wide = format!("/img/{id}/width=600,fit=contain");
    let refused = server.get(&wide).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let message = error_of(refused).await;
    assert!(
        message.contains("256x256") && message.contains("limit is 2×"),
        "{message}"
    );
    // Signed, the URL may enlarge further; stored then, it is served to anyone.
    let signed = server.get(&sign_url(&keys, &wide).unwrap()).await;
    assert_eq!(signed.status(), StatusCode::OK);
    let bytes = signed.bytes().await.unwrap();
    assert_eq!(common::dimensions(&bytes).0, 600);
    assert_eq!(server.get(&wide).await.status(), StatusCode::OK);
    // So may the API key.
    let keyed = client()
        .get(server.url(&format!("/img/{id}/width=700,fit=contain")))
        .bearer_auth("upscale-api-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);
    // The output limit holds for everyone: 16 MP by default.
    let huge = sign_url(
        &keys,
        &format!("/img/{id}/width=4100,height=4100,fit=squeeze"),
    )
    .unwrap();
    let huge = server.get(&huge).await;
    assert_eq!(huge.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(huge)
        .await
        .contains("over the limit of 16777216 pixels"));
    server.stop().await;
}

#[tokio::test]
async fn in_presets_mode_only_presets_or_signed_urls_make_new_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.derivatives = pixzoo::server::config::DerivativeMode::Presets;
    settings.security.signing_keys = Secret::new("preset-key-0123456789ab");
    settings
        .presets
        .0
        .insert("thumb".into(), "width=64,height=64,fit=cover".into());
    let server = TestServer::with_config(settings).await;
    let keys = [Secret::new("preset-key-0123456789ab")];
    let made = server
        .get(&sign_url(&keys, "/256x256/a-preset-crane").unwrap())
        .await;
    let id = header(&made, "x-image-id").to_owned();

    let thumb = server.get(&format!("/img/{id}/preset=thumb")).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let etag = header(&thumb, "etag").to_owned();
    assert_eq!(common::dimensions(&thumb.bytes().await.unwrap()), (64, 64));
    // The preset's options spelled out are the same derivative, stored: served.
    let spelled = server
        .get(&format!("/img/{id}/fit=cover,height=64,width=64"))
        .await;
    assert_eq!(spelled.status(), StatusCode::OK);
    assert_eq!(header(&spelled, "etag"), etag);

    let other = format!("/img/{id}/width=32");
    let refused = server.get(&other).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(error_of(refused).await.contains("presets"));
    let unknown = server.get(&format!("/img/{id}/preset=huge")).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(unknown).await.contains("thumb"));
    // The placeholder URL of a stored image is no way around it: what it made is served, another
    // format or a filter on top is a new derivative.
    let plain = server.get("/256x256/a-preset-crane").await;
    assert_eq!(plain.status(), StatusCode::OK);
    let webp = server.get("/256x256/a-preset-crane.webp").await;
    assert_eq!(webp.status(), StatusCode::FORBIDDEN);
    let filtered = "/256x256/a-preset-crane?blur=20";
    let refused = server.get(filtered).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(error_of(refused).await.contains("presets"));
    let signed = server.get(&sign_url(&keys, filtered).unwrap()).await;
    assert_eq!(signed.status(), StatusCode::OK);

    let signed = server.get(&sign_url(&keys, &other).unwrap()).await;
    assert_eq!(signed.status(), StatusCode::OK);
    assert_eq!(
        server.get(&other).await.status(),
        StatusCode::OK,
        "stored now"
    );
    assert_eq!(
        server.get(&format!("/img/{id}")).await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn in_signed_mode_only_signed_urls_make_new_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.derivatives = pixzoo::server::config::DerivativeMode::Signed;
    settings.security.signing_keys = Secret::new("derivative-key-0123456789ab");
    settings
        .presets
        .0
        .insert("thumb".into(), "width=64,height=64,fit=cover".into());
    let server = TestServer::with_config(settings).await;
    let keys = [Secret::new("derivative-key-0123456789ab")];
    let made = server
        .get(&sign_url(&keys, "/256x256/a-signed-stork").unwrap())
        .await;
    let id = header(&made, "x-image-id").to_owned();

    let path = format!("/img/{id}/preset=thumb");
    let refused = server.get(&path).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(error_of(refused).await.contains("signed URL"));
    let signed = sign_url(&keys, &path).unwrap();
    let sig = signed.split("sig=").nth(1).unwrap();
    let moved = server.get(&format!("/img/{id}/width=10?sig={sig}")).await;
    assert_eq!(moved.status(), StatusCode::FORBIDDEN);
    assert!(error_of(moved).await.contains("does not match"));
    assert_eq!(server.get(&signed).await.status(), StatusCode::OK);
    assert_eq!(
        server.get(&path).await.status(),
        StatusCode::OK,
        "stored now"
    );
    server.stop().await;
}

#[tokio::test]
async fn in_presets_mode_a_placeholder_url_makes_no_new_size_of_a_stored_image_for_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.derivatives = pixzoo::server::config::DerivativeMode::Presets;
    settings.auth.api_key = Secret::new("sizes-key-0123456789");
    one_size(&mut settings);
    let server = TestServer::with_config(settings).await;

    // A stranger's new image comes with its own size: generating it makes it.
    let made = server.get("/800x600/a-resized-marten").await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(header(&made, "x-cache"), "MISS");
    let id = header(&made, "x-image-id").to_owned();
    assert_eq!(dimensions(&made.bytes().await.unwrap()), (800, 600));
    assert_eq!(
        server.get("/800x600/a-resized-marten").await.status(),
        StatusCode::OK,
        "stored"
    );
    // Another size of the same generation is a new derivative of a stored image.
    let refused = server.get("/801x600/a-resized-marten").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let message = error_of(refused).await;
    assert!(
        message.contains("presets") && message.contains("signed URL"),
        "{message}"
    );
    assert_eq!(server.recent(10).await.unwrap().len(), 1, "nothing new");
    // The API key may; made, it is served to anyone.
    let keyed = client()
        .get(server.url("/801x600/a-resized-marten"))
        .bearer_auth("sizes-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);
    assert_eq!(header(&keyed, "x-image-id"), id);
    assert_eq!(dimensions(&keyed.bytes().await.unwrap()), (801, 600));
    assert_eq!(
        server.get("/801x600/a-resized-marten").await.status(),
        StatusCode::OK
    );
    // The generation's own size needs no derivative: served to anyone.
    assert_eq!(
        server.get("/512x384/a-resized-marten").await.status(),
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn in_signed_mode_another_size_of_a_stored_placeholder_needs_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.derivatives = pixzoo::server::config::DerivativeMode::Signed;
    settings.security.signing_keys = Secret::new("sizes-signing-key-0123456789ab");
    one_size(&mut settings);
    let server = TestServer::with_config(settings).await;
    let keys = [Secret::new("sizes-signing-key-0123456789ab")];
    let made = server
        .get(&sign_url(&keys, "/800x600/a-signed-marten").unwrap())
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(
        server.get("/800x600/a-signed-marten").await.status(),
        StatusCode::OK
    );

    let refused = server.get("/802x600/a-signed-marten").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(error_of(refused).await.contains("signed URL"));
    let signed = server
        .get(&sign_url(&keys, "/802x600/a-signed-marten").unwrap())
        .await;
    assert_eq!(signed.status(), StatusCode::OK);
    assert_eq!(dimensions(&signed.bytes().await.unwrap()), (802, 600));
    assert_eq!(
        server.get("/802x600/a-signed-marten").await.status(),
        StatusCode::OK,
        "stored now"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_placeholders_options_enlarge_only_within_max_upscale_unless_vouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new("enlarge-key-0123456789");
    one_size(&mut settings);
    let server = TestServer::with_config(settings).await;
    // Its own size is cropped from the 512x384 generation at any factor (here 3.1×).
    let large = server.get("/1600x1200/an-enlarged-tern").await;
    assert_eq!(large.status(), StatusCode::OK);
    assert_eq!(dimensions(&large.bytes().await.unwrap()), (1600, 1200));
    // Options that do not enlarge it further are no enlargement.
    let blurred = server.get("/1600x1200/an-enlarged-tern?blur=2").await;
    assert_eq!(blurred.status(), StatusCode::OK);
    // Options may enlarge the placeholder up to `limits.max_upscale` (2×) more…
    let denser = server.get("/800x600/an-enlarged-tern?dpr=1.5").await;
    assert_eq!(denser.status(), StatusCode::OK);
    assert_eq!(dimensions(&denser.bytes().await.unwrap()), (1200, 900));
    // …and no further for a stranger: 800x600 is 1.6× of 512x384, at dpr=3 it would be 4.7×.
    let refused = server.get("/800x600/an-enlarged-tern?dpr=3").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let message = error_of(refused).await;
    assert!(message.contains("512x384"), "{message}");
    let keyed = client()
        .get(server.url("/800x600/an-enlarged-tern?dpr=3"))
        .bearer_auth("enlarge-key-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);
    assert_eq!(dimensions(&keyed.bytes().await.unwrap()), (2400, 1800));
    server.stop().await;
}
