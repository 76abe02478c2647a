//! The local provider's diffusion models against the reference implementation: every stage of real
//! diffusers pipeline runs on tiny randomly initialised models (`tests/fixtures/local/`, written by
//! `scripts/local-fixtures.py`), replayed here with the same weights, inputs and random draws.
//!
//! Tolerance: f32 on the CPU, |ours − diffusers'| ≤ 1e-4 × max(1, max |diffusers'|) for every tensor
//! (the scale keeps the bound relative for latents that start at sigma ≈ 14.6); token ids, timesteps
//! and the number of random draws exactly; 8-bit pixels within one level.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use pixzoo::server::diffusion::noise::Noise;
use pixzoo::server::diffusion::pipeline::{Init, Pipeline, Request};
use pixzoo::server::diffusion::scheduler::{Scheduler, SchedulerConfig};
use pixzoo::server::diffusion::DiffusionError;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/local")
}

fn model(name: &str) -> PathBuf {
    fixtures().join("models").join(name)
}

struct Run {
    spec: Value,
    tensors: HashMap<String, Tensor>,
}

impl Run {
    fn load(name: &str) -> Run {
        let dir = fixtures().join("runs");
        let spec =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let tensors =
            candle_core::safetensors::load(dir.join(format!("{name}.safetensors")), &Device::Cpu)
                .unwrap();
        Run { spec, tensors }
    }

    fn tensor(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no `{name}`"))
    }

    fn noise(&self) -> Replay {
        let draws = self.spec["noise"].as_array().unwrap();
        Replay {
            draws: draws
                .iter()
                .map(|d| self.tensor(d["name"].as_str().unwrap()).clone())
                .collect(),
        }
    }
}

/// The reference's random draws, handed out in order; the shapes must match what is asked.
struct Replay {
    draws: VecDeque<Tensor>,
}

impl Noise for Replay {
    fn draw(&mut self, shape: &[usize], _: &Device) -> Result<Tensor, DiffusionError> {
        let next = self
            .draws
            .pop_front()
            .expect("the reference drew fewer times than we do");
        assert_eq!(
            next.dims(),
            shape,
            "a draw of another shape than the reference's"
        );
        Ok(next)
    }
}

/// Asserts `got` matches `want` within the stated tolerance, and returns the largest difference.
fn close(name: &str, got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.dims(), want.dims(), "{name}: shape");
    let got = got
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let want = want
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= TOLERANCE * scale,
        "{name}: max |difference| {worst:e} exceeds {:e}",
        TOLERANCE * scale
    );
    worst
}

fn ids(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as u32)
        .collect()
}

