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
        .env("PIXZOO_SIGNING_KEY", "cli-key-1, cli-key-0")
        .args(["sign", "http://img.example/800x600/a-sloth?seed=4"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let signed = String::from_utf8(output.stdout).unwrap();
    let signed = signed.trim();
    let rest = signed.strip_prefix("http://img.example").unwrap();
    let (path, query) = rest.split_once('?').unwrap();
    let sig = query.split("sig=").nth(1).unwrap();
    let keys = [pixzoo::server::secret::Secret::new("cli-key-1")];
    assert!(pixzoo::server::guard::signing::verify(
        &keys,
        path,
        Some(query),
        sig
    ));

    let (code, stderr) = pixzoo(&[], &["sign", "/64x64/cat"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no signing key"), "{stderr}");
}
