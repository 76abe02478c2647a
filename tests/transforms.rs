//! `/img/{id}/{options}` and the options on `/{W}x{H}/{slug}`, over loopback HTTP.
#![cfg(feature = "ssr")]

mod common;

use common::{client, config, dimensions, header, TestServer};
use pixzoo::domain::format::ImageFormat;
use reqwest::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use reqwest::StatusCode;

/// Makes a 640x480 builtin image and returns its id.
async fn image(server: &TestServer, slug: &str) -> String {
    let response = server.get(&format!("/640x480/{slug}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    header(&response, "x-image-id").to_owned()
}

async fn fetch(server: &TestServer, path: &str) -> (reqwest::Response, Vec<u8>) {
    let response = server.get(path).await;
    let copy = client().get(server.url(path)).send().await.unwrap();
    let bytes = copy.bytes().await.unwrap().to_vec();
    (response, bytes)
}

#[tokio::test]
async fn every_fit_mode_gives_exact_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    // The geometry of every fit, enlargement included; its bound has a test of its own.
    config.limits.max_upscale = 0.0;
    let server = TestServer::with_config(config).await;
    let id = image(&server, "fit-modes").await;
    let cases = [
        ("width=320", (320, 240)),
        ("height=120", (160, 120)),
        ("width=2000", (640, 480)),
        ("width=2000,fit=contain", (2000, 1500)),
        ("w=300,h=300,fit=scale-down", (300, 225)),
        ("width=300,height=300,fit=contain", (300, 225)),
        ("width=300,height=300,fit=cover", (300, 300)),
        ("width=300,height=300,fit=crop", (300, 300)),
        ("width=300,height=300,fit=cover,gravity=auto", (300, 300)),
        ("width=1000,height=300,fit=crop", (640, 300)),
        ("width=300,height=300,fit=pad,background=%23000", (300, 300)),
        ("width=300,height=100,fit=squeeze", (300, 100)),
        ("width=150,height=100,fit=cover,dpr=2", (300, 200)),
        ("rotate=90,width=240", (240, 320)),
        ("trim=40;0;40;0", (640, 400)),
    ];
    for (options, size) in cases {
        let (response, bytes) = fetch(&server, &format!("/img/{id}/{options}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{options}");
        assert_eq!(dimensions(&bytes), size, "{options}");
    }
    server.stop().await;
}

#[tokio::test]
async fn formats_by_option_extension_and_accept() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let id = image(&server, "formats").await;
    for (options, mime, format) in [
        ("width=200,format=webp", "image/webp", ImageFormat::Webp),
        ("width=200,f=jpeg,q=low", "image/jpeg", ImageFormat::Jpeg),
        ("width=200,format=avif", "image/avif", ImageFormat::Avif),
        ("width=200", "image/png", ImageFormat::Png),
    ] {
        let (response, bytes) = fetch(&server, &format!("/img/{id}/{options}")).await;
        assert_eq!(header(&response, CONTENT_TYPE.as_str()), mime, "{options}");
        assert_eq!(ImageFormat::sniff(&bytes), Some(format), "{options}");
        assert!(
            header(&response, VARY.as_str()).is_empty(),
            "no Vary without format=auto"
        );
    }
    for (accept, mime) in [
        ("image/avif,image/webp,*/*", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("*/*", "image/jpeg"),
    ] {
        let response = client()
            .get(server.url(&format!("/img/{id}/width=100,format=auto")))
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, CONTENT_TYPE.as_str()), mime, "{accept}");
        assert_eq!(header(&response, VARY.as_str()), "Accept");
    }

    // The slug's extension picks the format; query options apply on top of the size in the path.
    let (response, bytes) = fetch(&server, "/320x200/formats.webp").await;
    assert_eq!(header(&response, CONTENT_TYPE.as_str()), "image/webp");
    assert_eq!(dimensions(&bytes), (320, 200));
    assert_eq!(header(&response, "x-cache"), "MISS");
    let (response, _) = fetch(&server, "/320x200/formats.avif").await;
    assert_eq!(header(&response, CONTENT_TYPE.as_str()), "image/avif");
    assert_eq!(
        header(&response, "x-cache"),
        "HIT",
        "another format of the same image: no new generation"
    );
    let (response, bytes) = fetch(
        &server,
        "/320x200/formats.jpg?fit=pad&background=white&blur=3",
    )
    .await;
    assert_eq!(header(&response, CONTENT_TYPE.as_str()), "image/jpeg");
    assert_eq!(dimensions(&bytes), (320, 200));
    let response = server.get("/320x200/formats.webp?format=png").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = server.get("/320x200/formats?width=10").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn etags_304_head_and_stored_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    // What the handler answers from the ETag alone is under test, not what memory kept.
    settings.storage.memory_cache_bytes = 0;
    let server = TestServer::with_config(settings).await;
    let id = image(&server, "caching").await;
    let path = format!("/img/{id}/width=200,height=100,fit=cover,format=webp");

    let first = server.get(&path).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        header(&first, CACHE_CONTROL.as_str()),
        "public, max-age=31536000, immutable"
    );
    let etag = header(&first, ETAG.as_str()).to_owned();
    let body = first.bytes().await.unwrap();
    // The same options in another order and spelling are the same derivative.
    let same = server
        .get(&format!("/img/{id}/f=webp,fit=cover,h=100,w=200"))
        .await;
    assert_eq!(header(&same, ETAG.as_str()), etag);
    assert_eq!(same.bytes().await.unwrap(), body);
    let derived: Vec<_> = walk(&dir.path().join("blobs/derived"));
    assert_eq!(derived.len(), 1, "made once, stored: {derived:?}");

    let head = client().head(server.url(&path)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(&head, CONTENT_LENGTH.as_str()),
        body.len().to_string()
    );
    assert!(head.bytes().await.unwrap().is_empty());

    // A conditional request needs no bytes at all: it is answered even with every blob gone.
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
    let revalidated = client()
        .get(server.url(&path))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&revalidated, ETAG.as_str()), etag);
    let auto = client()
        .get(server.url(&format!("/img/{id}/width=50,format=auto")))
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        auto.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "with blobs gone a real read fails"
    );
    assert_eq!(
        header(&auto, CACHE_CONTROL.as_str()),
        "no-store",
        "errors are never cached"
    );
    server.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[tokio::test]
