//! Several instances on one PostgreSQL catalog and one S3-compatible bucket (the servers `make test`
//! starts: scripts/with-services.sh), behaving as one.
#![cfg(feature = "ssr")]

mod common;

use common::{client, header, TestServer};
use pixzoo::server::config::Config;
use pixzoo::server::secret::Secret;
use pixzoo::server::storage::testing;
use reqwest::StatusCode;

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
