//! The server over real loopback HTTP with a temporary data directory.
#![cfg(feature = "ssr")]

mod common;

use common::{client, dimensions, header, TestServer};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

#[tokio::test]
async fn generates_on_miss_then_serves_the_stored_image() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;

    let first = server.get("/800x600/sunglasses-sloth").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "x-cache"), "MISS");
    assert_eq!(header(&first, CONTENT_TYPE.as_str()), "image/png");
    // `?redo` can change what this URL serves, so a day and then a revalidation, not `immutable`.
    assert_eq!(header(&first, "cache-control"), "public, max-age=86400");
    let length: usize = header(&first, CONTENT_LENGTH.as_str()).parse().unwrap();
    let etag = header(&first, ETAG.as_str()).to_owned();
    let bytes = first.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    assert_eq!(dimensions(&bytes), (800, 600));

    // Same size in either case of `x`, same words with `_` instead of `-`: the same image.
    for path in [
        "/800x600/sunglasses-sloth",
        "/800X600/sunglasses-sloth",
        "/800x600/sunglasses_sloth",
    ] {
        let again = server.get(path).await;
        assert_eq!(again.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&again, "x-cache"), "HIT", "{path}");
        assert_eq!(again.bytes().await.unwrap(), bytes, "{path}");
    }

    let revalidated = client()
        .get(server.url("/800x600/sunglasses-sloth"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let other_seed = server.get("/800x600/sunglasses-sloth?seed=9").await;
    assert_eq!(header(&other_seed, "x-cache"), "MISS");
    assert_ne!(
        other_seed.bytes().await.unwrap(),
        bytes,
        "another seed is another image"
    );

    let wide = server.get("/1x4096/tall").await;
    assert_eq!(wide.status(), StatusCode::OK);
    assert_eq!(dimensions(&wide.bytes().await.unwrap()), (1, 4096));
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_that_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let long = format!("/800x600/{}", "a".repeat(201));
    let cases: &[(&str, StatusCode, &str)] = &[
        ("/0x600/sloth", StatusCode::BAD_REQUEST, "width"),
        ("/800x0/sloth", StatusCode::BAD_REQUEST, "height"),
        ("/-5x600/sloth", StatusCode::BAD_REQUEST, "width"),
        ("/4097x600/sloth", StatusCode::BAD_REQUEST, "4096"),
        ("/800x99999999999/sloth", StatusCode::BAD_REQUEST, "height"),
        ("/800xabc/sloth", StatusCode::BAD_REQUEST, "whole number"),
        ("/1.5x600/sloth", StatusCode::BAD_REQUEST, "whole number"),
        ("/800/sloth", StatusCode::BAD_REQUEST, "WIDTHxHEIGHT"),
        ("/800x600x2/sloth", StatusCode::BAD_REQUEST, "whole number"),
        ("/800x600/---", StatusCode::BAD_REQUEST, "empty"),
        ("/800x600/%20_%20", StatusCode::BAD_REQUEST, "empty"),
        ("/800x600/bad%0Aslug", StatusCode::BAD_REQUEST, "control"),
        ("/800x600/%FF%FE", StatusCode::BAD_REQUEST, "UTF-8"),
        (&long, StatusCode::BAD_REQUEST, "limit is 200"),
        ("/800x600/sloth?seed=abc", StatusCode::BAD_REQUEST, "seed"),
        ("/800x600/sloth?seed=-1", StatusCode::BAD_REQUEST, "seed"),
        (
            "/800x600/sloth?model=dall-e",
            StatusCode::NOT_FOUND,
            "dall-e",
        ),
        (
            "/img/does-not-exist",
            StatusCode::NOT_FOUND,
            "does-not-exist",
        ),
    ];
    for (path, status, needle) in cases {
        let response = server.get(path).await;
        assert_eq!(response.status(), *status, "{path}");
        assert_eq!(
            header(&response, CONTENT_TYPE.as_str()),
            "application/json",
            "{path}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{path}: {message:?} should mention {needle:?}"
        );
    }

    // Two-segment paths that are not sizes belong to nobody: the site's 404 page.
    for path in ["/about/team", "/gallery/x", "/NaNx600/sloth"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            header(&response, CONTENT_TYPE.as_str()).starts_with("text/html"),
            "{path}"
        );
    }
    assert!(
        server.recent(10).await.unwrap().is_empty(),
        "nothing was generated"
    );
    server.stop().await;
}

