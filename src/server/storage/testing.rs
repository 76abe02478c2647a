//! Fresh backends for tests, on the PostgreSQL and S3-compatible servers that `make test` starts
//! (`scripts/with-services.sh` names them in `TEST_DATABASE_URL` and `TEST_S3_BUCKET`). Each call makes
//! its own database or key prefix, so tests never see each other's rows or blobs.

use sqlx::{Connection, Executor};

use super::BlobStore;

fn service(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with `make test`, or under scripts/with-services.sh, \
             which start PostgreSQL and SeaweedFS for them"
        )
    })
}

/// The URL of a new, empty database on the test PostgreSQL server.
pub async fn postgres_database() -> String {
    let admin = service("TEST_DATABASE_URL");
    let name = format!("pixzoo_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("the test PostgreSQL answers");
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("a test database is created");
    let (server, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL ends in a database name");
    format!("{server}/{name}")
}

/// `s3://BUCKET/PREFIX` for a new, empty prefix in the test bucket.
pub fn s3_url() -> String {
    format!(
        "s3://{}/test-{}",
        service("TEST_S3_BUCKET"),
        uuid::Uuid::now_v7().simple()
    )
}

/// A blob store under a new prefix of the test bucket.
pub fn s3_blobs() -> BlobStore {
    let bucket = service("TEST_S3_BUCKET");
    BlobStore::s3(&bucket, &format!("test-{}", uuid::Uuid::now_v7().simple()))
        .expect("the test S3 store opens")
}
