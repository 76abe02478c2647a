//! The binary itself: bad configuration stops start-up with a message naming the key, never a panic.
#![cfg(feature = "ssr")]

use std::process::Command;

fn pixzoo(envs: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Environment, arguments, and what the error must mention.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

#[test]
fn bad_configuration_names_the_key_and_exits_cleanly() {
    let cases: &[Case] = &[
        (&[("PIXZOO_ADDR", "nowhere")], &[], "server.addr"),
        (
            &[("PIXZOO_LIMITS__MAX_WIDTH", "0")],
            &[],
            "limits.max_width",
        ),
        (
            &[("PIXZOO_DEFAULT_MODEL", "ghost")],
            &[],
            "catalog.default_model",
        ),
        (&[("API_KEY", "hunter2")], &[], "at least 16"),
        (
            &[("PIXZOO_METRICS_TOKEN", "hunter2")],
            &[],
            "security.metrics_token",
        ),
        (
            &[],
            &["--config", "/nonexistent/pixzoo.toml"],
            "/nonexistent/pixzoo.toml",
        ),
    ];
    for (envs, args, needle) in cases {
        let (code, stderr) = pixzoo(envs, args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "a key is never printed: {stderr}"
        );
    }
}

#[test]
fn an_address_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let (code, stderr) = pixzoo(
        &[
            ("PIXZOO_ADDR", &addr),
            ("PIXZOO_DATA_DIR", data.path().to_str().unwrap()),
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&addr) && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn sign_prints_a_url_the_server_accepts_and_needs_a_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .env(
            "PIXZOO_SIGNING_KEY",
            "cli-key-1-0123456789ab, cli-key-0-0123456789ab",
        )
        .args(["sign", "http://img.example/800x600/a-sloth?seed=4"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let signed = String::from_utf8(output.stdout).unwrap();
    let signed = signed.trim();
    let rest = signed.strip_prefix("http://img.example").unwrap();
    let (path, query) = rest.split_once('?').unwrap();
    let sig = query.split("sig=").nth(1).unwrap();
    let keys = [pixzoo::server::secret::Secret::new(
        "cli-key-1-0123456789ab",
    )];
    assert!(pixzoo::server::guard::signing::verify(
        &keys,
        path,
        Some(query),
        sig
    ));

    // Words outside ASCII come out as a browser sends them, and verify that way.
    let output = Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .env("PIXZOO_SIGNING_KEY", "cli-key-1-0123456789ab")
        .args(["sign", "/800x600/café"])
        .output()
        .unwrap();
    let signed = String::from_utf8(output.stdout).unwrap();
    let (path, query) = signed.trim().split_once('?').unwrap();
    assert_eq!(path, "/800x600/caf%C3%A9");
    let sig = query.strip_prefix("sig=").unwrap();
    for sent in ["/800x600/caf%C3%A9", "/800x600/café"] {
        assert!(pixzoo::server::guard::signing::verify(
            &keys, sent, None, sig
        ));
    }

    let (code, stderr) = pixzoo(&[], &["sign", "/64x64/cat"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no signing key"), "{stderr}");
}

#[test]
fn a_paid_provider_with_an_open_door_is_warned_about_once_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    // The start-up stops at the taken address, after the warning.
    let start = |extra: &[(&str, &str)]| {
        let mut envs = vec![
            ("PIXZOO_ADDR", addr.as_str()),
            ("PIXZOO_DATA_DIR", data),
            ("REPLICATE_API_TOKEN", "r8_cli_warning_token"),
        ];
        envs.extend_from_slice(extra);
        let (code, stderr) = pixzoo(&envs, &[]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(!stderr.contains("r8_cli_warning_token"), "{stderr}");
        stderr
    };

    let stderr = start(&[]);
    assert_eq!(
        stderr.matches("paid providers are reachable").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("no API_KEY: POST /api/image"), "{stderr}");
    assert!(stderr.contains("no signing key"), "{stderr}");

    let stderr = start(&[("PIXZOO_SIGNING_KEY", "cli-warning-sig-0123456789ab")]);
    assert!(stderr.contains("no API_KEY"), "{stderr}");
    assert!(!stderr.contains("no signing key"), "{stderr}");

    let stderr = start(&[("API_KEY", "cli-warning-key-0123456789")]);
    assert!(!stderr.contains("no API_KEY"), "{stderr}");
    assert!(stderr.contains("no signing key"), "{stderr}");

    let stderr = start(&[
        ("API_KEY", "cli-warning-key-0123456789"),
        ("PIXZOO_SIGNING_KEY", "cli-warning-sig-0123456789ab"),
    ]);
    assert!(!stderr.contains("paid providers are reachable"), "{stderr}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_can_have_a_listener_of_their_own() {
    let (main, metrics) = (free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .current_dir(data.path())
        .env_remove("RUST_LOG")
        .env("PIXZOO_ADDR", format!("127.0.0.1:{main}"))
        .env("PIXZOO_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
        .env("PIXZOO_DATA_DIR", data.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = |port: u16| -> Option<u16> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.split(' ').nth(1)?.parse().ok()
    };
    let started = std::time::Instant::now();
    while status(main).is_none() && started.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (on_main, on_own) = (status(main), status(metrics));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(on_own, Some(200));
    assert_eq!(
        on_main,
        Some(404),
        "the main listener no longer serves metrics"
    );
}

/// `GET path` on a connection of its own: the status and the `x-request-id` answered.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let id = answer
        .lines()
        .find_map(|line| line.strip_prefix("x-request-id: "))?
        .to_owned();
    Some((status, id))
}

#[test]
fn the_log_is_plain_text_written_while_serving_and_whole_at_the_end() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .current_dir(data.path())
        .env("RUST_LOG", "info")
        .env("PIXZOO_ADDR", format!("127.0.0.1:{port}"))
        .env("PIXZOO_DATA_DIR", data.path())
        .env("PIXZOO_SECURITY__REQUESTS_PER_SECOND", "0")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let first = loop {
        if let Some(answer) = get(port, "/healthz") {
            break answer;
        }
        assert!(std::time::Instant::now() < deadline, "{}", logged());
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(first.0, 200);

    // Written while the server runs, not only when it stops.
    while !logged().contains(&first.1) {
        assert!(std::time::Instant::now() < deadline, "{}", logged());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Every line of a burst, once each, by the time the server has stopped.
    let ids: Vec<String> = (0..300)
        .map(|n| get(port, &format!("/no-such-page-{n}")).unwrap().1)
        .collect();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
    let text = logged();
    assert!(!text.contains('\u{1b}'), "no colour codes into a file");
    for (n, id) in ids.iter().enumerate() {
        let field = format!("id=\"{id}\"");
        let lines: Vec<&str> = text.lines().filter(|line| line.contains(&field)).collect();
        assert_eq!(lines.len(), 1, "{id}: {lines:?}");
        assert!(
            lines[0].contains(" INFO ")
                && lines[0].contains(&format!("path=\"/no-such-page-{n}\""))
                && lines[0].contains("status=404"),
            "{}",
            lines[0]
        );
    }
}

#[test]
fn migrate_reads_the_new_catalog_from_the_environment_or_a_file_not_a_password_argument() {
    let (data, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data_dir = ("PIXZOO_DATA_DIR", data.path().to_str().unwrap());
    let blobs = format!("file://{}", to.path().join("blobs").display());
    let migrate = |envs: &[(&str, &str)], args: &[&str]| {
        let mut all = vec!["migrate", "--to-blobs", blobs.as_str()];
        all.extend_from_slice(args);
        pixzoo(envs, &all)
    };

    let (code, stderr) = migrate(
        &[data_dir],
        &[
            "--to-catalog",
            "postgres://pixzoo:hunter2@127.0.0.1:1/pixzoo",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("MIGRATE_TO_CATALOG") && stderr.contains("--to-catalog-file"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let (code, stderr) = migrate(&[data_dir], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("MIGRATE_TO_CATALOG"), "{stderr}");

    let file = to.path().join("catalog-url");
    let from_file = to.path().join("from-file.db");
    std::fs::write(&file, format!("sqlite://{}\n", from_file.display())).unwrap();
    let (code, stderr) = migrate(&[data_dir], &["--to-catalog-file", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(from_file.exists());

    let from_env = to.path().join("from-env.db");
    let url = format!("sqlite://{}", from_env.display());
    let (code, stderr) = migrate(&[data_dir, ("MIGRATE_TO_CATALOG", &url)], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(from_env.exists());
}