#[tokio::test]
async fn everything_stored_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let first = server.get("/320x200/persist-me").await;
    assert_eq!(header(&first, "x-cache"), "MISS");
    let bytes = first.bytes().await.unwrap();
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let again = server.get("/320x200/persist-me").await;
    assert_eq!(header(&again, "x-cache"), "HIT");
    assert_eq!(again.bytes().await.unwrap(), bytes);

    let recent = server.recent(10).await.unwrap();
    assert_eq!(recent.len(), 1);
    let original = server.get(&format!("/img/{}", recent[0].id)).await;
    assert_eq!(original.status(), StatusCode::OK);
    assert_eq!(header(&original, CONTENT_TYPE.as_str()), "image/png");
    assert_eq!(original.bytes().await.unwrap(), bytes);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_identical_requests_store_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let url = server.url("/640x360/a-crowd-of-identical-requests");
    let responses = futures::future::join_all((0..8).map(|_| client().get(&url).send())).await;
    let mut bodies = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "everyone gets the same image"
    );
    assert_eq!(server.recent(10).await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn health_reports_the_storage() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let healthy = server.get("/healthz").await;
    assert_eq!(healthy.status(), StatusCode::OK);
    let body: serde_json::Value = healthy.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "catalog": "ok", "blobs": "ok"})
    );

    // With the catalog closed, the server is up but cannot serve: 503, naming the part that failed.
    server.state.engine.close().await;
    let unhealthy = server.get("/healthz").await;
    assert_eq!(unhealthy.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = unhealthy.json().await.unwrap();
    assert_eq!(body["catalog"], "unavailable");
    assert_eq!(body["blobs"], "ok");
    server.stop().await;
}

#[tokio::test]
async fn the_home_page_lists_recent_images() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let empty = server.get("/").await.text().await.unwrap();
    assert!(empty.contains("<title>Pixzoo</title>"), "{empty}");
    assert!(
        empty.contains("No images yet"),
        "the empty state explains what to do"
    );
    assert!(empty.contains("/800x600/sunglasses-sloth"));

    server.get("/300x200/a-lonely-lighthouse").await;
    server.get("/200x300/second-image").await;
    let page = server.get("/").await.text().await.unwrap();
    let first = page.find("second image").expect("newest image listed");
    let second = page
        .find("a lonely lighthouse")
        .expect("older image listed");
    assert!(first < second, "newest first");
    assert!(page.contains(r#"width="200""#) && page.contains(r#"height="300""#));
    server.stop().await;
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// What a power cut can leave of a blob whose row survived: fewer bytes, or other bytes.
fn tear(path: &std::path::Path, keep_length: bool) {
    let mut bytes = std::fs::read(path).unwrap();
    if keep_length {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
    } else {
        bytes.truncate(bytes.len() / 3);
    }
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_row_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    // What is on disk is under test, not what memory kept of it.
    settings.storage.memory_cache_bytes = 0;
    let server = TestServer::with_config(settings).await;
    let made = server.get("/96x64/a-torn-heron").await;
    let id = header(&made, "x-image-id").to_owned();
    let derivative = server.get(&format!("/img/{id}/width=48,format=webp")).await;
    assert_eq!(derivative.status(), StatusCode::OK);
    let derivative = derivative.bytes().await.unwrap();

    let blobs = dir.path().join("blobs");
    let originals = files_under(&blobs.join("originals"));
    assert_eq!(originals.len(), 1);
    let derived = files_under(&blobs.join("derived"));
    assert!(!derived.is_empty());

    for keep_length in [false, true] {
        std::fs::copy(&originals[0], dir.path().join("good")).unwrap();
        tear(&originals[0], keep_length);
        let refused = server.get(&format!("/img/{id}")).await;
        assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            server.get("/96x64/a-torn-heron").await.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "the stored URL is not served from a torn original either"
        );
        std::fs::copy(dir.path().join("good"), &originals[0]).unwrap();
    }
    assert_eq!(
        server.get(&format!("/img/{id}")).await.status(),
        StatusCode::OK
    );

    // A torn derivative is made again, whole.
    for (i, keep_length) in [false, true].into_iter().enumerate() {
        for path in &derived {
            tear(path, keep_length);
        }
        let again = server.get(&format!("/img/{id}/width=48,format=webp")).await;
        assert_eq!(again.status(), StatusCode::OK, "round {i}");
        assert_eq!(again.bytes().await.unwrap(), derivative, "round {i}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_current_copy_of_an_original_not_in_memory_is_confirmed_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    // The handler's own answer is under test, not memory's.
    settings.storage.memory_cache_bytes = 0;
    let server = TestServer::with_config(settings).await;
    let made = server.get("/96x64/a-revalidated-avocet").await;
    let id = header(&made, "x-image-id").to_owned();
    let path = format!("/img/{id}");
    let whole = server.get(&path).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let etag = header(&whole, ETAG.as_str()).to_owned();
    let last_modified = header(&whole, "last-modified").to_owned();

    // With the blobs gone, only the row can answer.
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
    let http = client();
    for (name, value) in [
        ("if-none-match", etag.clone()),
        ("if-none-match", format!("W/{etag}")),
        ("if-modified-since", last_modified.clone()),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let response = http
                .request(method.clone(), server.url(&path))
                .header(name, &value)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_MODIFIED,
                "{method} {name}: {value}"
            );
            assert_eq!(header(&response, ETAG.as_str()), etag);
            assert_eq!(header(&response, "last-modified"), last_modified);
            assert_eq!(
                header(&response, "cache-control"),
                "public, max-age=31536000, immutable"
            );
        }
    }
    assert_eq!(
        server.get(&path).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "the bytes themselves are gone"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_dribbles_its_headers_or_idles_is_cut_off_while_others_are_served() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    settings.server.header_timeout_secs = 1;
    let server = TestServer::with_config(settings).await;
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();

    let dribbler = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let started = Instant::now();
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        for byte in request.iter().chain(b"a".repeat(60).iter()) {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(5) {
                break;
            }
        }
        // Closed by the server: the read ends (possibly with a 408 first), well before 6 s of bytes.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        started.elapsed()
    });
    // Meanwhile everyone else is served.
    for _ in 0..5 {
        assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = dribbler.await.unwrap();
    assert!(
        held < Duration::from_secs(4),
        "the dribbling client held on for {held:?}"
    );

    server.stop().await;

    // An idle kept-alive connection is closed after the idle timeout, which is not the header's.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    settings.server.header_timeout_secs = 30;
    settings.server.idle_timeout_secs = 1;
    let server = TestServer::with_config(settings).await;
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = vec![0u8; 4096];
    let first = idle.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..first]).starts_with("HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        loop {
            match idle.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an idle connection is closed");
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_their_turn() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    settings.server.max_connections = 2;
    let server = TestServer::with_config(settings).await;
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let ask = |addr: String| async move {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = vec![0u8; 4096];
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
        stream
    };
    // Two kept-alive connections hold both places.
    let first = ask(addr.clone()).await;
    let _second = ask(addr.clone()).await;
    let third = tokio::spawn(ask(addr.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !third.is_finished(),
        "a third connection is not served while two are open"
    );
    drop(first);
    let third = tokio::time::timeout(Duration::from_secs(5), third).await;
    assert!(third.is_ok(), "served once a place is free");
    server.stop().await;
}

/// One address cannot take every connection slot: beyond its share its new connections are closed at
/// once, while another address is served.
#[tokio::test]
async fn one_address_gets_its_share_of_connections_and_no_more() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    settings.server.max_connections = 100;
    settings.server.max_connections_per_client = 2;
    let server = TestServer::with_config(settings).await;
    let addr: std::net::SocketAddr = server
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let ask = |from: [u8; 4]| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut buffer = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("answered or closed at once");
        let answered =
            read.is_ok_and(|n| String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
        (answered, stream)
    };
    let (first, _first) = ask([127, 0, 0, 1]).await;
    let (second, _second) = ask([127, 0, 0, 1]).await;
    assert!(first && second, "two kept-alive connections are its share");
    let (third, _) = ask([127, 0, 0, 1]).await;
    assert!(!third, "a third from the same address is closed");
    let (other, _other) = ask([127, 0, 0, 2]).await;
    assert!(other, "another address is served");
    drop(_first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (again, _) = ask([127, 0, 0, 1]).await;
    assert!(again, "a place given back is taken again");
    server.stop().await;
}

#[tokio::test]
async fn cleartext_http2_is_not_spoken_so_no_client_gets_round_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // HTTP/2's connection preface, then an empty SETTINGS frame: an HTTP/2 server answers SETTINGS.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the connection is closed at once");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 "),
        "answered as HTTP/1.1 or not at all: {answer:?}"
    );
    // Plain HTTP/1.1 is served as ever.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn every_accepted_connection_has_tcp_nodelay() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = vec![0u8; 4096];
    let read = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));

    // The server runs in this process: its end of the connection is the socket whose peer is ours.
    let ours = stream.local_addr().unwrap();
    let theirs: Vec<bool> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&fd| socket::peer(fd) == Some(ours))
        .map(socket::nodelay)
        .collect();
    assert_eq!(theirs, [true], "the accepted socket, with TCP_NODELAY");
    server.stop().await;
}

