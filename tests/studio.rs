//! The studio's form posts and sign-in, over real HTTP: what a browser without JavaScript sends, and the
//! session cookie that stands in for the API key.

mod common;

use common::{config, header, TestServer};
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
    assert!(back.ends_with("&error=size"), "{back}");
    let page = browser().get(server.url(&back)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Size: 99999×10 is out of range"), "{html}");
    assert!(html.contains(">too wide</textarea>"));

    // Only the server's own codes are shown: a link cannot put words on the page.
    let planted = "/?prompt=a%20fox&error=Your%20key%20expired%3A%20sign%20in%20at%20evil.example";
    let html = browser()
        .get(server.url(planted))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(">a fox</textarea>"));
    assert!(!html.contains("evil.example"), "planted text is not shown");
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
    assert!(
        location(&refused).ends_with("&error=sign%2Din"),
        "{}",
        location(&refused)
    );
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

#[tokio::test]
async fn over_tls_the_session_is_a_host_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    let server = TestServer::with_config(settings.clone()).await;
    // Without a trusted proxy configured, anyone could send X-Forwarded-Proto: it is not believed.
    let plain = browser()
        .post(server.url("/auth/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("key", KEY)])
        .send()
        .await
        .unwrap();
    let set_cookie = plain.headers()[SET_COOKIE].to_str().unwrap();
    assert!(set_cookie.starts_with("pixzoo_session="), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    server.stop().await;

    settings.security.client_ip_header = "x-forwarded-for".into();
    let server = TestServer::with_config(settings).await;
    let tls = |request: reqwest::RequestBuilder| request.header("x-forwarded-proto", "https");
    let signed_in = tls(browser().post(server.url("/auth/sign-in")))
        .form(&[("key", KEY)])
        .send()
        .await
        .unwrap();
    let set_cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set_cookie.starts_with("__Host-pixzoo_session="),
        "{set_cookie}"
    );
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();

    let signed_in_as = |cookie: String, over_tls: bool| {
        let mut request = browser()
            .post(server.url("/sfn/studio_setup"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(COOKIE, cookie);
        if over_tls {
            request = tls(request);
        }
        async move {
            let setup: Value = request.send().await.unwrap().json().await.unwrap();
            setup["access"]["signed_in"].as_bool().unwrap()
        }
    };
    assert!(signed_in_as(cookie.clone(), true).await);
    // Over TLS only the __Host- cookie counts: a plain one could have been planted over HTTP.
    assert!(!signed_in_as(format!("pixzoo_session={token}"), true).await);

    let out = tls(browser().post(server.url("/auth/sign-out")))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("__Host-pixzoo_session=;"), "{cleared}");
    assert!(cleared.contains("Secure"), "{cleared}");
    assert!(!signed_in_as(cookie, true).await);
    server.stop().await;
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    let server = TestServer::with_config(settings).await;
    let own = server.base.clone();
    let signed_in = browser()
        .post(server.url("/auth/sign-in"))
        .header("origin", &own)
        .form(&[("key", KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "same origin passes"
    );
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();

    let from = |path: &str, origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = browser()
            .post(server.url(path))
            .header(COOKIE, &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("key=studio-test-key-5a1e&prompt=a+forged+fox&width=64&height=64&id=x");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    // `/api/uploads` takes the session cookie too, so it is inside the same rule.
    for path in [
        "/auth/sign-out",
        "/auth/sign-in",
        "/studio/generate",
        "/sfn/delete_image",
        "/api/uploads",
    ] {
        let refused = from(path, Some("https://evil.example"), None)
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(refused.headers().get(SET_COOKIE).is_none(), "{path}");
        let refused = from(path, Some("null"), Some("cross-site")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        let refused = from(path, Some("http://127.0.0.1.evil.example"), None)
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        let refused = from(path, None, Some("same-site")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        access(&server, Some(&cookie)).await["signed_in"],
        true,
        "still signed in"
    );
    assert!(server.recent(10).await.unwrap().is_empty());

    let made = from("/studio/generate", Some(&own), Some("same-origin"))
        .await
        .unwrap();
    assert!(
        location(&made).starts_with("/gallery/"),
        "{}",
        location(&made)
    );
    // Behind a TLS proxy the browser's origin is https while the server sees plain HTTP: the host decides.
    let tls_proxy = own.replace("http://", "https://");
    let made = from("/studio/generate", Some(&tls_proxy), None)
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    // A page whose referrer policy hides its origin sends `null`, with the fetch metadata that it is ours.
    let made = from("/studio/generate", Some("null"), Some("same-origin"))
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}

/// A studio page is made for whoever asked: no shared cache may keep a signed-in one, and an anonymous
/// one is checked again each time. (On several threads, as the server runs: a signed-in page's
/// render does not finish on a single-threaded test runtime.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn studio_pages_say_how_a_cache_may_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    let server = TestServer::with_config(settings).await;
    let signed_in = post_form(&server, "/auth/sign-in", &[("key", KEY)], None).await;
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    for path in ["/", "/gallery", "/sign-in", "/no-such-page"] {
        let anonymous = browser().get(server.url(path)).send().await.unwrap();
        assert_eq!(header(&anonymous, "cache-control"), "no-cache", "{path}");
        let owner = browser()
            .get(server.url(path))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&owner, "cache-control"),
            "private, no-store",
            "{path}"
        );
    }
    // Images and the bundle keep their own rules.
    let image = server.get("/64x64/a-cached-heron").await;
    assert!(header(&image, "cache-control").contains("public"));
    server.stop().await;
}

#[tokio::test]
async fn the_gallery_refuses_an_over_long_search_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(config(dir.path())).await;
    let gallery = |search: String| {
        browser()
            .post(server.url("/sfn/gallery_page"))
            .form(&[("search", search.as_str()), ("model", "")])
            .send()
    };
    let found = gallery("fox".into()).await.unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    let refused = gallery("fox ".repeat(5_000)).await.unwrap();
    assert!(!refused.status().is_success());
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("longer than 200 characters"),
        "the gallery shows why: {body}"
    );
}

#[tokio::test]
async fn wrong_keys_slow_their_address_while_another_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new(KEY);
    // Behind a proxy, so the test can speak from two addresses.
    settings.security.client_ip_header = "x-forwarded-for".into();
    let server = TestServer::with_config(settings).await;
    let sign_in = |from: &'static str, key: &'static str| {
        browser()
            .post(server.url("/auth/sign-in"))
            .header("x-forwarded-for", from)
            .form(&[("key", key), ("next", "/")])
            .send()
    };

    for _ in 0..5 {
        let wrong = sign_in("203.0.113.7", "wrong-key").await.unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::SEE_OTHER,
            "typing mistakes are free"
        );
        assert_eq!(location(&wrong), "/sign-in?failed=1&next=%2F");
    }
    // Past them the address waits, doubling with each wrong key; a guess in the wait is not tried.
    let mut refused = None;
    for _ in 0..4 {
        let answer = sign_in("203.0.113.7", "wrong-key").await.unwrap();
        if answer.headers().contains_key("retry-after") {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("repeated wrong keys are refused");
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(refused.headers().get(SET_COOKIE).is_none());
    // Back to the page, which says how long to wait.
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&refused), format!("/sign-in?wait={wait}&next=%2F"));
    let right_in_the_wait = sign_in("203.0.113.7", KEY).await.unwrap();
    assert!(right_in_the_wait.headers().get(SET_COOKIE).is_none());
    assert!(location(&right_in_the_wait).starts_with("/sign-in?wait="));

    let elsewhere = sign_in("198.51.100.1", KEY).await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&elsewhere), "/");
    assert!(elsewhere.headers().get(SET_COOKIE).is_some());
}
