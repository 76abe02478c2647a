//! Crash safety: the real binary is killed with SIGKILL while generations and transforms are in flight,
//! then started again on the same data directory. Everything acknowledged before the kill must be
//! served, intact; no catalog row may point at a missing or partial blob. And the gentle stop: SIGTERM
//! lets requests in flight finish, refuses new ones, and closes the catalog cleanly. And what a hostile
//! body costs the real process: its memory, read from the kernel.

mod fakes;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data: &std::path::Path, port: u16) -> Child {
    start_with(data, port, &[])
}

fn start_with(data: &std::path::Path, port: u16, envs: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .envs(envs.iter().copied())
        .env("PIXZOO_ADDR", format!("127.0.0.1:{port}"))
        .env("PIXZOO_DATA_DIR", data)
        .env("PIXZOO_SECURITY__REQUESTS_PER_SECOND", "0")
        .env("PIXZOO_SECURITY__GENERATIONS_PER_MINUTE", "0")
        .env("PIXZOO_SECURITY__DERIVATIVES_PER_MINUTE", "0")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("{base}/healthz")).send().await {
            if response.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the server did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (image id, URL) of every new generation whose whole answer arrived.
type Acknowledged = Arc<Mutex<Vec<(String, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut server = start(data.path(), port);
    wait_healthy(&http, &base).await;

    // A few stored images for the transforms to work on.
    let mut seeds = Vec::new();
    for n in 0..4 {
        let response = http
            .get(format!("{base}/512x384/crash-seed-{n}"))
            .send()
            .await
            .unwrap();
        seeds.push(
            response.headers()["x-image-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }

    let acknowledged: Acknowledged = Arc::default();
    let mut load = Vec::new();
    for worker in 0..16 {
        let (http, base, seeds, acknowledged) = (
            http.clone(),
            base.clone(),
            seeds.clone(),
            acknowledged.clone(),
        );
        load.push(tokio::spawn(async move {
            for n in 0.. {
                let path = if worker % 2 == 0 {
                    format!("/{}x{}/crash-new-{worker}-{n}", 300 + n, 200 + worker)
                } else {
                    let id = &seeds[n % seeds.len()];
                    format!("/img/{id}/width={},format=webp", 64 + worker * 8 + n)
                };
                let Ok(response) = http.get(format!("{base}{path}")).send().await else {
                    return;
                };
                if !response.status().is_success() {
                    continue;
                }
                let Some(id) = response.headers().get("x-image-id") else {
                    continue;
                };
                let id = id.to_str().unwrap().to_owned();
                if response.bytes().await.is_err() {
                    return;
                }
                if !path.starts_with("/img/") {
                    acknowledged.lock().unwrap().push((id, path));
                }
            }
        }));
    }
    // Killed once enough is acknowledged to mean something (however slow a busy machine makes the
    // debug build), with the load still running, so more is in flight at the kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    for task in load {
        let _ = task.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 5,
        "too little got done before the kill to mean anything: {}",
        acknowledged.len()
    );

    // Same data directory, new process: it starts cleanly.
    let mut server = start(data.path(), port);
    wait_healthy(&http, &base).await;

    // Every acknowledged image is served, by id and by its URL (as a stored image, not a new one).
    for (id, path) in &acknowledged {
        let original = http.get(format!("{base}/img/{id}")).send().await.unwrap();
        assert_eq!(original.status(), 200, "{id} from {path}");
        let again = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(again.status(), 200);
        assert_eq!(again.headers()["x-cache"], "HIT", "{path}");
    }

    // Every catalog row's blob exists and is whole: its bytes hash to the recorded content hash.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        data.path().join("pixzoo.db").display()
    ))
    .await
    .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, content_hash FROM images")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(rows.len() >= acknowledged.len());
    for (id, content_hash) in rows {
        let response = http.get(format!("{base}/img/{id}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "row {id} has no blob");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            content_hash,
            "row {id} serves a partial or foreign blob"
        );
    }
    pool.close().await;
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_what_is_in_flight_refuses_new_work_and_closes_the_catalog() {
    let replicate = fakes::replicate::start().await;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let envs = [
        ("REPLICATE_API_TOKEN", fakes::replicate::TOKEN),
        ("REPLICATE_BASE_URL", replicate.base.as_str()),
        ("PIXZOO_PROMPT__PIPELINE", "off"),
    ];
    let mut server = start_with(data.path(), port, &envs);
    // A fresh connection per request: a pooled one would hide whether new connections are accepted.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    wait_healthy(&http, &base).await;

    // The fake takes 400 ms for a "slow" prompt: the request is in flight when the signal arrives.
    let in_flight = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/320x240/slow-closing-owl"))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());

    let mut refused = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if http.get(format!("{base}/healthz")).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "new connections are refused once stopping");

    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-image-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!response.bytes().await.unwrap().is_empty());
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    // Closed cleanly: the write-ahead log was checkpointed into the database and emptied.
    let wal = data.path().join("pixzoo.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL was left behind"
    );

    let mut server = start_with(data.path(), port, &envs);
    wait_healthy(&http, &base).await;
    let again = http.get(format!("{base}/img/{id}")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The process's peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

/// `POST /api/image` may take a body as large as two images in base64 (60 MB by default) but only for
/// `data:` URIs; a body that large made of anything else is refused before it becomes a JSON tree.
/// Measured before: two concurrent 60 MB bodies whose `content` is an array of zeros took the server
/// from 30 MB to 2.1 GB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_huge_json_body_is_refused_before_it_is_parsed_into_memory() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut server = start(data.path(), port);
    wait_healthy(&http, &base).await;
    let before = peak_rss(server.id());

    // Just under the room the body limit leaves for images (3 × 20 MiB + 64 KiB).
    let head = br#"{"messages":[{"role":"user","content":["#;
    let tail = br#"0]}]}"#;
    let zeros = (60 * 1024 * 1024 - head.len() - tail.len()) / 2;
    let mut body = Vec::with_capacity(60 * 1024 * 1024);
    body.extend_from_slice(head);
    for _ in 0..zeros {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(tail);
    let body = bytes::Bytes::from(body);
    let post = || {
        http.post(format!("{base}/api/image"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let (a, b) = tokio::join!(post(), post());
    for answer in [a.unwrap(), b.unwrap()] {
        assert_eq!(answer.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    }
    let after = peak_rss(server.id());
    // The two bodies themselves are buffered (120 MB, briefly twice while they are joined); a JSON
    // tree of them took 2 GB.
    let grew = after.saturating_sub(before);
    assert!(
        grew < 400 << 20,
        "peak memory grew by {} MiB (from {} MiB)",
        grew >> 20,
        before >> 20
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