/// What the kernel says of a socket of this process.
mod socket {
    use std::net::{Ipv4Addr, SocketAddr};

    /// The IPv4 peer of `fd`, if it is a connected IPv4 socket.
    pub fn peer(fd: i32) -> Option<SocketAddr> {
        // SAFETY: a zeroed sockaddr_in is valid, and the kernel writes at most `len` bytes to it.
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let ok =
            unsafe { libc::getpeername(fd, (&raw mut addr).cast::<libc::sockaddr>(), &mut len) }
                == 0;
        (ok && addr.sin_family == libc::AF_INET as libc::sa_family_t).then(|| {
            SocketAddr::from((
                Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
                u16::from_be(addr.sin_port),
            ))
        })
    }

    pub fn nodelay(fd: i32) -> bool {
        let mut on: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes to `on`.
        let ok = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&raw mut on).cast::<libc::c_void>(),
                &mut len,
            )
        } == 0;
        ok && on != 0
    }
}

#[tokio::test]
async fn head_range_and_dates_work_as_a_cdn_expects() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let http = client();
    let made = server.get("/120x80/a-ranged-heron").await;
    let id = header(&made, "x-image-id").to_owned();
    let paths = [
        format!("/img/{id}"),
        format!("/img/{id}/width=60,format=webp"),
        "/120x80/a-ranged-heron".to_owned(),
    ];
    for path in &paths {
        let whole = server.get(path).await;
        assert_eq!(whole.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&whole, "accept-ranges"), "bytes", "{path}");
        let last_modified = header(&whole, "last-modified").to_owned();
        assert!(last_modified.ends_with(" GMT"), "{path}: {last_modified}");
        let etag = header(&whole, ETAG.as_str()).to_owned();
        let length = header(&whole, CONTENT_LENGTH.as_str()).to_owned();
        let bytes = whole.bytes().await.unwrap();

        // HEAD: the same headers, no body.
        let head = http.head(server.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&head, CONTENT_LENGTH.as_str()), length, "{path}");
        assert_eq!(header(&head, ETAG.as_str()), etag, "{path}");
        assert!(head.bytes().await.unwrap().is_empty());

        // A range: 206 with exactly those bytes.
        let part = http
            .get(server.url(path))
            .header("range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{path}");
        assert_eq!(
            header(&part, "content-range"),
            format!("bytes 10-19/{}", bytes.len())
        );
        assert_eq!(part.bytes().await.unwrap(), bytes.slice(10..20), "{path}");
        let tail = http
            .get(server.url(path))
            .header("range", "bytes=-5")
            .send()
            .await
            .unwrap();
        assert_eq!(tail.bytes().await.unwrap(), bytes.slice(bytes.len() - 5..));
        // Beyond the end: 416 naming the length.
        let beyond = http
            .get(server.url(path))
            .header("range", format!("bytes={}-", bytes.len()))
            .send()
            .await
            .unwrap();
        assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{path}");
        assert_eq!(
            header(&beyond, "content-range"),
            format!("bytes */{}", bytes.len())
        );
        // An empty error: not an image, and not kept for a year.
        assert_eq!(header(&beyond, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&beyond, CONTENT_TYPE.as_str()), "", "{path}");
        assert_eq!(header(&beyond, "accept-ranges"), "bytes", "{path}");
        // If-Range with another validator: the whole thing.
        let stale = http
            .get(server.url(path))
            .header("range", "bytes=0-9")
            .header("if-range", "\"not-these-bytes\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK, "{path}");

        // If-Modified-Since: 304 from the date alone; an older date gets the bytes.
        let same = http
            .get(server.url(path))
            .header("if-modified-since", &last_modified)
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header(&same, "last-modified"), last_modified);
        let older = http
            .get(server.url(path))
            .header("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")
            .send()
            .await
            .unwrap();
        assert_eq!(older.status(), StatusCode::OK, "{path}");
    }
    // HEAD everywhere GET is.
    for path in ["/", "/gallery", "/healthz", "/api/models", "/api/images"] {
        let get = http.get(server.url(path)).send().await.unwrap().status();
        let head = http.head(server.url(path)).send().await.unwrap().status();
        assert_eq!(head, get, "HEAD {path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn ranges_follow_rfc_9110_from_memory_and_from_disk() {
    for memory_cache_bytes in [16 << 20, 0] {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = common::config(dir.path());
        settings.storage.memory_cache_bytes = memory_cache_bytes;
        let server = TestServer::with_config(settings).await;
        let http = client();
        let made = server.get("/120x80/a-suffixed-spoonbill").await;
        let id = header(&made, "x-image-id").to_owned();
        let paths = [
            format!("/img/{id}"),
            format!("/img/{id}/width=60,format=webp"),
            "/120x80/a-suffixed-spoonbill".to_owned(),
        ];
        for path in &paths {
            let at = format!("{path} (memory {memory_cache_bytes})");
            let bytes = server.get(path).await.bytes().await.unwrap();
            let len = bytes.len();
            let ask = |method: reqwest::Method, range: String| {
                http.request(method, server.url(path))
                    .header("range", range)
                    .send()
            };
            // A suffix longer than the image is all of it, as a part.
            let suffix = ask(reqwest::Method::GET, format!("bytes=-{}", len + 200))
                .await
                .unwrap();
            assert_eq!(suffix.status(), StatusCode::PARTIAL_CONTENT, "{at}");
            assert_eq!(
                header(&suffix, "content-range"),
                format!("bytes 0-{}/{len}", len - 1),
                "{at}"
            );
            assert_eq!(suffix.bytes().await.unwrap(), bytes, "{at}");
            // Several ranges: the whole image, not a multipart body nor a refusal.
            let several = ask(reqwest::Method::GET, "bytes=0-1,5-6".to_owned())
                .await
                .unwrap();
            assert_eq!(several.status(), StatusCode::OK, "{at}");
            assert_eq!(header(&several, "content-range"), "", "{at}");
            assert_eq!(several.bytes().await.unwrap(), bytes, "{at}");
            // HEAD ignores Range: the headers of a whole GET.
            let head = ask(reqwest::Method::HEAD, "bytes=0-9".to_owned())
                .await
                .unwrap();
            assert_eq!(head.status(), StatusCode::OK, "{at}");
            assert_eq!(
                header(&head, CONTENT_LENGTH.as_str()),
                len.to_string(),
                "{at}"
            );
            assert_eq!(header(&head, "content-range"), "", "{at}");
            // Beyond the end: 416 with the length, no-store, no image type.
            let beyond = ask(reqwest::Method::GET, format!("bytes={len}-"))
                .await
                .unwrap();
            assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{at}");
            assert_eq!(
                header(&beyond, "content-range"),
                format!("bytes */{len}"),
                "{at}"
            );
            assert_eq!(header(&beyond, "cache-control"), "no-store", "{at}");
            assert_eq!(header(&beyond, CONTENT_TYPE.as_str()), "", "{at}");
            assert_eq!(header(&beyond, "accept-ranges"), "bytes", "{at}");
            assert!(beyond.bytes().await.unwrap().is_empty(), "{at}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn if_none_match_compares_weakly_and_if_range_strongly() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let http = client();
    let made = server.get("/120x80/a-weakly-tagged-stork").await;
    let id = header(&made, "x-image-id").to_owned();
    let paths = [
        format!("/img/{id}"),
        format!("/img/{id}/width=60,format=webp"),
        "/120x80/a-weakly-tagged-stork".to_owned(),
    ];
    for path in &paths {
        let whole = server.get(path).await;
        let etag = header(&whole, ETAG.as_str()).to_owned();
        let length = whole.bytes().await.unwrap().len();
        // A CDN that compressed the body weakens the tag, and sends it back so.
        let asks = [
            ("weak", vec![format!("W/{etag}")]),
            ("in a list", vec![format!("\"a,b\", W/{etag}")]),
            (
                "on a line of its own",
                vec!["\"other\"".to_owned(), etag.clone()],
            ),
        ];
        for (what, lines) in asks {
            let mut request = http.get(server.url(path));
            for line in &lines {
                request = request.header(IF_NONE_MATCH, line);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_MODIFIED,
                "{path}: {what}"
            );
            assert_eq!(header(&response, ETAG.as_str()), etag, "{path}: {what}");
        }
        // If-Range compares strongly: with the weak tag, the whole body.
        let weak = http
            .get(server.url(path))
            .header("range", "bytes=0-9")
            .header("if-range", format!("W/{etag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(weak.status(), StatusCode::OK, "{path}");
        assert_eq!(weak.bytes().await.unwrap().len(), length, "{path}");
        let strong = http
            .get(server.url(path))
            .header("range", "bytes=0-9")
            .header("if-range", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(strong.status(), StatusCode::PARTIAL_CONTENT, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn options_the_format_ignores_do_not_make_new_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let made = server.get("/64x64/a-lossless-crane").await;
    let id = header(&made, "x-image-id").to_owned();
    let derived = || files_under(&dir.path().join("blobs/derived")).len();
    let before = derived();
    let mut etags = Vec::new();
    for options in [
        "width=40,format=png,quality=10",
        "width=40,format=png,quality=90",
        "width=40,format=png",
        "width=40,format=png,background=red",
    ] {
        let response = server.get(&format!("/img/{id}/{options}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{options}");
        etags.push(header(&response, ETAG.as_str()).to_owned());
    }
    assert!(etags.windows(2).all(|w| w[0] == w[1]), "{etags:?}");
    assert_eq!(derived(), before + 1, "one stored derivative for all four");
    // For a lossy format quality is the output, and pad uses the background.
    let q10 = server
        .get(&format!("/img/{id}/width=40,format=webp,quality=10"))
        .await;
    let q90 = server
        .get(&format!("/img/{id}/width=40,format=webp,quality=90"))
        .await;
    assert_ne!(header(&q10, ETAG.as_str()), header(&q90, ETAG.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn widths_past_the_source_are_one_derivative_and_a_smaller_one_another() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let made = server.get("/1024x768/a-wide-heron").await;
    let id = header(&made, "x-image-id").to_owned();
    let derived = || files_under(&dir.path().join("blobs/derived")).len();
    let before = derived();
    let mut etags = Vec::new();
    // Scale-down, the default here, never enlarges: each is the whole 1024x768 image as WebP.
    for options in [
        "width=1025,format=webp",
        "width=3000,format=webp",
        "width=600,dpr=2,format=webp",
        "width=1100,fit=scale-down,format=webp",
        "format=webp",
    ] {
        let response = server.get(&format!("/img/{id}/{options}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{options}");
        etags.push(header(&response, ETAG.as_str()).to_owned());
        assert_eq!(dimensions(&response.bytes().await.unwrap()), (1024, 768));
    }
    // `format=auto` answered with WebP is the same WebP.
    let auto = client()
        .get(server.url(&format!("/img/{id}/width=2000,format=auto")))
        .header(ACCEPT, "image/webp")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&auto, CONTENT_TYPE.as_str()), "image/webp");
    etags.push(header(&auto, ETAG.as_str()).to_owned());
    assert!(etags.windows(2).all(|w| w[0] == w[1]), "{etags:?}");
    assert_eq!(
        derived(),
        before + 1,
        "one stored derivative for all of them"
    );

    let smaller = server
        .get(&format!("/img/{id}/width=1000,format=webp"))
        .await;
    assert_eq!(smaller.status(), StatusCode::OK);
    assert_ne!(header(&smaller, ETAG.as_str()), etags[0]);
    assert_eq!(dimensions(&smaller.bytes().await.unwrap()), (1000, 750));
    assert_eq!(
        derived(),
        before + 2,
        "a smaller width is a derivative of its own"
    );
    server.stop().await;
}

#[tokio::test]
async fn hot_images_come_from_memory_and_leave_it_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let made = server.get("/64x64/a-remembered-ibis").await;
    let id = header(&made, "x-image-id").to_owned();
    let paths = [
        format!("/img/{id}"),
        format!("/img/{id}/width=20,format=webp"),
    ];
    let mut first = Vec::new();
    for path in &paths {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        first.push(response.bytes().await.unwrap());
    }
    // Asked for again, they are answered without the disk: the blobs can be gone.
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
    // A derivative says it was made before, as one read from disk does; an original says nothing.
    let x_cache = ["", "HIT"];
    for ((path, bytes), x_cache) in paths.iter().zip(&first).zip(x_cache) {
        let again = server.get(path).await;
        assert_eq!(again.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&again, "x-cache"), x_cache, "{path}");
        assert_eq!(&again.bytes().await.unwrap(), bytes, "{path}");
        // Conditional requests and ranges are answered from memory too.
        let part = client()
            .get(server.url(path))
            .header("range", "bytes=0-3")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    }
    // A delete takes them out of memory at once.
    let deleted = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for path in &paths {
        assert_eq!(
            server.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_placeholder_url_asked_again_comes_from_memory_and_leaves_it_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    // Made at 512x384: the URL's 800x600 is a derivative, stored beside the original.
    common::one_size(&mut settings);
    let server = TestServer::with_config(settings).await;
    let path = "/800x600/a-remembered-placeholder";
    let auto = "/800x600/a-remembered-placeholder?format=auto";
    let made = server.get(path).await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(header(&made, "x-cache"), "MISS");
    let id = header(&made, "x-image-id").to_owned();
    let heads = ["etag", "last-modified", "cache-control", "content-type"]
        .map(|name| header(&made, name).to_owned());
    let bytes = made.bytes().await.unwrap();
    assert_eq!(dimensions(&bytes), (800, 600));
    let accepting = |path: &str, accept: &'static str| {
        client()
            .get(server.url(path))
            .header("accept", accept)
            .send()
    };
    for accept in ["image/webp", "image/jpeg"] {
        assert_eq!(
            accepting(auto, accept).await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert!(files_under(&dir.path().join("blobs/originals")).len() == 1);
    assert!(!files_under(&dir.path().join("blobs/derived")).is_empty());

    // Asked for again, it is answered without a file read: the blobs can be gone.
    for file in files_under(&dir.path().join("blobs")) {
        std::fs::remove_file(file).unwrap();
    }
    let again = server.get(path).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(header(&again, "x-cache"), "HIT");
    assert_eq!(header(&again, "x-image-id"), id);
    let again_heads = ["etag", "last-modified", "cache-control", "content-type"]
        .map(|name| header(&again, name).to_owned());
    assert_eq!(again_heads, heads);
    assert_eq!(heads[2], "public, max-age=86400");
    assert_eq!(again.bytes().await.unwrap(), bytes);
    let revalidated = client()
        .get(server.url(path))
        .header(IF_NONE_MATCH, &heads[0])
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    // `format=auto` by what the client accepts, each remembered apart.
    for (accept, mime) in [("image/webp", "image/webp"), ("image/jpeg", "image/jpeg")] {
        let chosen = accepting(auto, accept).await.unwrap();
        assert_eq!(chosen.status(), StatusCode::OK, "{accept}");
        assert_eq!(header(&chosen, CONTENT_TYPE.as_str()), mime);
        assert_eq!(header(&chosen, "vary"), "Accept");
    }

    // A delete takes it out of memory at once: the URL makes its image again.
    let deleted = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let remade = server.get(path).await;
    assert_eq!(remade.status(), StatusCode::OK);
    assert_eq!(header(&remade, "x-cache"), "MISS");
    assert_ne!(header(&remade, "x-image-id"), id);
    server.stop().await;
}

/// The bytes of every file under `dir`.
fn bytes_under(dir: &std::path::Path) -> u64 {
    files_under(dir)
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum()
}

#[tokio::test]
async fn derivatives_stay_within_their_budget_and_are_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    settings.storage.memory_cache_bytes = 0;
    settings.storage.derivatives_max_bytes = 20_000;
    let server = TestServer::with_config(settings).await;
    let made = server.get("/256x256/a-budgeted-egret").await;
    let id = header(&made, "x-image-id").to_owned();
    let originals = files_under(&dir.path().join("blobs/originals"));
    let derived = dir.path().join("blobs/derived");
    let mut first = None;
    for width in 40..80 {
        let response = server
            .get(&format!("/img/{id}/width={width},format=png"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        if first.is_none() {
            first = Some(response.bytes().await.unwrap());
        }
    }
    // Eviction runs beside the requests: it settles within the budget.
    let started = std::time::Instant::now();
    while bytes_under(&derived) > 20_000 && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        bytes_under(&derived) <= 20_000,
        "{} bytes",
        bytes_under(&derived)
    );
    assert_eq!(
        files_under(&dir.path().join("blobs/originals")),
        originals,
        "originals stay"
    );
    // The first one was evicted (the least recently served); asked again, it is made again, the same.
    let kept: std::collections::HashSet<_> = files_under(&derived).into_iter().collect();
    assert!(kept.len() < 40, "{} derivatives kept", kept.len());
    let again = server.get(&format!("/img/{id}/width=40,format=png")).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(Some(again.bytes().await.unwrap()), first);
    assert!(
        files_under(&derived).iter().any(|f| !kept.contains(f)),
        "made again, as a new file"
    );
    server.stop().await;
}

/// A response's headers as sorted `name: value` lines, without those that differ per response.
fn header_lines(response: &reqwest::Response) -> Vec<String> {
    let mut lines: Vec<String> = response
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn a_hit_answered_before_the_router_is_the_routers_answer_byte_for_byte() {
    // With memory, hits come from it; without, a stored derivative is read from disk before the
    // router, and an original goes to the router.
    for memory_cache_bytes in [16 << 20, 0] {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = common::config(dir.path());
        settings.storage.memory_cache_bytes = memory_cache_bytes;
        settings.security.requests_per_second = 1;
        settings.security.request_burst = 40;
        let server = TestServer::with_config(settings).await;
        hit_path_answers_as_the_router(&server, memory_cache_bytes).await;
        server.stop().await;
    }
}

async fn hit_path_answers_as_the_router(server: &TestServer, memory_cache_bytes: u64) {
    let made = server.get("/256x256/a-hit-path-plover").await;
    let id = header(&made, "x-image-id").to_owned();
    let http = client();
    let fast = format!("/img/{id}/width=40,format=webp");
    // The same options with a percent-encoded comma: the hit path leaves it to the router, whose
    // handler finds the same response in memory.
    let routed = format!("/img/{id}/width=40%2Cformat=webp");
    assert_eq!(server.get(&fast).await.status(), StatusCode::OK, "made");
    let etag = header(&server.get(&fast).await, "etag").to_owned();

    let variants = [
        ("GET", reqwest::Method::GET, None),
        ("HEAD", reqwest::Method::HEAD, None),
        (
            "304",
            reqwest::Method::GET,
            Some(("if-none-match", etag.as_str())),
        ),
        ("206", reqwest::Method::GET, Some(("range", "bytes=0-9"))),
        (
            "416",
            reqwest::Method::GET,
            Some(("range", "bytes=999999-")),
        ),
        (
            "HEAD with a range",
            reqwest::Method::HEAD,
            Some(("range", "bytes=0-9")),
        ),
    ];
    for (what, method, extra) in variants {
        let what = format!("{what} (memory {memory_cache_bytes})");
        let send = |path: &str| {
            let mut request = http.request(method.clone(), server.url(path));
            if let Some((name, value)) = extra {
                request = request.header(name, value);
            }
            request.send()
        };
        let (a, b) = (send(&fast).await.unwrap(), send(&routed).await.unwrap());
        assert_eq!(a.status(), b.status(), "{what}");
        assert_eq!(header_lines(&a), header_lines(&b), "{what}");
        assert!(a.headers().contains_key("x-request-id"), "{what}");
        assert_eq!(header(&a, "access-control-allow-origin"), "*", "{what}");
        assert_eq!(a.bytes().await.unwrap(), b.bytes().await.unwrap(), "{what}");
    }
    // A request id the client sent comes back, as the router's layer echoes it.
    let echoed = http
        .get(server.url(&fast))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&echoed, "x-request-id"), "client-chosen-id");
    // Hits count against the general limit there too.
    let mut refused = None;
    for path in [&fast, &format!("/img/{id}")].into_iter().cycle().take(120) {
        let response = server.get(path).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the general limit applies to hits");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(header(&refused, "access-control-allow-origin"), "*");
    // Deleted, nothing of it is answered any more, whichever way it was kept (after the limit lets
    // the three requests through: one a second).
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let deleted = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for path in [&fast, &routed] {
        assert_eq!(
            server.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path} (memory {memory_cache_bytes})"
        );
    }
}

#[tokio::test]
async fn a_derivative_answered_from_memory_counts_as_served_for_eviction() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::config(dir.path());
    settings.storage.memory_cache_bytes = 16 << 20;
    settings.storage.derivatives_max_bytes = 20_000;
    let server = TestServer::with_config(settings).await;
    let made = server.get("/256x256/a-remembered-ibis").await;
    let id = header(&made, "x-image-id").to_owned();
    let derived = dir.path().join("blobs/derived");
    let stored = |key: &str| {
        files_under(&derived)
            .iter()
            .any(|f| f.to_string_lossy().contains(key))
    };
    let key_of =
        |response: &reqwest::Response| header(response, "etag").trim_matches('"').to_owned();

    let hot = server.get(&format!("/img/{id}/width=40,format=png")).await;
    let hot_key = key_of(&hot);
    let next = server.get(&format!("/img/{id}/width=41,format=png")).await;
    let next_key = key_of(&next);
    // Served again, from memory: no read of the store, yet it is the most recently served.
    let again = server.get(&format!("/img/{id}/width=40,format=png")).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(key_of(&again), hot_key);
    // New derivatives until the first eviction.
    let mut width = 42;
    while stored(&next_key) {
        assert!(width < 200, "no eviction");
        let response = server
            .get(&format!("/img/{id}/width={width},format=png"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        width += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        stored(&hot_key),
        "the derivative served from memory is not the first to go"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_hashed_bundle_is_linked_immutable_and_sent_precompressed() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::config(dir.path());
    let pkg = settings.server.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        settings.server.site_root.join("hash.txt"),
        "js: jshash\nwasm: wasmhash\ncss: csshash\n",
    )
    .unwrap();
    std::fs::write(pkg.join("pixzoo.jshash.js"), "export default 1;").unwrap();
    std::fs::write(pkg.join("pixzoo.wasmhash.wasm"), b"\0asm").unwrap();
    let css = "body { color: black; } ".repeat(100);
    std::fs::write(pkg.join("pixzoo.csshash.css"), &css).unwrap();
    // What a release build's --precompress writes: served as it is, never compressed per request.
    std::fs::write(pkg.join("pixzoo.csshash.css.br"), b"precompressed-br").unwrap();
    std::fs::write(pkg.join("other.js"), "1").unwrap();
    let server = TestServer::with_config(settings).await;

    let page = server.get("/gallery").await.text().await.unwrap();
    assert!(
        page.contains("/pkg/pixzoo.csshash.css"),
        "the page links the hashed CSS"
    );
    assert!(page.contains("pixzoo.jshash.js"), "and the hashed script");

    let http = client();
    let plain = http
        .get(server.url("/pkg/pixzoo.csshash.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(
        header(&plain, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let tag = header(&plain, "etag").to_owned();
    assert_eq!(plain.text().await.unwrap(), css);
    let again = http
        .get(server.url("/pkg/pixzoo.csshash.css"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let weak = http
        .get(server.url("/pkg/pixzoo.csshash.css"))
        .header("if-none-match", format!("\"other\", W/{tag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::NOT_MODIFIED, "weakly, in a list");
    let br = http
        .get(server.url("/pkg/pixzoo.csshash.css"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&br, "content-encoding"), "br");
    assert_eq!(
        header(&br, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&br, "vary").contains("accept-encoding"));
    assert_eq!(&br.bytes().await.unwrap()[..], b"precompressed-br");
    // A name without a hash may change with the next build: asked again each time.
    let other = http.get(server.url("/pkg/other.js")).send().await.unwrap();
    assert_eq!(header(&other, "cache-control"), "no-cache");
    // HEAD as GET, from memory and from disk alike: the same headers, no body.
    for path in ["/pkg/pixzoo.csshash.css", "/pkg/other.js"] {
        let get = http.get(server.url(path)).send().await.unwrap();
        let head = http.head(server.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        for name in ["content-length", "content-type", "cache-control", "etag"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "{name} of HEAD {path}"
            );
        }
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn every_image_response_names_its_image_for_a_cdn_purge() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let placeholder = "/64x48/a-tagged-avocet";
    let made = server.get(placeholder).await;
    let id = header(&made, "x-image-id").to_owned();
    let (cache_tag, surrogate_key) = (
        format!("pixzoo,pixzoo-img-{id}"),
        format!("pixzoo pixzoo-img-{id}"),
    );
    let paths = [
        placeholder.to_owned(),
        format!("/img/{id}"),
        format!("/img/{id}/width=20,format=webp"),
    ];
    // Made, then asked again (from memory: the hit path for /img/…), then revalidated (304).
    for path in &paths {
        let mut etag = String::new();
        for round in ["first", "again", "304"] {
            let mut request = client().get(server.url(path));
            if round == "304" {
                request = request.header(IF_NONE_MATCH, &etag);
            }
            let response = request.send().await.unwrap();
            let what = format!("{path} ({round})");
            let status = if round == "304" {
                StatusCode::NOT_MODIFIED
            } else {
                StatusCode::OK
            };
            assert_eq!(response.status(), status, "{what}");
            assert_eq!(header(&response, "cache-tag"), cache_tag, "{what}");
            assert_eq!(header(&response, "surrogate-key"), surrogate_key, "{what}");
            etag = header(&response, "etag").to_owned();
        }
    }
    // A current copy confirmed from the row alone, nothing in memory, says the same.
    server.state.engine.memory().clear();
    let derivative = &paths[2];
    let etag = header(&server.get(derivative).await, "etag").to_owned();
    server.state.engine.memory().clear();
    let confirmed = client()
        .get(server.url(derivative))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&confirmed, "cache-tag"), cache_tag);
    assert_eq!(header(&confirmed, "surrogate-key"), surrogate_key);
    server.stop().await;
}
