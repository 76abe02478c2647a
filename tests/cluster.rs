//! Several instances on one PostgreSQL catalog and one S3-compatible bucket (the servers `make test`
//! starts: scripts/with-services.sh), behaving as one.
#![cfg(feature = "ssr")]

mod common;
mod fakes;

use common::{client, free_port, header, TestServer};
use pixzoo::server::config::{Config, PipelineChoice};
use pixzoo::server::secret::Secret;
use pixzoo::server::storage::testing;
use reqwest::StatusCode;

/// Two instances on a fresh shared catalog and bucket, generating through the OpenAI fake.
async fn pair(openai: &str) -> (TestServer, TestServer, [tempfile::TempDir; 2]) {
    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut servers = Vec::new();
    for dir in &dirs {
        let mut config = shared(&catalog, &blobs, dir.path());
        config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
        config.providers.openai.base_url = openai.to_owned();
        config.prompt.pipeline = PipelineChoice::Off;
        servers.push(TestServer::with_config(config).await);
    }
    let b = servers.pop().unwrap();
    let a = servers.pop().unwrap();
    (a, b, dirs)
}

/// A configuration on the shared services: the catalog and the blobs are the cluster's, the data
/// directory this instance's own (and left empty).
fn shared(catalog: &str, blobs: &str, data_dir: &std::path::Path) -> Config {
    let mut config = common::config(data_dir);
    config.storage.catalog_url = Secret::new(catalog);
    config.storage.blobs_url = blobs.to_owned();
    config
}

