//! The JSON API over loopback HTTP: every endpoint's success and error shapes, the event stream, auth.
#![cfg(feature = "ssr")]

mod common;
mod fakes;

use std::time::Duration;

use base64::Engine as _;
use common::{client, config, dimensions, events, header, TestServer};
use pixzoo::server::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post(
    server: &TestServer,
    path: &str,
    body: &Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = client().post(server.url(path)).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn decode_image(b64: &str) -> (u32, u32) {
    dimensions(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
}

#[tokio::test]
async fn post_api_image_generates_from_the_last_user_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let body = json!({
        "messages": [
            {"role": "user", "content": "an old request"},
            {"role": "assistant", "content": "ignored"},
            {"role": "user", "content": "a red fox in the snow"}
        ],
        "model": "builtin",
        "stream": false,
        "size": "640x480"
    });
    let (status, first) = json_of(post(&server, "/api/image", &body, None).await).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["prompt"], "a red fox in the snow");
    assert_eq!(first["translatedPrompt"], "a red fox in the snow");
    assert_eq!(first["model"], "builtin");
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(first["cached"], false);
    assert_eq!(
        first["url"],
        format!("/img/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(decode_image(first["image"].as_str().unwrap()), (640, 480));
    let (_, again) = json_of(post(&server, "/api/image", &body, None).await).await;
    assert_eq!(
        (again["cached"].as_bool(), &again["id"]),
        (Some(true), &first["id"])
    );

    let sized = |extra: Value| {
        let mut body = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "a kite"}]}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (_, wide) = json_of(
        post(
            &server,
            "/api/image",
            &sized(json!({"aspect_ratio": "16:9"})),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (wide["width"].as_u64(), wide["height"].as_u64()),
        (Some(1024), Some(576))
    );
    let (_, exact) = json_of(
        post(
            &server,
            "/api/image",
            &sized(json!({"width": 300, "height": 200, "seed": 5})),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (exact["width"].as_u64(), exact["seed"].as_u64()),
        (Some(300), Some(5))
    );
    let (_, square) = json_of(post(&server, "/api/image", &sized(json!({})), None).await).await;
    assert_eq!(square["width"].as_u64(), Some(1024), "the default size");
    server.stop().await;
}

#[tokio::test]
async fn api_errors_are_honest() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let cases = [
        (
            json!({"messages": []}),
            StatusCode::BAD_REQUEST,
            "no user message",
        ),
        (
            json!({"messages": [{"role": "assistant", "content": "hi"}]}),
            StatusCode::BAD_REQUEST,
            "no user message",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "size": "0x5"}),
            StatusCode::BAD_REQUEST,
            "width",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "width": "wide"}),
            StatusCode::BAD_REQUEST,
            "width",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "width": 5}),
            StatusCode::BAD_REQUEST,
            "both",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "aspect_ratio": "wide"}),
            StatusCode::BAD_REQUEST,
            "aspect_ratio",
        ),
        (
            json!({"messages": [{"role": "user", "content": 5}]}),
            StatusCode::BAD_REQUEST,
            "content",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}], "model": "dall-e-9"}),
            StatusCode::NOT_FOUND,
            "builtin",
        ),
        (
            json!({"nothing": true}),
            StatusCode::BAD_REQUEST,
            "messages",
        ),
    ];
    for (body, status, needle) in cases {
        let response = post(&server, "/api/image", &body, None).await;
        assert_eq!(header(&response, "cache-control"), "no-store");
        let (got, error) = json_of(response).await;
        assert_eq!(got, status, "{body}: {error}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let big = json!({"messages": [{"role": "user", "content": "x".repeat(100_000)}]});
    assert_eq!(
        post(&server, "/api/image", &big, None).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let garbage = client()
        .post(server.url("/api/image"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    // CORS: any origin, preflight answered.
    let preflight = client()
        .request(reqwest::Method::OPTIONS, server.url("/api/image"))
        .header("origin", "https://example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(header(&preflight, "access-control-allow-origin"), "*");
    // A wildcard never covers Authorization, so it must be named for a keyed call to pass.
    let allowed = header(&preflight, "access-control-allow-headers").to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(header(&preflight, "access-control-allow-methods").contains("POST"));
    server.stop().await;
}

#[tokio::test]
async fn the_api_key_guards_generation_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.auth.api_key = Secret::new("test-api-key-secret");
    let server = TestServer::with_config(config).await;
    let body = json!({"messages": [{"role": "user", "content": "a guarded fox"}], "size": "64x64"});

    // Shorter, longer, and the same length with one byte changed.
    for key in [
        None,
        Some("wrong"),
        Some("test-api-key-secretX"),
        Some("test-api-key-secreT"),
    ] {
        let response = post(&server, "/api/image", &body, key).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(header(&response, "www-authenticate"), "Bearer");
        let text = response.text().await.unwrap();
        assert!(!text.contains("test-api-key-secret"), "{text}");
    }
    let (status, image) =
        json_of(post(&server, "/api/image", &body, Some("test-api-key-secret")).await).await;
    assert_eq!(status, StatusCode::OK);
    let id = image["id"].as_str().unwrap();
    assert_eq!(
        server.get("/api/models").await.status(),
        StatusCode::OK,
        "reading stays open"
    );
    assert_eq!(
        server.get(&format!("/api/images/{id}")).await.status(),
        StatusCode::OK
    );
    let delete = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::UNAUTHORIZED);
    let openai = post(
        &server,
        "/v1/images/generations",
        &json!({"prompt": "x"}),
        None,
    )
    .await;
    let (status, error) = json_of(openai).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
    );
    let delete = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .bearer_auth("test-api-key-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}

/// The event names of an SSE body, in order, and the data of the last event.
#[tokio::test]
async fn streaming_reports_progress_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let body = json!({"messages": [{"role": "user", "content": "a streamed fox"}], "size": "320x240", "stream": true});
    let response = post(&server, "/api/image", &body, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").starts_with("text/event-stream"));
    let (names, done) = events(&response.text().await.unwrap());
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
    assert_eq!(done["prompt"], "a streamed fox");
    assert_eq!(decode_image(done["image"].as_str().unwrap()), (320, 240));

    let (names, done) = events(
        &post(&server, "/api/image", &body, None)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        names,
        ["queued", "translating", "translated", "done"],
        "a stored image skips generating"
    );
    assert_eq!(done["cached"], true);

    let failing =
        json!({"messages": [{"role": "user", "content": "x"}], "stream": true, "model": "nope"});
    assert_eq!(
        post(&server, "/api/image", &failing, None).await.status(),
        StatusCode::NOT_FOUND,
        "errors before the stream are plain"
    );
    server.stop().await;
}

#[tokio::test]
async fn models_images_pages_search_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (_, models) = json_of(server.get("/api/models").await).await;
    let builtin = &models["models"][0];
    assert_eq!(
        (builtin["id"].as_str(), builtin["path"].as_str()),
        (Some("builtin"), Some("placeholder-v1"))
    );
    assert_eq!(
        (
            builtin["default"].as_bool(),
            builtin["sizes"]["type"].as_str()
        ),
        (Some(true), Some("any"))
    );

    for prompt in [
        "alpha fox",
        "beta owl",
        "gamma fox",
        "delta 100% owl",
        "epsilon fox",
    ] {
        let response = server
            .get(&format!(
                "/64x64/{}",
                prompt.replace(' ', "-").replace('%', "%25")
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/images?limit=2&cursor={c}"),
            None => "/api/images?limit=2".to_owned(),
        };
        let (status, page) = json_of(server.get(&path).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["prompt"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "epsilon fox",
            "delta 100% owl",
            "gamma fox",
            "beta owl",
            "alpha fox"
        ],
        "newest first, each once"
    );

    let (_, foxes) = json_of(server.get("/api/images?q=fox").await).await;
    assert_eq!(foxes["images"].as_array().unwrap().len(), 3);
    let (_, percent) = json_of(server.get("/api/images?q=100%25").await).await;
    assert_eq!(
        percent["images"].as_array().unwrap().len(),
        1,
        "LIKE wildcards are literal"
    );
    let (_, by_model) = json_of(server.get("/api/images?model=builtin&limit=100").await).await;
    assert_eq!(by_model["images"].as_array().unwrap().len(), 5);
    let (_, none) = json_of(server.get("/api/images?model=other").await).await;
    assert!(none["images"].as_array().unwrap().is_empty());
    for bad in [
        "/api/images?limit=0",
        "/api/images?limit=101",
        "/api/images?cursor=zzz",
        "/api/images?limit=x",
    ] {
        assert_eq!(
            server.get(bad).await.status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // A search past `limits.max_search_chars` (200) is refused before the catalog is asked, its
    // message naming `q` and the limit; one at the limit is searched.
    let (status, refused) = json_of(
        server
            .get(&format!("/api/images?q={}", "fox".repeat(500)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = refused["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("`q`") && message.contains("200"),
        "{refused}"
    );
    let (status, _) = json_of(
        server
            .get(&format!("/api/images?q={}", "x".repeat(200)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let id = foxes["images"][0]["id"].as_str().unwrap().to_owned();
    let (status, one) = json_of(server.get(&format!("/api/images/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "prompt",
        "final_prompt",
        "model",
        "provider",
        "seed",
        "width",
        "height",
        "format",
        "bytes",
        "created_at",
        "translation",
    ] {
        assert!(!one[field].is_null(), "{field} in {one}");
    }
    assert_eq!(
        server.get("/api/images/nope").await.status(),
        StatusCode::NOT_FOUND
    );

    // Deleting removes the row, the original and its derivatives.
    assert_eq!(
        server
            .get(&format!("/img/{id}/width=10,format=webp"))
            .await
            .status(),
        StatusCode::OK
    );
    let delete = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get(&format!("/api/images/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get(&format!("/img/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let delete_again = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(delete_again.status(), StatusCode::NOT_FOUND);
    let leftovers = std::fs::read_dir(dir.path().join("blobs/derived")).map_or(0, |d| d.count());
    let all_derived: usize = walk_count(&dir.path().join("blobs/derived"));
    assert_eq!(
        all_derived, 0,
        "derivative blobs removed ({leftovers} dirs left)"
    );
    server.stop().await;
}

fn walk_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walk_count(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

#[tokio::test]
async fn openai_images_endpoint_and_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, two) = json_of(
        post(
            &server,
            "/v1/images/generations",
            &json!({"prompt": "a teapot", "n": 2, "size": "256x256"}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{two}");
    let data = two["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(two["created"].as_u64().unwrap() > 1_700_000_000);
    let images: Vec<_> = data
        .iter()
        .map(|d| d["b64_json"].as_str().unwrap().to_owned())
        .collect();
    assert_ne!(images[0], images[1], "each image has its own seed");
    assert_eq!(decode_image(&images[0]), (256, 256));

    let (_, url) = json_of(
        post(
            &server,
            "/v1/images/generations",
            &json!({"prompt": "a teapot", "response_format": "url", "size": "256x256"}),
            None,
        )
        .await,
    )
    .await;
    let link = url["data"][0]["url"].as_str().unwrap();
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    assert_eq!(
        client().get(link).send().await.unwrap().status(),
        StatusCode::OK
    );

    for (body, status, param, code) in [
        (
            json!({"prompt": "x", "n": 5}),
            StatusCode::BAD_REQUEST,
            Some("n"),
            None,
        ),
        (
            json!({"prompt": "x", "size": "huge"}),
            StatusCode::BAD_REQUEST,
            Some("size"),
            None,
        ),
        (
            json!({"prompt": " "}),
            StatusCode::BAD_REQUEST,
            Some("prompt"),
            None,
        ),
        (
            json!({"prompt": "x", "response_format": "png"}),
            StatusCode::BAD_REQUEST,
            Some("response_format"),
            None,
        ),
        (
            json!({"prompt": "x", "model": "dall-e-9"}),
            StatusCode::NOT_FOUND,
            Some("model"),
            Some("model_not_found"),
        ),
        (json!({"n": 1}), StatusCode::BAD_REQUEST, None, None),
    ] {
        let (got, error) =
            json_of(post(&server, "/v1/images/generations", &body, None).await).await;
        assert_eq!(got, status, "{body}: {error}");
        assert!(
            error["error"]["message"].is_string() && error["error"]["type"].is_string(),
            "{error}"
        );
        assert_eq!(error["error"]["param"].as_str(), param, "{body}");
        assert_eq!(error["error"]["code"].as_str(), code, "{body}");
    }

    let (status, doc) = json_of(server.get("/api/openapi.json").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/image",
        "/api/models",
        "/api/images",
        "/api/images/{id}",
        "/v1/images/generations",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    server.stop().await;
}

#[tokio::test]
async fn deleting_an_image_while_a_transform_of_it_runs_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let made = server.get("/1024x1024/a-racing-gecko").await;
    let id = header(&made, "x-image-id").to_owned();
    // AVIF at this size takes long enough for the delete to land while it is being made.
    let transform = tokio::spawn({
        let url = server.url(&format!("/img/{id}/width=256,format=avif"));
        async move { client().get(url).send().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let deleted = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let response = transform.await.unwrap();
    assert!(
        matches!(response.status(), StatusCode::OK | StatusCode::NOT_FOUND),
        "{}",
        response.status()
    );
    // Nothing of the deleted image is left behind.
    assert_eq!(walk_count(&dir.path().join("blobs")), 0);
    server.stop().await;
}

#[tokio::test]
async fn deleting_while_many_transforms_are_recorded_never_fails() {
    let logs = common::captured_logs();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    for round in 0..6 {
        let made = server.get(&format!("/400x300/a-busy-gecko-{round}")).await;
        let id = header(&made, "x-image-id").to_owned();
        let transforms: Vec<_> = (0..16)
            .map(|n| {
                let url = server.url(&format!("/img/{id}/width={},format=webp", 40 + n));
                tokio::spawn(async move {
                    let response = client().get(url).send().await.unwrap();
                    (response.status(), response.text().await.unwrap_or_default())
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5 * round)).await;
        let deleted = client()
            .delete(server.url(&format!("/api/images/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT, "round {round}");
        for transform in transforms {
            let (status, body) = transform.await.unwrap();
            assert!(
                matches!(status, StatusCode::OK | StatusCode::NOT_FOUND),
                "round {round}: {status} {}\n{}",
                body.chars().take(200).collect::<String>(),
                String::from_utf8_lossy(&logs.lock().unwrap())
                    .lines()
                    .filter(|l| l.contains("ERROR"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    server.stop().await;
}

/// Any page may read the API, but only the origins `security.cors_origins` lists (or a request that
/// brings the key) may write to it: on a keyless server any site a user visits could otherwise delete
/// their gallery or spend their provider budget (measured before: a preflight from
/// `https://evil.example` was allowed and its `DELETE /api/images/{id}` got 204).
#[tokio::test]
async fn other_origins_may_read_the_api_but_write_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.cors_origins = vec!["https://app.example".into()];
    let server = TestServer::with_config(settings).await;
    let made = server.get("/64x64/a-fox-nobody-may-delete").await;
    let id = header(&made, "x-image-id").to_owned();
    let path = format!("/api/images/{id}");
    let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
        let request = client()
            .request(reqwest::Method::OPTIONS, server.url(&path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers);
        async move { request.send().await.unwrap() }
    };

    // Reading: any origin.
    let read = preflight("https://evil.example", "GET", "accept").await;
    assert!(read.status().is_success());
    assert_eq!(header(&read, "access-control-allow-origin"), "*");
    let listed = client()
        .get(server.url(&path))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(header(&listed, "access-control-allow-origin"), "*");

    // Writing from a foreign origin: the preflight is refused, and so is the request itself (a
    // simple request has no preflight).
    let refused = preflight("https://evil.example", "DELETE", "content-type").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let delete = |origin: &'static str| {
        let request = client()
            .delete(server.url(&path))
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site");
        async move { request.send().await.unwrap() }
    };
    let refused = delete("https://evil.example").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, body) = json_of(refused).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("security.cors_origins"),
        "{body}"
    );
    let generate = client()
        .post(server.url("/api/image"))
        .header("origin", "https://evil.example")
        .json(&json!({"messages": [{"role": "user", "content": "a forged fox"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(generate.status(), StatusCode::FORBIDDEN);
    let upload = client()
        .post(server.url("/v1/images/variations"))
        .header("sec-fetch-site", "cross-site")
        .multipart(reqwest::multipart::Form::new().text("n", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::FORBIDDEN);
    // A key that is not the server's (there is none) does not make a foreign write allowed.
    let keyed = client()
        .delete(server.url(&path))
        .header("origin", "https://evil.example")
        .bearer_auth("any-key-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        server.get(&path).await.status(),
        StatusCode::OK,
        "still there"
    );

    // A listed origin may write; so may a program, which sends no Origin.
    let allowed = preflight("https://app.example", "DELETE", "content-type").await;
    assert!(allowed.status().is_success());
    assert_eq!(header(&allowed, "access-control-allow-origin"), "*");
    assert_eq!(
        delete("https://app.example").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(server.get(&path).await.status(), StatusCode::NOT_FOUND);
    server.stop().await;

    // With a key set, a page that has the key may write from anywhere: the browser asks first
    // whether it may send `Authorization`, then brings the key itself.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new("cors-test-api-key-0123");
    let server = TestServer::with_config(settings).await;
    let made = server.get("/64x64/a-fox-the-owner-deletes").await;
    let path = format!("/api/images/{}", header(&made, "x-image-id"));
    let asked = client()
        .request(reqwest::Method::OPTIONS, server.url(&path))
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(asked.status().is_success());
    let deleted = client()
        .delete(server.url(&path))
        .header("origin", "https://elsewhere.example")
        .bearer_auth("cors-test-api-key-0123")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}

/// Prompts have a limit on every face (`limits.max_prompt_chars`), named in the refusal, and the
/// builtin renderer's caption costs the prompt's length, not its square (measured before: 16,000
/// characters took 7.2 s, each doubling four times the last).
#[tokio::test]
async fn prompts_over_the_limit_are_refused_on_every_face() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.limits.max_prompt_chars = 300;
    let server = TestServer::with_config(settings).await;
    let long = "a very long prompt about foxes ".repeat(20);
    let (status, body) = json_of(
        post(
            &server,
            "/api/image",
            &json!({"messages": [{"role": "user", "content": long}]}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("prompt is 619 characters long; the limit is 300 (limits.max_prompt_chars)"),
        "{error}"
    );
    let (status, body) = json_of(
        post(
            &server,
            "/api/image",
            &json!({"messages": [{"role": "user", "content": "a fox"}], "negative_prompt": long}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("negative_prompt is"),
        "{body}"
    );
    let (status, body) = json_of(
        post(
            &server,
            "/v1/images/generations",
            &json!({"prompt": long, "model": "builtin"}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_prompt_chars"),
        "{body}"
    );
    // At the limit, the builtin model draws it.
    let (status, body) = json_of(
        post(
            &server,
            "/api/image",
            &json!({"messages": [{"role": "user", "content": "w".repeat(300)}], "width": 256, "height": 256}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop().await;
}

/// A server whose deletes and redos purge `cdn`: through Cloudflare's API (zone `zone123`, token
/// `cf-purge-secret`) and, with `webhook`, a signed webhook to it too.
async fn purging_server(
    dir: &std::path::Path,
    cdn: &fakes::cdn::Cdn,
    webhook: Option<&fakes::cdn::Cdn>,
    tweak: impl FnOnce(&mut pixzoo::server::config::Config),
) -> TestServer {
    let mut settings = config(dir);
    settings.purge.backoff_base_ms = 10;
    settings.purge.cloudflare.zone_id = "zone123".into();
    settings.purge.cloudflare.api_token = Secret::new("cf-purge-secret");
    settings.purge.cloudflare.api_base = cdn.base.clone();
    if let Some(webhook) = webhook {
        settings.purge.webhook.url = format!("{}/hooks/purge", webhook.base);
        settings.purge.webhook.secret = Secret::new("whsec-purge");
    }
    tweak(&mut settings);
    TestServer::with_config(settings).await
}

async fn delete(server: &TestServer, id: &str) -> reqwest::Response {
    client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap()
}

/// Whether `received` carries a valid signature of its body under the webhook's secret.
fn signed(received: &fakes::cdn::Received) -> bool {
    use hmac::{Hmac, Mac};
    let timestamp = received.header("x-pixzoo-timestamp");
    let Some(hex_signature) = received
        .header("x-pixzoo-signature")
        .strip_prefix("sha256=")
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec-purge").unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    mac.verify_slice(&hex::decode(hex_signature).unwrap())
        .is_ok()
}

#[tokio::test]
async fn a_delete_purges_the_images_tag_at_cloudflare_and_tells_the_webhook_signed() {
    let (cdn, hook) = (
        fakes::cdn::Cdn::start(0, Duration::ZERO).await,
        fakes::cdn::Cdn::start(0, Duration::ZERO).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let server = purging_server(dir.path(), &cdn, Some(&hook), |settings| {
        settings.server.public_url = "https://images.example.com".into();
    })
    .await;
    let made = server.get("/64x64/a-purged-heron").await;
    let id = header(&made, "x-image-id").to_owned();
    assert!(
        cdn.received().is_empty(),
        "nothing purged before the delete"
    );
    assert_eq!(delete(&server, &id).await.status(), StatusCode::NO_CONTENT);

    let purge = &cdn.wait_for(1).await[0];
    assert_eq!(purge.path, "/client/v4/zones/zone123/purge_cache");
    assert_eq!(purge.header("authorization"), "Bearer cf-purge-secret");
    assert_eq!(purge.json(), json!({"tags": [format!("pixzoo-img-{id}")]}));

    let told = &hook.wait_for(1).await[0];
    assert_eq!(told.path, "/hooks/purge");
    assert!(signed(told), "the signature verifies");
    let tampered = fakes::cdn::Received {
        body: told.body.slice(1..),
        ..told.clone()
    };
    assert!(!signed(&tampered), "and covers the body");
    let age = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - told.header("x-pixzoo-timestamp").parse::<u64>().unwrap();
    assert!(age < 60, "a fresh timestamp");
    assert_eq!(
        told.json(),
        json!({
            "event": "purge",
            "reason": "deleted",
            "image_id": id,
            "urls": [format!("https://images.example.com/img/{id}")],
            "tags": [format!("pixzoo-img-{id}")],
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failing_purge_endpoint_is_tried_again_until_it_answers() {
    // 500 twice, then 200: three calls, by URL this time.
    let cdn = fakes::cdn::Cdn::start(2, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let server = purging_server(dir.path(), &cdn, None, |settings| {
        settings.server.public_url = "https://images.example.com".into();
        settings.purge.cloudflare.by = pixzoo::server::config::PurgeBy::Files;
    })
    .await;
    let made = server.get("/64x64/a-stubborn-egret").await;
    let id = header(&made, "x-image-id").to_owned();
    assert_eq!(delete(&server, &id).await.status(), StatusCode::NO_CONTENT);
    let calls = cdn.wait_for(3).await;
    let files = json!({"files": [format!("https://images.example.com/img/{id}")]});
    for call in &calls {
        assert_eq!(call.json(), files);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cdn.received().len(),
        3,
        "no call after the one that succeeded"
    );
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"pixzoo_purges_total{target="cloudflare",result="ok"}"#)
            && metrics.contains(r#"pixzoo_purge_retries_total{target="cloudflare"}"#),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_delete_answers_at_once_while_the_purge_endpoint_is_slow() {
    let cdn = fakes::cdn::Cdn::start(0, Duration::from_secs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = purging_server(dir.path(), &cdn, None, |_| {}).await;
    let made = server.get("/64x64/a-hurried-stork").await;
    let id = header(&made, "x-image-id").to_owned();
    let started = std::time::Instant::now();
    assert_eq!(delete(&server, &id).await.status(), StatusCode::NO_CONTENT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The purge is on its way all the same.
    assert_eq!(
        cdn.wait_for(1).await[0].json(),
        json!({"tags": [format!("pixzoo-img-{id}")]})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_redo_purges_what_the_url_showed() {
    let (cdn, hook) = (
        fakes::cdn::Cdn::start(0, Duration::ZERO).await,
        fakes::cdn::Cdn::start(0, Duration::ZERO).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let server = purging_server(dir.path(), &cdn, Some(&hook), |settings| {
        settings.auth.api_key = Secret::new("redo-key");
    })
    .await;
    let first = server.get("/96x64/a-redone-crane").await;
    let first_id = header(&first, "x-image-id").to_owned();
    let redone = client()
        .get(server.url("/96x64/a-redone-crane?redo"))
        .bearer_auth("redo-key")
        .send()
        .await
        .unwrap();
    assert_eq!(redone.status(), StatusCode::OK);
    assert_ne!(header(&redone, "x-image-id"), first_id);
    assert_eq!(
        cdn.wait_for(1).await[0].json(),
        json!({"tags": [format!("pixzoo-img-{first_id}")]})
    );
    let told = &hook.wait_for(1).await[0];
    assert!(signed(told));
    assert_eq!(told.json()["reason"], "replaced");
    assert_eq!(told.json()["image_id"], first_id);
    server.stop().await;
}