async fn bad_options_and_limits_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.engine.max_output_pixels = 1_000_000;
    let server = TestServer::with_config(config).await;
    let id = image(&server, "limits").await;
    for (options, needle) in [
        ("width=0", "width"),
        ("height=12001", "height"),
        ("dpr=4", "dpr"),
        ("fit=stretch", "fit"),
        ("gravity=middle", "gravity"),
        ("quality=0", "quality"),
        ("format=gif", "format"),
        ("blur=300", "blur"),
        ("sharpen=11", "sharpen"),
        ("brightness=x", "brightness"),
        ("contrast=11", "contrast"),
        ("gamma=0", "gamma"),
        ("saturation=-1", "saturation"),
        ("rotate=45", "rotate"),
        ("flip=up", "flip"),
        ("background=nope", "background"),
        ("trim=1;2", "trim"),
        ("zoom=2", "unknown option `zoom`"),
        ("width", "width"),
        ("width=10,w=20", "given twice"),
        ("width=2000,height=2000,fit=squeeze", "over the limit"),
        ("trim=0;320;0;320", "trim removes"),
    ] {
        let response = server.get(&format!("/img/{id}/{options}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{options}");
        assert_eq!(header(&response, CACHE_CONTROL.as_str()), "no-store");
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(needle), "{options}: {message}");
    }
    assert_eq!(
        server.get("/img/nope/width=10").await.status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;

    // An input over the limit is refused from its header, before decoding.
    let mut config = common::config(dir.path());
    config.engine.max_output_pixels = 100_000;
    let server = TestServer::with_config(config).await;
    let response = server.get(&format!("/img/{id}/width=10")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("over the limit of 100000"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_full_transform_queue_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.engine.transform_workers = 1;
    config.engine.transform_queue = 0;
    let server = TestServer::with_config(config).await;
    let response = server.get("/1024x1024/queue-test").await;
    let id = header(&response, "x-image-id").to_owned();
    let urls: Vec<String> = (1..=16)
        .map(|i| server.url(&format!("/img/{id}/blur={},format=webp", 100 + i)))
        .collect();
    let responses = futures::future::join_all(urls.iter().map(|u| client().get(u).send())).await;
    let statuses: Vec<StatusCode> = responses
        .iter()
        .map(|r| r.as_ref().unwrap().status())
        .collect();
    let busy = responses
        .iter()
        .map(|r| r.as_ref().unwrap())
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect::<Vec<_>>();
    assert!(
        !busy.is_empty(),
        "some are refused rather than queued: {statuses:?}"
    );
    assert!(busy.iter().all(|r| header(r, "retry-after") == "1"));
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    server.stop().await;
}