/// Runs a fixture's pipeline call through ours and compares every stage.
fn replay(name: &str) {
    let run = Run::load(name);
    let spec = &run.spec;
    let pipeline = Pipeline::load(
        &model(spec["model"].as_str().unwrap()),
        &Device::Cpu,
        DType::F32,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let prompt = spec["prompt"].as_str().unwrap();
    let negative = spec["negative_prompt"].as_str().map(str::to_string);

    let tokens = pipeline.tokenizer.encode(prompt).unwrap();
    assert_eq!(
        tokens.ids,
        ids(run.tensor("input_ids")),
        "{name}: token ids"
    );
    let (text, _) = pipeline.encode_prompt(prompt).unwrap();
    close("text_embeddings", &text, run.tensor("text_embeddings"));
    if let Some(uncond) = run.tensors.get("uncond_embeddings") {
        let negative_tokens = pipeline
            .tokenizer
            .encode(negative.as_deref().unwrap_or(""))
            .unwrap();
        assert_eq!(
            negative_tokens.ids,
            ids(run.tensor("uncond_input_ids")),
            "{name}: negative ids"
        );
        let (ours, _) = pipeline
            .encode_prompt(negative.as_deref().unwrap_or(""))
            .unwrap();
        close("uncond_embeddings", &ours, uncond);
    }

    let init = run.tensors.get("init_image").map(|image| Init {
        image: image.clone(),
        mask: run.tensors.get("mask_condition").cloned(),
        strength: spec["strength"].as_f64().unwrap_or(1.0),
    });
    let request = Request {
        prompt: prompt.to_string(),
        negative_prompt: negative,
        width: spec["width"].as_u64().unwrap() as usize,
        height: spec["height"].as_u64().unwrap() as usize,
        steps: spec["num_inference_steps"].as_u64().unwrap() as usize,
        guidance: spec["guidance_scale"].as_f64().unwrap(),
        init,
    };
    let expected_steps = spec["denoising_steps_run"].as_u64().unwrap() as usize;
    let timesteps: Vec<f64> = spec["timesteps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let mut noise = run.noise();
    let mut seen = 0;
    let mut worst = 0f32;
    let output = pipeline
        .run(&request, &mut noise, &mut |step| {
            let i = step.index;
            assert_eq!(step.steps, expected_steps, "{name}: steps run");
            assert_eq!(step.timestep, timesteps[i], "{name}: timestep {i}");
            worst = worst.max(close(
                &format!("step.{i}.unet_input"),
                step.model_input,
                run.tensor(&format!("step.{i}.unet_input")),
            ));
            worst = worst.max(close(
                &format!("step.{i}.noise_pred"),
                step.prediction,
                run.tensor(&format!("step.{i}.noise_pred")),
            ));
            worst = worst.max(close(
                &format!("step.{i}.latents"),
                step.latents,
                run.tensor(&format!("step.{i}.latents")),
            ));
            seen += 1;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(seen, expected_steps, "{name}: steps observed");
    assert!(
        noise.draws.is_empty(),
        "{name}: the reference drew {} more times",
        noise.draws.len()
    );
    close(
        "latents.final",
        &output.latents,
        run.tensor("latents.final"),
    );
    worst = worst.max(close("image", &output.image, run.tensor("image")));

    // 8-bit pixels as diffusers' `numpy_to_pil` makes them.
    let ours = ((output.image / 2.0).unwrap() + 0.5)
        .unwrap()
        .clamp(0f32, 1f32)
        .unwrap();
    let ours: Vec<f32> = (ours * 255.0)
        .unwrap()
        .round()
        .unwrap()
        .permute((0, 2, 3, 1))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let theirs: Vec<u8> = run
        .tensor("image.u8")
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let off = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (*a - f32::from(*b)).abs())
        .fold(0f32, f32::max);
    assert!(off <= 1.0, "{name}: 8-bit pixels differ by {off}");
    eprintln!("{name}: largest difference {worst:e}");
}

#[test]
fn sd21_text_to_image_matches_diffusers() {
    replay("sd21-txt2img");
}

#[test]
fn sd21_non_square_matches_diffusers() {
    replay("sd21-txt2img-96x64");
}

#[test]
fn sd15_guided_text_to_image_matches_diffusers() {
    replay("sd15-txt2img");
}

#[test]
fn sd15_prompt_longer_than_clip_is_cut_as_diffusers_cuts_it() {
    replay("sd15-txt2img-long");
    let run = Run::load("sd15-txt2img-long");
    let pipeline = Pipeline::load(&model("tiny-sd15"), &Device::Cpu, DType::F32).unwrap();
    let tokens = pipeline
        .tokenizer
        .encode(run.spec["prompt"].as_str().unwrap())
        .unwrap();
    assert!(tokens.dropped > 0, "the long prompt should not fit");
}

#[test]
fn sd21_image_to_image_matches_diffusers() {
    replay("sd21-img2img");
}

#[test]
fn sd15_inpainting_by_latent_blending_matches_diffusers() {
    replay("sd15-inpaint-blend");
}

#[test]
fn sd15_inpainting_unet_matches_diffusers() {
    replay("sd15-inpaint-9ch");
}

#[test]
fn taesd_decodes_and_encodes_as_diffusers_does() {
    let taesd = pixzoo::server::diffusion::taesd::Taesd::load(
        &model("tiny-taesd"),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    for name in [
        "sd21-txt2img",
        "sd15-txt2img",
        "sd21-txt2img-96x64",
        "sd15-inpaint-9ch",
    ] {
        let run = Run::load(name);
        let image = taesd.decode(run.tensor("latents.final")).unwrap();
        close(
            &format!("{name}: taesd.image"),
            &image,
            run.tensor("taesd.image"),
        );
    }
    let run = Run::load("sd21-img2img");
    let latents = taesd.encode(run.tensor("init_image")).unwrap();
    close("taesd.latents", &latents, run.tensor("taesd.latents"));
}

#[test]
fn tokenizers_match_transformers() {
    let spec: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("runs/tokenizer.json")).unwrap())
            .unwrap();
    for name in ["tiny-sd15", "tiny-sd21"] {
        let tokenizer = pixzoo::server::diffusion::tokenizer::ClipTokenizer::from_dir(
            &model(name).join("tokenizer"),
        )
        .unwrap();
        for case in spec["prompts"].as_array().unwrap() {
            let prompt = case["prompt"].as_str().unwrap();
            let want: Vec<u32> = case[name]["padded_77"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(
                tokenizer.encode(prompt).unwrap().ids,
                want,
                "{name}: {prompt:?}"
            );
        }
    }
}

#[test]
fn schedulers_match_diffusers_step_for_step() {
    let dir = fixtures().join("runs");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join("schedulers.json")).unwrap()).unwrap();
    let t =
        candle_core::safetensors::load(dir.join("schedulers.safetensors"), &Device::Cpu).unwrap();
    let mut checked = 0;
    for (combo, case) in spec["combos"].as_object().unwrap() {
        let mut parts = combo.split('.');
        let (class, spacing, steps) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        if !pixzoo::server::diffusion::scheduler::SUPPORTED.contains(&class) {
            continue;
        }
        let mut config = spec["configs"][class].clone();
        config["_class_name"] = Value::String(class.into());
        config["timestep_spacing"] = Value::String(spacing.into());
        let config: SchedulerConfig = serde_json::from_value(config).unwrap();
        let steps: usize = steps.parse().unwrap();
        let scheduler = Scheduler::new(&config, steps).unwrap();
        let want: Vec<f64> = case["timesteps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(scheduler.timesteps(), want.as_slice(), "{combo}: timesteps");
        let sigma = case["init_noise_sigma"].as_f64().unwrap();
        assert!(
            (scheduler.init_noise_sigma() - sigma).abs() <= 1e-5 * sigma,
            "{combo}: init_noise_sigma"
        );

        // Each combination's per-step tensors are stacked on a leading axis.
        let draws = case["noise_draws"].as_u64().unwrap() as usize;
        let mut noise = Replay {
            draws: (0..draws)
                .map(|k| t[&format!("{combo}.noise")].get(k).unwrap())
                .collect(),
        };
        let inputs = &t[&format!("{combo}.model_input")];
        let samples = &t[&format!("{combo}.prev_sample")];
        let mut sample = (&t["sample_0"] * scheduler.init_noise_sigma()).unwrap();
        for (i, timestep) in want.iter().enumerate() {
            let input = scheduler.scale_model_input(&sample, i).unwrap();
            close(
                &format!("{combo}.step.{i}.model_input"),
                &input,
                &inputs.get(i).unwrap(),
            );
            let output = ((&input * 0.1).unwrap() + 0.01 * (timestep / 1000.0)).unwrap();
            sample = scheduler.step(&output, i, &sample, &mut noise).unwrap();
            close(
                &format!("{combo}.step.{i}.prev_sample"),
                &sample,
                &samples.get(i).unwrap(),
            );
        }
        assert!(noise.draws.is_empty(), "{combo}: the reference drew more");
        let begin = case["add_noise"]["t_start"].as_u64().unwrap() as usize;
        let noised = scheduler
            .add_noise(&t["add_noise.original"], &t["add_noise.noise"], begin)
            .unwrap();
        close(
            &format!("{combo}.add_noise"),
            &noised,
            &t[&format!("{combo}.add_noise.out")],
        );
        checked += 1;
    }
    assert_eq!(
        checked, 36,
        "three schedulers × three spacings × four step counts"
    );
}

/// A copy of a tiny model whose UNet weights `edit` has changed.
fn with_unet_weights(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = model("tiny-sd21");
    for part in ["", "unet", "vae", "text_encoder", "tokenizer", "scheduler"] {
        std::fs::create_dir_all(dir.path().join(part)).unwrap();
        for entry in std::fs::read_dir(source.join(part)).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), dir.path().join(part).join(entry.file_name())).unwrap();
            }
        }
    }
    let file = dir.path().join("unet/diffusion_pytorch_model.safetensors");
    let mut tensors = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, &file).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    match Pipeline::load(dir, &Device::Cpu, DType::F32) {
        Ok(_) => panic!("the damaged model loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_tensor_is_named() {
    let name = "conv_in.weight";
    let dir = with_unet_weights(|t| {
        t.remove(name).unwrap();
    });
    let error = load_error(dir.path());
    assert!(error.contains(name), "{error}");
}

#[test]
fn a_misshapen_tensor_is_named() {
    let name = "conv_out.bias";
    let dir = with_unet_weights(|t| {
        t.insert(
            name.into(),
            Tensor::zeros(7, DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let error = load_error(dir.path());
    assert!(error.contains(name), "{error}");
}

#[test]
fn a_tensor_the_architecture_does_not_use_is_named() {
    let name = "down_blocks.9.unexpected.weight";
    let dir = with_unet_weights(|t| {
        t.insert(
            name.into(),
            Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let error = load_error(dir.path());
    assert!(
        error.contains(name) && error.contains("not used"),
        "{error}"
    );
}

// --- The `local` provider, end to end with a tiny model in `models_dir` -------------------------------

mod common;

use bytes::Bytes;
use pixzoo::server::config::LocalConfig;
use pixzoo::server::providers::local::models::{discover, LocalModel};
use pixzoo::server::providers::local::Local;
use pixzoo::server::providers::{EditInput, ImageProvider, ProviderRequest};

/// A copy of the fixture model `name` as `<dir>/<id>/`.
fn install(name: &str, dir: &Path, id: &str) {
    let source = model(name);
    for part in ["", "unet", "vae", "text_encoder", "tokenizer", "scheduler"] {
        std::fs::create_dir_all(dir.join(id).join(part)).unwrap();
        for entry in std::fs::read_dir(source.join(part)).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(
                    entry.path(),
                    dir.join(id).join(part).join(entry.file_name()),
                )
                .unwrap();
            }
        }
    }
}

fn request(seed: u32, edit: Option<EditInput>) -> ProviderRequest {
    ProviderRequest {
        upstream_model: "tiny".into(),
        prompt: "a red fox in the snow".into(),
        negative_prompt: None,
        seed: Some(seed),
        steps: Some(2),
        width: 64,
        height: 64,
        aspect_ratio: None,
        edit,
        on_step: Default::default(),
    }
}

fn local_provider(dir: &Path) -> Local {
    install("tiny-sd21", dir, "tiny");
    let found = discover(dir);
    assert_eq!(
        found.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["tiny"]
    );
    Local::new(&LocalConfig::default(), dir, found)
}

fn png_of(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Bytes {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb(pixel(x, y)));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    Bytes::from(out.into_inner())
}

#[tokio::test]
async fn the_same_seed_makes_the_same_bytes_and_another_seed_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let local = local_provider(dir.path());
    let first = local.generate(request(7, None)).await.unwrap();
    let again = local.generate(request(7, None)).await.unwrap();
    let other = local.generate(request(8, None)).await.unwrap();
    assert_eq!(common::dimensions(&first.bytes), (64, 64));
    assert_eq!(first.bytes, again.bytes, "same seed, same bytes");
    assert_ne!(first.bytes, other.bytes, "another seed, another image");
    let mut prompt = request(7, None);
    prompt.prompt = "a blue whale".into();
    assert_ne!(
        local.generate(prompt).await.unwrap().bytes,
        first.bytes,
        "another prompt, another image"
    );
}

#[tokio::test]
async fn edits_and_inpainting_run_on_a_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let local = local_provider(dir.path());
    let source = png_of(64, 64, |x, y| [(x * 4) as u8, (y * 4) as u8, 128]);
    let mask = png_of(64, 64, |x, _| if x >= 32 { [255; 3] } else { [0; 3] });
    let edit = |mask: Option<Bytes>, strength| EditInput {
        image: source.clone(),
        mask,
        strength,
    };
    let edited = local
        .generate(request(3, Some(edit(None, 60))))
        .await
        .unwrap();
    let inpainted = local
        .generate(request(3, Some(edit(Some(mask.clone()), 100))))
        .await
        .unwrap();
    let plain = local.generate(request(3, None)).await.unwrap();
    assert_eq!(common::dimensions(&edited.bytes), (64, 64));
    assert_ne!(edited.bytes, plain.bytes, "an edit starts from its source");
    assert_ne!(inpainted.bytes, edited.bytes);
    assert_eq!(common::dimensions(&inpainted.bytes), (64, 64));
    // Where the mask keeps the source is checked against diffusers, stage by stage, above.
}

#[test]
fn directories_that_are_not_usable_models_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    install("tiny-sd15", dir.path(), "good");
    install("tiny-sd15", dir.path(), "odd-scheduler");
    std::fs::write(
        dir.path()
            .join("odd-scheduler/scheduler/scheduler_config.json"),
        r#"{"_class_name": "LMSDiscreteScheduler"}"#,
    )
    .unwrap();
    install("tiny-sd15", dir.path(), "bad name!");
    std::fs::create_dir_all(dir.path().join("not-a-model")).unwrap();
    let ids: Vec<String> = discover(dir.path()).into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["good"]);
    let error = LocalModel::inspect("odd", &dir.path().join("odd-scheduler"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("LMSDiscreteScheduler"), "{error}");
}

#[tokio::test]
async fn a_local_model_on_disk_is_offered_and_answers_urls_and_the_api() {
    let dir = tempfile::tempdir().unwrap();
    install("tiny-sd21", &dir.path().join("models"), "tiny-sd21");
    let server = common::TestServer::start(dir.path()).await;

    let models: serde_json::Value = server.get("/api/models").await.json().await.unwrap();
    let text = models.to_string();
    assert!(text.contains("tiny-sd21"), "{text}");
    assert_eq!(
        server.state.engine.models().default_id(),
        "tiny-sd21",
        "a local model is the default over the renderer"
    );

    let response = server
        .get("/96x64/red-fox-in-snow?model=tiny-sd21&seed=4")
        .await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    assert_eq!(common::dimensions(&bytes), (96, 64));

    let response = common::client()
        .post(server.url("/api/image"))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "a lighthouse at dusk"}], "model": "tiny-sd21", "seed": 9, "width": 256, "height": 256}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    // Streamed: a `generating` event for each denoising step.
    let body = common::client()
        .post(server.url("/api/image"))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "a kite over the sea"}], "model": "tiny-sd21", "seed": 2, "steps": 3, "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (names, last) = common::events(&body);
    assert_eq!(names.last().map(String::as_str), Some("done"), "{body}");
    assert!(last["image"].is_string(), "{body}");
    for step in 1..=3 {
        assert!(
            body.contains(&format!("\"step\":{step},\"steps\":3")),
            "step {step} reported: {body}"
        );
    }

    let recent = server.recent(10).await.unwrap();
    assert!(recent.iter().all(|r| r.model == "tiny-sd21"), "{recent:?}");
    assert_eq!(recent.len(), 3);
    server.stop().await;
}