#[tokio::test]
async fn an_image_made_through_one_instance_is_a_hit_through_another() {
    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::with_config(shared(&catalog, &blobs, dir_a.path())).await;
    let b = TestServer::with_config(shared(&catalog, &blobs, dir_b.path())).await;

    let made = a.get("/320x200/shared-sloth").await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(header(&made, "x-cache"), "MISS");
    let id = header(&made, "x-image-id").to_owned();
    let bytes = made.bytes().await.unwrap();

    let again = b.get("/320x200/shared-sloth").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(header(&again, "x-cache"), "HIT");
    assert_eq!(header(&again, "x-image-id"), id);
    assert_eq!(again.bytes().await.unwrap(), bytes);
    assert_eq!(
        b.get(&format!("/img/{id}")).await.bytes().await.unwrap(),
        bytes
    );

    let derivative = format!("/img/{id}/width=100,format=webp");
    let first = a.get(&derivative).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "x-cache"), "MISS");
    let small = first.bytes().await.unwrap();
    let second = b.get(&derivative).await;
    assert_eq!(header(&second, "x-cache"), "HIT");
    assert_eq!(second.bytes().await.unwrap(), small);

    // The gallery's source is the shared catalog.
    let listed: serde_json::Value = client()
        .get(b.url("/api/images"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["images"][0]["id"], id.as_str(), "{listed}");

    // Nothing was written to either instance's own directory.
    for dir in [&dir_a, &dir_b] {
        assert!(!dir.path().join("pixzoo.db").exists());
        assert!(!dir.path().join("blobs").exists());
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_requests_at_two_instances_make_one_image() {
    let openai = fakes::openai::start().await;
    let (a, b, _dirs) = pair(&openai.base).await;
    let path = "/1024x1024/a-slow-shared-fox?model=dall-e-3";
    let requests = (0..30).map(|i| {
        let url = if i % 2 == 0 { a.url(path) } else { b.url(path) };
        async move { client().get(url).send().await.unwrap() }
    });
    let mut ids = std::collections::BTreeSet::new();
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::OK);
        ids.insert(header(&response, "x-image-id").to_owned());
    }
    assert_eq!(ids.len(), 1, "one image: {ids:?}");
    assert_eq!(
        openai.calls.count("prompt:a-slow-shared-fox"),
        1,
        "one provider call"
    );

    // The same for a new derivative of it.
    let id = ids.into_iter().next().unwrap();
    let derivative = format!("/img/{id}/width=300,blur=4,format=webp");
    let requests = (0..20).map(|i| {
        let url = if i % 2 == 0 {
            a.url(&derivative)
        } else {
            b.url(&derivative)
        };
        async move { client().get(url).send().await.unwrap() }
    });
    let mut misses = 0;
    let mut bodies = std::collections::BTreeSet::new();
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::OK);
        misses += usize::from(header(&response, "x-cache") == "MISS");
        bodies.insert(response.bytes().await.unwrap());
    }
    assert_eq!(bodies.len(), 1);
    // Joined flights on the instance that made it say MISS too; the other instance's say HIT.
    assert!(misses <= 10, "{misses} answers made it");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_reaches_the_waiters_and_is_not_kept() {
    let openai = fakes::openai::start().await;
    let (a, b, _dirs) = pair(&openai.base).await;
    // The fake refuses prompts with "policy" after a moment's thought ("slow").
    let path = "/1024x1024/slow-policy-fox?model=dall-e-3";
    let (first, second) = tokio::join!(client().get(a.url(path)).send(), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        client().get(b.url(path)).send().await
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        second.status(),
        StatusCode::BAD_REQUEST,
        "the waiter hears the failure"
    );
    let body: serde_json::Value = second.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("safety system"),
        "{body}"
    );
    assert_eq!(openai.calls.count("prompt:slow-policy-fox"), 1);
    // Not kept: asking again tries again.
    assert_eq!(b.get(path).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(openai.calls.count("prompt:slow-policy-fox"), 2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_delete_through_one_instance_is_gone_from_another_at_once() {
    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = TestServer::with_config(shared(&catalog, &blobs, dir_a.path())).await;
    let b = TestServer::with_config(shared(&catalog, &blobs, dir_b.path())).await;
    let made = a.get("/320x200/short-lived-sloth").await;
    let id = header(&made, "x-image-id").to_owned();
    let original = a
        .state
        .engine
        .record(&id)
        .await
        .unwrap()
        .unwrap()
        .blob_key();
    let (bucket, prefix) = blobs.trim_start_matches("s3://").split_once('/').unwrap();
    let bucket = pixzoo::server::storage::BlobStore::s3(bucket, prefix).unwrap();
    assert!(bucket.exists(&original).await.unwrap());
    // B keeps the image and a derivative in memory.
    for _ in 0..2 {
        assert_eq!(b.get(&format!("/img/{id}")).await.status(), StatusCode::OK);
        assert_eq!(
            b.get(&format!("/img/{id}/width=64")).await.status(),
            StatusCode::OK
        );
    }
    let deleted = client()
        .delete(a.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for path in [format!("/img/{id}"), format!("/img/{id}/width=64")] {
        loop {
            let status = b.get(&path).await.status();
            if status == StatusCode::NOT_FOUND {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} still answers {status} through B"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    assert!(
        !bucket.exists(&original).await.unwrap(),
        "the original's blob left the bucket too"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_redo_through_one_instance_moves_the_url_in_anothers_memory_at_once() {
    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with_key = |dir: &std::path::Path| {
        let mut config = shared(&catalog, &blobs, dir);
        config.auth.api_key = Secret::new("cluster-redo-key");
        config
    };
    let a = TestServer::with_config(with_key(dir_a.path())).await;
    let b = TestServer::with_config(with_key(dir_b.path())).await;
    let path = "/96x64/a-moved-sloth";
    let first = a.get(path).await;
    let first_id = header(&first, "x-image-id").to_owned();
    // B keeps the URL in memory.
    for _ in 0..2 {
        assert_eq!(header(&b.get(path).await, "x-image-id"), first_id);
    }
    let redone = client()
        .get(a.url(&format!("{path}?redo")))
        .bearer_auth("cluster-redo-key")
        .send()
        .await
        .unwrap();
    assert_eq!(redone.status(), StatusCode::OK);
    let second_id = header(&redone, "x-image-id").to_owned();
    assert_ne!(second_id, first_id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let answered = b.get(path).await;
        if header(&answered, "x-image-id") == second_id {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B still answers the replaced image"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The replaced image itself stays, by id.
    assert_eq!(
        b.get(&format!("/img/{first_id}")).await.status(),
        StatusCode::OK
    );
    a.stop().await;
    b.stop().await;
}

/// `POST /api/image` with `stream: true` at B while A makes the same image: B's stream ends in A's
/// image, made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_stream_at_one_instance_follows_work_made_at_another() {
    let openai = fakes::openai::start().await;
    let (a, b, _dirs) = pair(&openai.base).await;
    let at_a = tokio::spawn(
        client()
            .get(a.url("/1024x1024/slow-streamed-heron?model=dall-e-3"))
            .send(),
    );
    // A has claimed the work by the time B asks.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while openai.calls.count("prompt:slow-streamed-heron") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "A never called the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let streamed = client()
        .post(b.url("/api/image"))
        .json(&serde_json::json!({
            "messages": [{"role": "user", "content": "slow streamed heron"}],
            "model": "dall-e-3",
            "size": "1024x1024",
            "stream": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::OK);
    let (names, last) = common::events(&streamed.text().await.unwrap());
    assert_eq!(names.last().map(String::as_str), Some("done"), "{names:?}");
    let made = at_a.await.unwrap().unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(last["id"], header(&made, "x-image-id"), "A's image");
    assert_eq!(
        openai.calls.count("prompt:slow-streamed-heron"),
        1,
        "made once"
    );
    a.stop().await;
    b.stop().await;
}

/// A running binary, killed when the test ends however it ends.
struct Instance(std::process::Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary as one instance of a cluster on `catalog` and `blobs`.
fn spawn_instance(
    catalog: &str,
    blobs: &str,
    openai: &str,
    data: &std::path::Path,
    port: u16,
) -> Instance {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .env("DATABASE_URL", catalog)
        .env("PIXZOO_STORAGE__BLOBS_URL", blobs)
        .env("PIXZOO_STORAGE__CLAIM_EXPIRY_SECS", "2")
        .env("OPENAI_API_KEY", fakes::openai::KEY)
        .env("OPENAI_BASE_URL", openai)
        .env("PIXZOO_PROMPT__PIPELINE", "off")
        .env("PIXZOO_ADDR", format!("127.0.0.1:{port}"))
        .env("PIXZOO_DATA_DIR", data)
        .env("PIXZOO_SECURITY__REQUESTS_PER_SECOND", "0")
        .env("PIXZOO_SECURITY__GENERATIONS_PER_MINUTE", "0")
        .env("PIXZOO_SECURITY__DERIVATIVES_PER_MINUTE", "0")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    Instance(child)
}

async fn wait_healthy(base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !matches!(client().get(format!("{base}/healthz")).send().await, Ok(r) if r.status().is_success())
    {
        assert!(std::time::Instant::now() < deadline, "{base} did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn work_claimed_by_a_killed_instance_is_taken_over() {
    let openai = fakes::openai::start().await;
    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = spawn_instance(&catalog, &blobs, &openai.base, dir_a.path(), port_a);
    let _b = spawn_instance(&catalog, &blobs, &openai.base, dir_b.path(), port_b);
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    wait_healthy(&base_a).await;
    wait_healthy(&base_b).await;

    let path = "/1024x1024/a-very-slow-doomed-fox?model=dall-e-3";
    let doomed = tokio::spawn(client().get(format!("{base_a}{path}")).send());
    // A has claimed the work and is waiting on the provider when it dies.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while openai.calls.count("prompt:a-very-slow-doomed-fox") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "A never called the provider"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    assert!(doomed.await.unwrap().is_err(), "A died before answering");

    let started = std::time::Instant::now();
    let answer = client()
        .get(format!("{base_b}{path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "B waited for A's claim to expire"
    );
    assert_eq!(openai.calls.count("prompt:a-very-slow-doomed-fox"), 2);
    let id = header(&answer, "x-image-id").to_owned();
    let bytes = answer.bytes().await.unwrap();

    // One row, whose blob is whole.
    let listed: serde_json::Value = client()
        .get(format!("{base_b}/api/images"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["images"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["images"][0]["id"], id.as_str());
    let original = client()
        .get(format!("{base_b}/img/{id}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(original, bytes);
    assert!(
        common::dimensions(&original) == (1024, 1024),
        "the stored original decodes whole"
    );
}

/// Two instances on fresh shared storage, generating through the OpenAI fake, configured by `tune`.
async fn pair_with(
    openai: &str,
    tune: impl Fn(&mut Config),
) -> (Vec<TestServer>, [tempfile::TempDir; 2]) {
    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut servers = Vec::new();
    for dir in &dirs {
        let mut config = shared(&catalog, &blobs, dir.path());
        config.providers.openai.api_key = Secret::new(fakes::openai::KEY);
        config.providers.openai.base_url = openai.to_owned();
        config.prompt.pipeline = PipelineChoice::Off;
        tune(&mut config);
        servers.push(TestServer::with_config(config).await);
    }
    (servers, dirs)
}

#[tokio::test]
async fn a_daily_budget_holds_across_instances() {
    let openai = fakes::openai::start().await;
    let (servers, _dirs) = pair_with(&openai.base, |config| {
        config.security.daily_budget = [("openai".to_owned(), 2)].into_iter().collect();
    })
    .await;
    let (a, b) = (&servers[0], &servers[1]);
    // Two images from OpenAI, one through each instance: the day's budget of two is spent for both.
    assert_eq!(
        a.get("/1024x1024/budget-one?model=dall-e-3").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        b.get("/1024x1024/budget-two?model=dall-e-3").await.status(),
        StatusCode::OK
    );
    for server in [a, b] {
        let refused = server.get("/1024x1024/budget-three?model=dall-e-3").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let body = refused.text().await.unwrap();
        assert!(body.contains("budget"), "{body}");
    }
    assert_eq!(openai.calls.count("images"), 2);
    // The builtin renderer has no budget.
    assert_eq!(
        a.get("/64x64/free?model=builtin").await.status(),
        StatusCode::OK
    );
    for server in servers {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_generation_limit_holds_across_instances() {
    let openai = fakes::openai::start().await;
    let (servers, _dirs) = pair_with(&openai.base, |config| {
        config.security.generations_per_minute = 3;
        config.security.generation_burst = 3;
    })
    .await;
    let (a, b) = (&servers[0], &servers[1]);
    // Three new images a minute for this client, wherever they are asked for.
    assert_eq!(a.get("/64x64/limit-one").await.status(), StatusCode::OK);
    assert_eq!(b.get("/64x64/limit-two").await.status(), StatusCode::OK);
    assert_eq!(a.get("/64x64/limit-three").await.status(), StatusCode::OK);
    for server in [a, b] {
        let refused = server.get("/64x64/limit-four").await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(header(&refused, "retry-after").parse::<u64>().unwrap() >= 1);
    }
    // Stored images are not limited.
    assert_eq!(b.get("/64x64/limit-one").await.status(), StatusCode::OK);
    for server in servers {
        server.stop().await;
    }
}

/// A PostgreSQL of this test's own (scripts/services.sh), to stop and start again.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn run(&self, step: &str) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("source {script} && {step} \"$0\" \"$1\""))
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "{step} failed");
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let own = Self {
            dir,
            port: free_port(),
        };
        own.run("postgres_start");
        own
    }

    fn url(&self) -> String {
        format!("postgres://pixzoo@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.run("postgres_stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_is_503_meanwhile_and_loses_nothing() {
    let postgres = OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let server =
        TestServer::with_config(shared(&postgres.url(), &testing::s3_url(), dir.path())).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let felt = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Light load: a new image every few milliseconds, and the stored ones asked for again.
    let load = {
        let (base, stop, felt) = (server.base.clone(), stop.clone(), felt.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut acknowledged: Vec<(String, bytes::Bytes)> = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                let path = if i % 2 == 0 || acknowledged.is_empty() {
                    format!("/96x64/restart-{i}")
                } else {
                    format!("/img/{}", acknowledged[i % acknowledged.len()].0)
                };
                let response = client()
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .expect("the server answers while its database is away");
                let status = response.status();
                let retry_after = header(&response, "retry-after").to_owned();
                let id = header(&response, "x-image-id").to_owned();
                let body = response.bytes().await.unwrap_or_default();
                if status == StatusCode::OK && path.starts_with("/96x64") {
                    acknowledged.push((id, body));
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    felt.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                answers.push((path, status, retry_after));
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            (answers, acknowledged)
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    postgres.run("postgres_stop");
    // Down until the load has been answered 503 (a request waits up to 2 s for a connection first),
    // however slowly this machine gets there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while felt.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no request was answered 503 while the database was down"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    postgres.run("postgres_resume");
    // Recovered without a restart: new images are made again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let response = server.get("/96x64/after-the-restart").await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (answers, acknowledged) = load.await.unwrap();

    let unavailable = answers
        .iter()
        .filter(|(_, status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(unavailable > 0, "the restart was felt");
    for (path, status, retry_after) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {status}"
        );
        if *status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(!retry_after.is_empty(), "{path}: 503 without Retry-After");
        }
    }
    assert!(acknowledged.len() > 2);
    for (id, bytes) in &acknowledged {
        let again = server.get(&format!("/img/{id}")).await;
        assert_eq!(again.status(), StatusCode::OK, "{id}");
        assert_eq!(&again.bytes().await.unwrap(), bytes, "{id}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_a_single_box_to_the_cluster_byte_for_byte() {
    // A single box: SQLite and a local directory, with images and a derivative.
    let single = tempfile::tempdir().unwrap();
    let server = TestServer::start(single.path()).await;
    let mut originals = Vec::new();
    for path in [
        "/320x200/moving-day",
        "/200x200/another-box",
        "/64x64/a-third",
    ] {
        let made = server.get(path).await;
        assert_eq!(made.status(), StatusCode::OK);
        let id = header(&made, "x-image-id").to_owned();
        let original = server
            .get(&format!("/img/{id}"))
            .await
            .bytes()
            .await
            .unwrap();
        originals.push((id, original));
    }
    let derivative = format!("/img/{}/width=100,format=webp", originals[0].0);
    let small = server.get(&derivative).await.bytes().await.unwrap();
    server.stop().await;

    let (catalog, blobs) = (testing::postgres_database().await, testing::s3_url());
    let migrate = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pixzoo"))
            .args(["migrate", "--to-blobs", &blobs, "--derivatives"])
            // In the environment, as its password would be on `ps` as an argument.
            .env("MIGRATE_TO_CATALOG", &catalog)
            .env("PIXZOO_DATA_DIR", single.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let first = migrate();
    assert!(
        first.contains("3 images copied, 0 already there, 1 derivatives"),
        "{first}"
    );
    let again = migrate();
    assert!(
        again.contains("0 images copied, 3 already there"),
        "resumable: {again}"
    );

    let dir = tempfile::tempdir().unwrap();
    let cluster = TestServer::with_config(shared(&catalog, &blobs, dir.path())).await;
    for (id, original) in &originals {
        let served = cluster.get(&format!("/img/{id}")).await;
        assert_eq!(served.status(), StatusCode::OK, "{id}");
        assert_eq!(
            &served.bytes().await.unwrap(),
            original,
            "{id} byte for byte"
        );
    }
    let copied = cluster.get(&derivative).await;
    assert_eq!(
        header(&copied, "x-cache"),
        "HIT",
        "the derivative came along"
    );
    assert_eq!(copied.bytes().await.unwrap(), small);
    // The same URL is the same stored image.
    let again = cluster.get("/320x200/moving-day").await;
    assert_eq!(header(&again, "x-cache"), "HIT");
    assert_eq!(header(&again, "x-image-id"), originals[0].0);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_studio_job_started_on_one_instance_is_followed_on_another() {
    let openai = fakes::openai::start().await;
    let (servers, _dirs) = pair_with(&openai.base, |_| {}).await;
    let (a, b) = (&servers[0], &servers[1]);
    let started: serde_json::Value = client()
        .post(a.url("/sfn/start_generation"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("form[prompt]=a+slow+studio+heron&form[model]=dall-e-3&form[width]=1024&form[height]=1024&form[translate]=false")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = started["Job"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let poll = |server: &TestServer| {
        let url = server.url("/sfn/generation_status");
        let job = job.clone();
        async move {
            client()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("job={job}"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    // In progress, seen through the instance that does not run it.
    let early = poll(b).await;
    assert!(early.is_object(), "B knows the job: {early}");
    assert!(early["result"].is_null(), "{early}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let done = loop {
        let view = poll(b).await;
        if !view["result"].is_null() {
            break view;
        }
        assert!(view["error"].is_null(), "{view}");
        assert!(
            std::time::Instant::now() < deadline,
            "never finished: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done, poll(a).await, "both instances say the same");
    assert_eq!(openai.calls.count("prompt:a-slow-studio-heron"), 1);
    let unknown = client()
        .post(b.url("/sfn/generation_status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("job=no-such-job")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(unknown.is_null());
    for server in servers {
        server.stop().await;
    }
}
