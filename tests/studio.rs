//! The studio's form posts and sign-in, over real HTTP: what a browser without JavaScript sends, and the
//! session cookie that stands in for the API key.

mod common;

use common::{config, TestServer};
use pixzoo::server::secret::Secret;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::Value;

const KEY: &str = "studio-test-key-5a1e";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn post_form(
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = browser().post(server.url(path)).form(form);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// What the `studio_setup` server function says this cookie may do.
async fn access(server: &TestServer, cookie: Option<&str>) -> Value {
    let mut request = browser()
        .post(server.url("/sfn/studio_setup"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let setup: Value = response.json().await.unwrap();
    setup["access"].clone()
}

#[tokio::test]
async fn signing_in_gives_a_session_cookie_that_survives_a_restart_until_signed_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    let server = TestServer::with_config(settings.clone()).await;

    let wrong = post_form(
        &server,
        "/auth/sign-in",
        &[("key", "nope"), ("next", "/gallery")],
        None,
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&wrong), "/sign-in?failed=1&next=%2Fgallery");
    assert!(wrong.headers().get(SET_COOKIE).is_none());

    // Another site is never a place to go back to.
    let right = post_form(
        &server,
        "/auth/sign-in",
        &[("key", KEY), ("next", "//evil.example/")],
        None,
    )
    .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/");
    let set_cookie = right.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("pixzoo_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains(KEY));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    assert_eq!(access(&server, None).await["signed_in"], false);
    assert_eq!(access(&server, Some(&cookie)).await["signed_in"], true);
    assert_eq!(
        access(&server, Some("pixzoo_session=forged")).await["signed_in"],
        false
    );

    // The catalog keeps sign-ins (as hashes) across a restart.
    server.stop().await;
    let server = TestServer::with_config(settings).await;
    assert_eq!(access(&server, Some(&cookie)).await["signed_in"], true);

    let out = post_form(&server, "/auth/sign-out", &[], Some(&cookie)).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("pixzoo_session=;"));
    assert_eq!(access(&server, Some(&cookie)).await["signed_in"], false);
    server.stop().await;
}

#[tokio::test]
async fn the_form_post_generates_and_lands_on_the_image_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let form = [
        ("prompt", "a plain form heron"),
        ("model", ""),
        ("width", "320"),
        ("height", "200"),
        ("steps", ""),
        ("seed", "5"),
        ("fixed_seed", "on"),
        ("translate", "on"),
    ];
    let response = post_form(&server, "/studio/generate", &form, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = location(&response);
    let id = page.strip_prefix("/gallery/").expect("the image page");
    let record = server.state.engine.record(id).await.unwrap().unwrap();
    assert_eq!((record.width, record.height, record.seed), (320, 200, 5));
    assert_eq!(record.prompt, "a plain form heron");

    let page = browser().get(server.url(&page)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("a plain form heron"));

    // Bad input goes back to the form with what was typed and the problem.
    let form = [("prompt", "too wide"), ("width", "99999"), ("height", "10")];
    let response = post_form(&server, "/studio/generate", &form, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert!(
        back.starts_with("/?prompt=too%20wide&width=99999&height=10"),
        "{back}"
    );
    assert!(
        back.contains("error=Size%3A%20width%2099999%20is%20out%20of%20range"),
        "{back}"
    );
    let page = browser().get(server.url(&back)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("width 99999 is out of range"));
    assert!(html.contains(">too wide</textarea>"));
    server.stop().await;
}

#[tokio::test]
async fn with_an_api_key_the_form_post_needs_a_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    let server = TestServer::with_config(settings).await;
    let form = [
        ("prompt", "a guarded fox"),
        ("width", "64"),
        ("height", "64"),
    ];

    let refused = post_form(&server, "/studio/generate", &form, None).await;
    assert!(location(&refused).contains("error=Sign%20in"));
    assert!(server.recent(10).await.unwrap().is_empty());

    let signed_in = post_form(&server, "/auth/sign-in", &[("key", KEY)], None).await;
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let made = post_form(&server, "/studio/generate", &form, Some(cookie)).await;
    assert!(
        location(&made).starts_with("/gallery/"),
        "{}",
        location(&made)
    );

    // The studio page never carries the key.
    let page = browser()
        .get(server.url("/"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert!(!page.text().await.unwrap().contains(KEY));
    server.stop().await;
}

#[tokio::test]
async fn rotating_the_api_key_ends_every_studio_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    let server = TestServer::with_config(settings.clone()).await;
    let signed_in = post_form(&server, "/auth/sign-in", &[("key", KEY)], None).await;
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(access(&server, Some(&cookie)).await["signed_in"], true);
    server.stop().await;

    // The key leaked and was replaced: a session opened with the old one is worth nothing now.
    settings.auth.api_key = Secret::new("studio-test-key-rotated-77");
    let server = TestServer::with_config(settings.clone()).await;
    assert_eq!(access(&server, Some(&cookie)).await["signed_in"], false);
    let form = [
        ("prompt", "a stale-session fox"),
        ("width", "64"),
        ("height", "64"),
    ];
    let refused = post_form(&server, "/studio/generate", &form, Some(&cookie)).await;
    assert!(
        !location(&refused).starts_with("/gallery/"),
        "{}",
        location(&refused)
    );
    assert!(server.recent(10).await.unwrap().is_empty());
    server.stop().await;
}