#[test]
fn models_list_shows_each_directory_and_why_one_cannot_run() {
    let data = tempfile::tempdir().unwrap();
    let models = data.path().join("models");
    install("tiny-sd21", &models, "tiny-sd21");
    install("tiny-sd15-inpaint", &models, "tiny-inpaint");
    install("tiny-sd15", &models, "odd");
    std::fs::write(
        models.join("odd/scheduler/scheduler_config.json"),
        r#"{"_class_name": "LMSDiscreteScheduler"}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pixzoo"))
        .current_dir(data.path())
        .env_remove("RUST_LOG")
        .env("PIXZOO_DATA_DIR", data.path())
        .args(["models", "list"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let line = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {table}"))
            .to_string()
    };
    assert!(
        line("tiny-sd21").contains("SD-family (32-wide text)"),
        "{table}"
    );
    assert!(line("tiny-inpaint").contains("inpainting"), "{table}");
    assert!(
        line("odd").contains("not usable") && line("odd").contains("LMSDiscreteScheduler"),
        "{table}"
    );
}

#[tokio::test]
async fn the_studio_follows_a_local_generation_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    install("tiny-sd15", &dir.path().join("models"), "tiny-sd15");
    let server = common::TestServer::start(dir.path()).await;
    let started: serde_json::Value = common::client()
        .post(server.url("/sfn/start_generation"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("form[prompt]=a+heron&form[model]=tiny-sd15&form[width]=64&form[height]=64&form[steps]=6&form[translate]=false")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = started["Job"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done = loop {
        let view: serde_json::Value = common::client()
            .post(server.url("/sfn/generation_status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("job={job}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !view["result"].is_null() {
            break view;
        }
        assert!(view["error"].is_null(), "{view}");
        assert!(
            std::time::Instant::now() < deadline,
            "never finished: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        done["step"],
        serde_json::json!([6, 6]),
        "the last step reported: {done}"
    );
    server.stop().await;
}

#[tokio::test]
async fn taesd_can_decode_a_local_models_images() {
    let dir = tempfile::tempdir().unwrap();
    let vae = local_provider(dir.path());
    let taesd_dir = dir.path().join("taesd");
    std::fs::create_dir_all(&taesd_dir).unwrap();
    for entry in std::fs::read_dir(model("tiny-taesd")).unwrap().flatten() {
        std::fs::copy(entry.path(), taesd_dir.join(entry.file_name())).unwrap();
    }
    let config = LocalConfig {
        decoder: "taesd".into(),
        ..LocalConfig::default()
    };
    let fast = Local::new(&config, dir.path(), discover(dir.path()));
    let (by_vae, by_taesd) = (
        vae.generate(request(5, None)).await.unwrap(),
        fast.generate(request(5, None)).await.unwrap(),
    );
    assert_eq!(common::dimensions(&by_taesd.bytes), (64, 64));
    assert_ne!(
        by_vae.bytes, by_taesd.bytes,
        "another decoder, other pixels from the same latents"
    );
    assert_eq!(
        fast.generate(request(5, None)).await.unwrap().bytes,
        by_taesd.bytes
    );
}
