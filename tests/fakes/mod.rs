//! Local servers that speak each provider's real wire format, including its errors. A fake decides what
//! to do from words in the prompt (`async`, `throttle`, `garbage`…), and counts the calls it receives.
#![allow(dead_code)]

pub mod a1111;
pub mod cdn;
pub mod cloudflare;
pub mod openai;
pub mod replicate;

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use axum::Router;
use base64::Engine as _;
use tokio::net::TcpListener;

/// A running fake: its base URL and what it has seen.
pub struct Fake {
    pub base: String,
    pub calls: Calls,
}

/// Calls by label (an endpoint, an account, a prompt), shared with the fake's handlers.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<HashMap<String, usize>>>);

impl Calls {
    /// Counts a call and returns how many there have been with this label, this one included.
    pub fn hit(&self, label: &str) -> usize {
        let mut calls = self.0.lock().unwrap();
        let count = calls.entry(label.to_owned()).or_default();
        *count += 1;
        *count
    }

    pub fn count(&self, label: &str) -> usize {
        self.0.lock().unwrap().get(label).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

pub async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    base
}

fn encode(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, image::ImageFormat::Png)
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, image::ImageFormat::Jpeg)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What an edit's source is, as a fake records it: the hash of its RGB pixels, so a test can check
/// that what it sent arrived intact (the engine sends PNG; this does not depend on its compression).
pub fn pixels_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let rgb = image::load_from_memory(bytes)
        .expect("an edit's source decodes")
        .to_rgb8();
    hex::encode(sha2::Sha256::digest(rgb.as_raw()))
}

/// What an edit's mask is, as a fake records it: the hash of its gray levels (white = change).
pub fn mask_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let gray = image::load_from_memory(bytes)
        .expect("an edit's mask decodes")
        .to_luma8();
    hex::encode(sha2::Sha256::digest(gray.as_raw()))
}

/// The hash of a mask given the OpenAI way (transparent = change), as [`mask_hash`] of ours.
pub fn alpha_mask_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let rgba = image::load_from_memory(bytes)
        .expect("an edit's mask decodes")
        .to_rgba8();
    let gray: Vec<u8> = rgba.pixels().map(|p| 255 - p.0[3]).collect();
    hex::encode(sha2::Sha256::digest(&gray))
}

pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("valid base64")
}

/// Bytes that are not an image of any kind.
pub const GARBAGE: &[u8] = b"<html><body>502 Bad Gateway</body></html>";

/// A PNG whose header declares `width`×`height` but which carries almost no data: a decompression bomb
/// to anyone who allocates from the header.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(8, 8);
    // IHDR data starts after the signature (8), the length (4) and the type (4).
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// CRC-32 (IEEE), as PNG chunks carry it; a few lines rather than a dependency for one fake.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
