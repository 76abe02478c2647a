//! `/pkg/*`: the browser bundle. The hashed files (`assets::Bundle`) are read once at start-up, with
//! the `.br` and `.gz` copies the release build made, and answered from memory: a hashed name never
//! changes, so there is nothing to check on disk. Anything else under `/pkg` (a build without
//! hashing) comes from disk through `ServeDir`, revalidated each time. Not a crate for the memory
//! part: memory-serve and rust-embed embed files at compile time, and the site is built beside the
//! binary, not into it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use tower::util::ServiceExt;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use super::image_response::not_modified;
use crate::server::assets::Bundle;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One hashed file and its precompressed copies.
struct Asset {
    identity: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
    content_type: HeaderValue,
    etag: HeaderValue,
}

struct Pkg {
    in_memory: HashMap<String, Asset>,
    bundle: Option<Bundle>,
    pkg_dir: std::path::PathBuf,
}

/// The router nested at `/pkg`.
pub fn router(pkg_dir: &Path, bundle: Option<Bundle>) -> Router {
    let in_memory = bundle
        .iter()
        .flat_map(|b| b.files.iter())
        .filter_map(|name| Some((name.clone(), load(&pkg_dir.join(name))?)))
        .collect();
    let pkg = Arc::new(Pkg {
        in_memory,
        bundle,
        pkg_dir: pkg_dir.to_owned(),
    });
    Router::new().route("/{*name}", get(serve)).with_state(pkg)
}

fn load(path: &Path) -> Option<Asset> {
    let identity = Bytes::from(std::fs::read(path).ok()?);
    let sibling = |ext: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(ext);
        std::fs::read(name).ok().map(Bytes::from)
    };
    // The bundle is these three kinds only.
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    };
    let etag = {
        use sha2::{Digest, Sha256};
        format!("\"{}\"", hex::encode(&Sha256::digest(&identity)[..16]))
    };
    Some(Asset {
        br: sibling(".br"),
        gzip: sibling(".gz"),
        content_type: HeaderValue::from_static(content_type),
        etag: HeaderValue::from_str(&etag).ok()?,
        identity,
    })
}

async fn serve(State(pkg): State<Arc<Pkg>>, request: Request) -> Response {
    let name = request.uri().path().trim_start_matches('/');
    match pkg.in_memory.get(name) {
        Some(asset) => from_memory(asset, request.headers()),
        None => from_disk(&pkg, request).await,
    }
}

fn from_memory(asset: &Asset, request_headers: &HeaderMap) -> Response {
    let etag = asset.etag.to_str().unwrap_or_default();
    let mut response = if not_modified(request_headers, etag, 0) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (encoding, body) = match (&asset.br, &asset.gzip) {
            (Some(br), _) if accepts(request_headers, "br") => (Some("br"), br.clone()),
            (_, Some(gzip)) if accepts(request_headers, "gzip") => (Some("gzip"), gzip.clone()),
            _ => (None, asset.identity.clone()),
        };
        let len = body.len();
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, asset.content_type.clone());
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Whether `Accept-Encoding` takes `coding` (listed, and not with `q=0`).
fn accepts(request_headers: &HeaderMap, coding: &str) -> bool {
    request_headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

/// Not a hashed file (or one that could not be read at start-up): from disk, precompressed copies when
/// they exist, compressed per response otherwise.
async fn from_disk(pkg: &Pkg, request: Request) -> Response {
    let name = request.uri().path().trim_start_matches('/');
    let hashed = pkg.bundle.as_ref().is_some_and(|b| b.is_hashed(name));
    let service = ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .service(
            ServeDir::new(&pkg.pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );
    let Ok(mut response) = service.oneshot(request).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        if !headers.contains_key(header::VARY) {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed { IMMUTABLE } else { "no-cache" }),
        );
    }
    response.map(Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            headers
        };
        assert!(accepts(&with("gzip, deflate, br"), "br"));
        assert!(accepts(&with("BR;q=0.5"), "br"));
        assert!(!accepts(&with("br;q=0, gzip"), "br"));
        assert!(accepts(&with("br;q=0, gzip"), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }
}
