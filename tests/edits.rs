//! Uploads and edits through every face, over loopback HTTP with the builtin provider (so this runs
//! offline): `POST /api/uploads`, `POST /api/image` with `image`/`mask`/`strength`, the OpenAI
//! `/v1/images/edits` and `/variations` forms, and `/{W}x{H}/{slug}?image=`. The providers' edit wire
//! formats are tests/providers.rs.
#![cfg(feature = "ssr")]

mod common;
mod fakes;

use base64::Engine as _;
use common::{client, config, dimensions, header, TestServer};
use pixzoo::server::guard::signing::sign_url;
use pixzoo::server::secret::Secret;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            rgb[0].wrapping_add(x as u8),
            rgb[1].wrapping_add(y as u8),
            rgb[2],
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// White (change) on the left half, black (keep) on the right.
fn mask(width: u32, height: u32) -> Vec<u8> {
    let image = image::GrayImage::from_fn(width, height, |x, _| {
        image::Luma([if x < width / 2 { 255 } else { 0 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn data_uri(bytes: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

async fn upload_raw(server: &TestServer, bytes: Vec<u8>, content_type: &str) -> reqwest::Response {
    client()
        .post(server.url("/api/uploads"))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn upload_file(server: &TestServer, bytes: Vec<u8>, name: &str) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    client()
        .post(server.url("/api/uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn uploaded(server: &TestServer, bytes: Vec<u8>) -> String {
    let (status, body) = json_of(upload_raw(server, bytes, "image/png").await).await;
    assert!(status.is_success(), "{status}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn image_api(server: &TestServer, body: Value) -> (StatusCode, Value) {
    json_of(
        client()
            .post(server.url("/api/image"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn uploads_are_stored_once_served_transformed_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let photo = png(120, 80, [10, 20, 30]);

    let (status, first) = json_of(upload_file(&server, photo.clone(), "holiday.png").await).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["kind"], "upload");
    assert_eq!(first["prompt"], "holiday", "the file name is its caption");
    assert_eq!(
        (
            first["width"].as_u64(),
            first["height"].as_u64(),
            first["format"].as_str()
        ),
        (Some(120), Some(80), Some("png"))
    );
    assert_eq!(first["url"], format!("/img/{id}"));

    // The same bytes again, raw this time: the same upload.
    let (status, again) = json_of(upload_raw(&server, photo.clone(), "image/png").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);

    // Served as an original, transformed like any image, pixel for pixel what was sent (PNG).
    let original = server.get(&format!("/img/{id}")).await;
    assert_eq!(original.status(), StatusCode::OK);
    let served = image::load_from_memory(&original.bytes().await.unwrap()).unwrap();
    assert_eq!(
        served.to_rgb8(),
        image::load_from_memory(&photo).unwrap().to_rgb8()
    );
    let small = server.get(&format!("/img/{id}/width=60,format=webp")).await;
    assert_eq!(small.status(), StatusCode::OK);
    assert_eq!(dimensions(&small.bytes().await.unwrap()), (60, 40));

    // Listed under its kind, not under the others.
    let (_, uploads) = json_of(server.get("/api/images?kind=upload").await).await;
    assert_eq!(uploads["images"][0]["id"], first["id"]);
    let (_, generated) = json_of(server.get("/api/images?kind=generated").await).await;
    assert_eq!(generated["images"].as_array().unwrap().len(), 0);
    let (status, bad) = json_of(server.get("/api/images?kind=uploaded").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let deleted = client()
        .delete(server.url(&format!("/api/images/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get(&format!("/img/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn uploads_refuse_what_is_not_an_image_or_over_the_limits_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.limits.max_upload_bytes = 40_000;
    settings.limits.max_upload_pixels = 100 * 100;
    let server = TestServer::with_config(settings).await;
    let error = |body: Value| body["error"].as_str().unwrap_or_default().to_owned();

    let (status, body) =
        json_of(upload_raw(&server, b"GIF89a not ours".to_vec(), "image/gif").await).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error(body).contains("not a PNG, JPEG or WebP"));

    let (status, body) =
        json_of(upload_raw(&server, png(101, 100, [0, 0, 0]), "image/png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error(body).contains("101x100"), "names the size");

    // A header claiming 100000² pixels is refused from the header, before anything is decoded.
    let bomb = fakes::png_bomb(100_000, 100_000);
    let (status, body) = json_of(upload_raw(&server, bomb, "image/png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error(body).contains("max_upload_pixels"));

    let noise: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let (status, body) = json_of(upload_raw(&server, noise.clone(), "image/png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error(body).contains("max_upload_bytes"));
    let (status, _) = json_of(upload_file(&server, noise, "big.png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, body) = json_of(upload_raw(&server, Vec::new(), "image/png").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(body).contains("empty"));
    let mut torn = png(50, 50, [1, 2, 3]);
    torn.truncate(torn.len() / 2);
    let (status, body) = json_of(upload_raw(&server, torn, "image/png").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(body).contains("not a whole image"));
    let (status, body) =
        json_of(upload_raw(&server, png(4, 4, [0, 0, 0]), "text/plain").await).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error(body).contains("multipart/form-data"));
    let form = Form::new().text("name", "no file here");
    let response = client()
        .post(server.url("/api/uploads"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(body).contains("`file`"));
    assert!(
        server.recent(10).await.unwrap().is_empty(),
        "nothing stored"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_exif_rotated_photo_is_stored_upright_without_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let (status, body) =
        json_of(upload_file(&server, common::sideways_jpeg(), "portrait.jpg").await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["width"].as_u64(), body["height"].as_u64()),
        (Some(16), Some(24))
    );
    let id = body["id"].as_str().unwrap();
    let stored = server
        .get(&format!("/img/{id}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        !stored.windows(4).any(|w| w == b"Exif"),
        "metadata stripped"
    );
    let upright = image::load_from_memory(&stored).unwrap().to_rgb8();
    assert_eq!(upright.dimensions(), (16, 24));
    let (top, bottom) = (upright.get_pixel(8, 2).0, upright.get_pixel(8, 20).0);
    assert!(
        top[0] > 150 && bottom[2] > 150,
        "turned clockwise: {top:?} {bottom:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn uploading_needs_the_key_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.auth.api_key = Secret::new("upload-key-0123456789");
    let server = TestServer::with_config(settings).await;
    let anonymous = upload_raw(&server, png(8, 8, [0, 0, 0]), "image/png").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let keyed = client()
        .post(server.url("/api/uploads"))
        .bearer_auth("upload-key-0123456789")
        .header("content-type", "image/png")
        .body(png(8, 8, [0, 0, 0]))
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::CREATED);

    // The studio's file drop brings its session instead.
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.url("/auth/sign-in"))
        .form(&[("key", "upload-key-0123456789")])
        .send()
        .await
        .unwrap();
    let cookie = header(&signed_in, "set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let from_studio = client()
        .post(server.url("/api/uploads"))
        .header("cookie", cookie)
        .header("content-type", "image/png")
        .body(png(9, 9, [0, 0, 0]))
        .send()
        .await
        .unwrap();
    assert_eq!(from_studio.status(), StatusCode::CREATED);
    server.stop().await;
}

#[tokio::test]
async fn uploads_have_a_rate_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.uploads_per_minute = 1;
    settings.security.upload_burst = 2;
    let server = TestServer::with_config(settings).await;
    for i in 0..2 {
        let response = upload_raw(&server, png(8, 8, [i, 0, 0]), "image/png").await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let limited = upload_raw(&server, png(8, 8, [9, 0, 0]), "image/png").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!header(&limited, "retry-after").is_empty());
    // What is stored already costs nothing.
    let again = upload_raw(&server, png(8, 8, [0, 0, 0]), "image/png").await;
    assert_eq!(again.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn api_image_edits_a_stored_image_once_and_records_its_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let source_png = png(96, 64, [40, 90, 140]);
    let source = uploaded(&server, source_png.clone()).await;
    let edit = |extra: Value| {
        let mut body = json!({
            "messages": [{"role": "user", "content": "a stormy sea"}],
            "model": "builtin",
            "image": source,
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (status, first) = image_api(&server, edit(json!({"strength": 0.5}))).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["cached"], false);
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(96), Some(64)),
        "the source's size when none is asked"
    );
    let (_, again) = image_api(&server, edit(json!({"strength": 0.5}))).await;
    assert_eq!(
        (again["cached"].as_bool(), &again["id"]),
        (Some(true), &first["id"])
    );
    let (_, stronger) = image_api(&server, edit(json!({"strength": 0.9}))).await;
    assert_ne!(
        stronger["id"], first["id"],
        "the strength is part of the key"
    );

    let (_, info) = json_of(
        server
            .get(&format!("/api/images/{}", first["id"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(info["kind"], "edit");
    assert_eq!(info["source_id"], source.as_str());
    assert_eq!(info["strength"], 0.5);
    assert_eq!(info["mask_id"], Value::Null);

    // The same picture as a data URI is the same source: the same edit, from the store.
    let (_, by_uri) = image_api(
        &server,
        edit(json!({"strength": 0.5, "image": data_uri(&source_png)})),
    )
    .await;
    assert_eq!(
        (by_uri["cached"].as_bool(), &by_uri["id"]),
        (Some(true), &first["id"])
    );

    // A mask, as a data URI of any size: a new image, which says which mask made it.
    let (status, masked) = image_api(
        &server,
        edit(json!({"mask": data_uri(&mask(48, 32)), "size": "96x64"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{masked}");
    let (_, masked_info) = json_of(
        server
            .get(&format!("/api/images/{}", masked["id"].as_str().unwrap()))
            .await,
    )
    .await;
    assert!(masked_info["mask_id"].is_string());
    assert_eq!(masked_info["strength"], 0.75, "the default strength");

    // No prompt: a variation.
    let (status, variation) = image_api(
        &server,
        json!({"messages": [], "model": "builtin", "image": source}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{variation}");
    assert_ne!(variation["id"], first["id"]);

    let (_, edits) = json_of(server.get("/api/images?kind=edit").await).await;
    assert_eq!(edits["images"].as_array().unwrap().len(), 4);
    server.stop().await;
}

#[tokio::test]
async fn api_image_edit_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let source = uploaded(&server, png(32, 32, [0, 0, 0])).await;
    let message = [json!({"role": "user", "content": "a cat"})];
    for (body, status, says) in [
        (
            json!({"messages": message, "image": "nope"}),
            400,
            "`image`: no stored image has id `nope`",
        ),
        (
            json!({"messages": message, "image": source, "mask": "nope"}),
            400,
            "`mask`: no stored image has id `nope`",
        ),
        (
            json!({"messages": message, "mask": source}),
            400,
            "send the image too",
        ),
        (
            json!({"messages": message, "strength": 0.5}),
            400,
            "send the image too",
        ),
        (
            json!({"messages": message, "image": source, "strength": 1.5}),
            400,
            "strength 1.5",
        ),
        (
            json!({"messages": message, "image": "https://example.com/a.png"}),
            400,
            "URLs are not fetched",
        ),
        (
            json!({"messages": message, "image": "data:image/png;base64,bm90IGFuIGltYWdl"}),
            415,
            "`image`: the upload is not a PNG",
        ),
        (
            json!({"messages": [], "image": source, "mask": source}),
            400,
            "needs a prompt",
        ),
        // A mask larger than its image is refused from its header, before it is decoded or stored.
        (
            json!({"messages": message, "image": source, "mask": data_uri(&mask(640, 32))}),
            400,
            "`mask`: it is 640x32, larger than the image it masks (32x32)",
        ),
    ] {
        let (got, answer) = image_api(&server, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{body}: {error}");
    }
    server.stop().await;
}

#[tokio::test]
async fn openai_edits_and_variations_take_multipart_forms() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let file = |bytes: Vec<u8>, name: &str| {
        Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("image/png")
            .unwrap()
    };
    let form = Form::new()
        .part("image", file(png(64, 64, [200, 10, 10]), "cat.png"))
        .part("mask", file(mask(64, 64), "mask.png"))
        .text("prompt", "a cat in a hat")
        .text("model", "builtin")
        .text("n", "2")
        .text("size", "32x32")
        .text("response_format", "url");
    let response = client()
        .post(server.url("/v1/images/edits"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_ne!(data[0]["url"], data[1]["url"], "n images, each its own");
    let url = data[0]["url"].as_str().unwrap();
    let path = &url[url.find("/img/").unwrap()..];
    assert_eq!(
        dimensions(&server.get(path).await.bytes().await.unwrap()),
        (32, 32)
    );

    let form = Form::new().part("image", file(png(40, 40, [1, 2, 3]), "dog.png"));
    let response = client()
        .post(server.url("/v1/images/variations"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b64 = body["data"][0]["b64_json"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(dimensions(&bytes), (40, 40), "the source's size for `auto`");

    // OpenAI's error shape, with the parameter named.
    let response = client()
        .post(server.url("/v1/images/edits"))
        .multipart(Form::new().text("prompt", "no image"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "image");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    server.stop().await;
}

#[tokio::test]
async fn a_url_edits_a_stored_image_and_is_cached_and_signed_like_any_new_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = config(dir.path());
    settings.security.signing_keys = Secret::new("edit-key-0123456789ab");
    let server = TestServer::with_config(settings).await;
    let source = uploaded(&server, png(80, 60, [0, 120, 0])).await;
    let path = format!("/40x30/a-red-barn?image={source}&strength=0.4");

    let unsigned = server.get(&path).await;
    assert_eq!(
        unsigned.status(),
        StatusCode::FORBIDDEN,
        "a new image needs a signature"
    );
    let signed = sign_url(&[Secret::new("edit-key-0123456789ab")], &path).unwrap();
    let made = server.get(&signed).await;
    assert_eq!(made.status(), StatusCode::OK);
    assert_eq!(header(&made, "x-cache"), "MISS");
    let id = header(&made, "x-image-id").to_owned();
    assert_eq!(dimensions(&made.bytes().await.unwrap()), (40, 30));
    let again = server.get(&path).await;
    assert_eq!(again.status(), StatusCode::OK, "stored: served unsigned");
    assert_eq!(header(&again, "x-cache"), "HIT");
    assert_eq!(header(&again, "x-image-id"), id);
    let record = server.state.engine.record(&id).await.unwrap().unwrap();
    assert_eq!(record.source_id.as_deref(), Some(source.as_str()));
    assert_eq!(record.strength, Some(40));
    // Its source deleted, the URL is refused as it would be unremembered: not answered from memory.
    let deleted = client()
        .delete(server.url(&format!("/api/images/{source}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.get(&path).await.status(), StatusCode::BAD_REQUEST);

    let bad = server.get("/40x30/a-red-barn?mask=abc").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

/// The OpenAI edits endpoint judges the mask against the image from its header before decoding it:
/// a small PNG can hold tens of megapixels (measured before: a 190 KB, 7000x7000 mask with a 64x64
/// image was decoded and answered 200 after 2 s of CPU).
#[tokio::test]
async fn openai_edits_refuse_a_mask_larger_than_the_image_before_decoding_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let file = |bytes: Vec<u8>, name: &str| {
        Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("image/png")
            .unwrap()
    };
    let form = Form::new()
        .part("image", file(png(64, 64, [200, 10, 10]), "cat.png"))
        .part("mask", file(mask(2000, 2000), "mask.png"))
        .text("prompt", "a cat in a hat")
        .text("model", "builtin");
    let response = client()
        .post(server.url("/v1/images/edits"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], "mask", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("2000x2000, larger than the image it masks (64x64)"),
        "{message}"
    );
    // Nothing was stored for it.
    let (_, images) = json_of(server.get("/api/images?limit=50").await).await;
    let stored = images["images"].as_array().unwrap();
    assert!(
        stored.iter().all(|i| i["width"] != 2000),
        "the mask was not stored: {images}"
    );
    server.stop().await;
}
