//! Pixzoo's transform pipeline on a fixed corpus, single-threaded, one JSON line per (operation, source):
//! the median time over several runs and the output size. `scripts/bench-transforms.sh` runs npm sharp
//! (libvips) on the same files and operations and prints the two side by side with their ratio.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::ImageEncoder;
use pixzoo::domain::format::ImageFormat;
use pixzoo::server::providers::builtin::render::{render, Scene};
use pixzoo::server::transform::pipeline::{transform, Settings};
use pixzoo::urls::options::{Fit, TransformOptions};

/// (name, options, format): the operations the issue names, in the same terms sharp gets them.
const OPERATIONS: [(&str, &str, ImageFormat); 4] = [
    (
        "fit 400x300 jpeg q80",
        "width=400,height=300,fit=contain,quality=80",
        ImageFormat::Jpeg,
    ),
    (
        "cover 800x600 webp q80",
        "width=800,height=600,fit=cover,quality=80",
        ImageFormat::Webp,
    ),
    (
        "blur full-size jpeg",
        "blur=20,quality=80",
        ImageFormat::Jpeg,
    ),
    (
        "cover 800x600 avif",
        "width=800,height=600,fit=cover,quality=80",
        ImageFormat::Avif,
    ),
];

/// Writes the corpus once: the builtin renderer's art (gradients, soft shapes, text) at 1024² and 2048²,
/// as PNG and as JPEG q90.
fn corpus(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("corpus directory");
    let mut files = Vec::new();
    for side in [1024u32, 2048] {
        let png = dir.join(format!("corpus-{side}.png"));
        let jpg = dir.join(format!("corpus-{side}.jpg"));
        if !png.exists() || !jpg.exists() {
            let pixmap = render(&Scene {
                prompt: "a lighthouse on a cliff at dusk, waves below",
                seed: 42,
                width: side,
                height: side,
            })
            .expect("renders");
            let rgb: Vec<u8> = pixmap
                .data()
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let encoded =
                pixzoo::server::transform::encode::png_rgb8(&rgb, side, side).expect("png");
            std::fs::write(&png, encoded).expect("write png");
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, 90)
                .write_image(&rgb, side, side, image::ExtendedColorType::Rgb8)
                .expect("jpeg");
            std::fs::write(&jpg, out).expect("write jpeg");
        }
        files.push(png);
        files.push(jpg);
    }
    files
}

fn main() {
    // As the server binary does: the same allocator settings for the same work.
    pixzoo::server::allocator::keep_large_buffers();
    // `cargo bench` passes `--bench`; the corpus directory is the only argument that matters.
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-corpus"));
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    for file in corpus(&dir) {
        let bytes = std::fs::read(&file).expect("read corpus file");
        for (name, options, format) in OPERATIONS {
            let options = TransformOptions::parse(options).expect("valid options");
            let settings = Settings {
                default_fit: Fit::ScaleDown,
                max_pixels: 50_000_000,
                max_output_pixels: 50_000_000,
                max_upscale: None,
                format,
            };
            let mut times = Vec::with_capacity(runs);
            let mut size = 0;
            for _ in 0..runs {
                let started = Instant::now();
                let output = transform(&bytes, &options, settings).expect("transforms");
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                size = output.bytes.len();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{{\"engine\":\"pixzoo\",\"op\":\"{name}\",\"source\":\"{}\",\"median_ms\":{:.2},\"bytes\":{size}}}",
                file.file_name().unwrap().to_string_lossy(),
                times[times.len() / 2]
            );
        }
    }
}
