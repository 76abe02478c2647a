//! A Pixzoo server on a loopback port with a temporary data directory, for the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use pixzoo::server::config::Config;
use pixzoo::server::engine::EngineError;
use pixzoo::server::state::AppState;
use pixzoo::server::storage::{ImageRecord, PageQuery};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The configuration tests start from: defaults, with the data under `data_dir`.
pub fn config(data_dir: &Path) -> Config {
    let mut config = Config::default();
    config.storage.data_dir = data_dir.to_owned();
    config.server.site_root = data_dir.join("site");
    // Tests fire requests far faster than any person; the rate-limit tests turn limits back on.
    config.security.requests_per_second = 0;
    config.security.generations_per_minute = 0;
    config.security.derivatives_per_minute = 0;
    config
}

/// The builtin renderer made to generate every image at 512x384, as a model with one size in its
/// table would: every `/{W}x{H}/…` of a prompt is then cropped from the same image.
pub fn one_size(config: &mut Config) {
    use pixzoo::server::config::{SizeEntry, Sizes};
    let builtin = config
        .catalog
        .models
        .iter_mut()
        .find(|model| model.id == "builtin")
        .expect("the builtin model is configured");
    builtin.sizes = Sizes::Table(vec![SizeEntry {
        ratio: "4:3".into(),
        width: 512,
        height: 384,
    }]);
}

impl TestServer {
    pub async fn start(data_dir: &Path) -> Self {
        Self::with_config(config(data_dir)).await
    }

    pub async fn with_config(config: Config) -> Self {
        let (router, state) = pixzoo::server::build(&config).await.expect("server builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let limits = pixzoo::server::listen::limits(&config);
        let task = tokio::spawn(pixzoo::server::listen::serve(
            listener,
            router,
            limits,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            base,
            state,
            stop,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        client()
            .get(self.url(path))
            .send()
            .await
            .expect("request succeeds")
    }

    /// The newest stored images first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<ImageRecord>, EngineError> {
        let query = PageQuery {
            limit,
            ..PageQuery::default()
        };
        self.state.engine.page(&query).await
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
        self.state.engine.close().await;
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).expect("a decodable image");
    (image.width(), image.height())
}

/// Captures every log line of this test binary (installed once, shared by its tests), so tests can
/// check what reached the log.
pub fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogSink(sink.clone()))
            .init();
        buffer
    })
    .clone()
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `text/event-stream` body as its event names in order, and the last event's JSON data.
pub fn events(body: &str) -> (Vec<String>, serde_json::Value) {
    let mut names = Vec::new();
    let mut last = serde_json::Value::Null;
    for block in body.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = Some(n.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim());
            }
        }
        if let Some(name) = name {
            names.push(name);
            last = serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
        }
    }
    (names, last)
}

/// A 24x16 JPEG stored sideways: its EXIF orientation (6) says "turn 90° clockwise to view". Its left
/// third is red, the rest blue, so which way it was turned shows.
pub fn sideways_jpeg() -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(24, 16, |x, _| {
        if x < 8 {
            image::Rgb([250, 0, 0])
        } else {
            image::Rgb([0, 0, 250])
        }
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    pixels
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let jpeg = jpeg.into_inner();
    // An APP1 segment right after SOI holding a big-endian TIFF with one entry: Orientation = 6.
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&6u16.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}
