//! The local diffusion models' stages, timed on one model directory: the text encoder, one UNet step,
//! the VAE's decode and TAESD's decode at the model's native size, as `make bench-local` runs them
//! beside PyTorch diffusers (`scripts/bench-local.py`, which makes the random full-size weights and
//! prints the ratios). Prints one JSON object.
//!
//! Usage: `cargo bench --profile release --features ssr --bench local -- MODEL_DIR TAESD_DIR REPEATS BATCH`
//! (BATCH 2: the UNet step under classifier-free guidance).

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use pixzoo::server::diffusion::pipeline::Pipeline;
use pixzoo::server::diffusion::taesd::Taesd;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn time<T>(repeats: usize, mut run: impl FnMut() -> T) -> f64 {
    median(
        (0..repeats)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(run());
                started.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_memory() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [model, taesd, repeats, batch] = args.as_slice() else {
        eprintln!("usage: local MODEL_DIR TAESD_DIR REPEATS BATCH");
        std::process::exit(2);
    };
    let (model, taesd) = (PathBuf::from(model), PathBuf::from(taesd));
    let repeats: usize = repeats.parse().expect("REPEATS is a number");
    let device = Device::Cpu;

    let started = Instant::now();
    let pipeline = Pipeline::load(&model, &device, DType::F32).expect("the model loads");
    let taesd = Taesd::load(&taesd, DType::F32, &device).expect("TAESD loads");
    let load = started.elapsed().as_secs_f64();

    let native = pipeline.unet.config.sample_size.unwrap_or(64);
    let latent = pipeline.vae.config.latent_channels;
    let batch: usize = batch.parse().expect("BATCH is a number");
    let latents = Tensor::randn(0f32, 1f32, (1, latent, native, native), &device).unwrap();
    let doubled = Tensor::cat(&vec![&latents; batch], 0).unwrap();

    let (context, _) = pipeline
        .encode_prompt("a red fox in the snow, oil painting")
        .unwrap();
    let context = Tensor::cat(&vec![&context; batch], 0).unwrap();
    let text = time(repeats.max(3), || {
        pipeline
            .encode_prompt("a red fox in the snow, oil painting")
            .unwrap()
    });
    let unet = time(repeats, || {
        pipeline.unet.forward(&doubled, 999.0, &context).unwrap()
    });
    let vae = time(repeats, || pipeline.vae.decode(&latents).unwrap());
    let tiny = time(repeats.max(3), || taesd.decode(&latents).unwrap());
    println!(
        "{{\"load\": {load:.3}, \"text_encoder\": {text:.3}, \"unet_step\": {unet:.3}, \"vae_decode\": {vae:.3}, \"taesd_decode\": {tiny:.3}, \"unet_batch\": {batch}, \"size\": {}, \"peak_bytes\": {}, \"threads\": {}}}",
        native * pipeline.vae.config.scale_factor(),
        peak_memory(),
        candle_core::utils::get_num_threads(),
    );
}
