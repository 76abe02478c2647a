#!/usr/bin/env python3
"""`make bench-local`: the local diffusion models' stages, Pixzoo (candle) beside PyTorch diffusers, on
the same CPU threads, weights, size and batch, one run, with ratios.

For each supported architecture at full size (SD-Turbo's: SD 2.1 UNet, OpenCLIP-H text encoder; and
SD 1.5's under classifier-free guidance), random weights are made once with diffusers/transformers
(the compute does not depend on the values) and kept under ~/.cache/pixzoo/bench-local; TAESD at
its real size beside them. Then each side times the text encoder, one UNet step, the VAE's decode and
TAESD's decode at 512x512 (medians of REPEATS), and its peak memory.

Usage: scripts/bench-local.py PIXZOO_BENCH_BINARY [REPEATS]   (the Makefile builds the binary)
Needs the PyTorch venv of TOOLCHAIN.md (torch, diffusers, transformers) as `python3` or $TORCH_PYTHON.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("BENCH_LOCAL_DIR", Path.home() / ".cache/pixzoo/bench-local"))
THREADS = int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1))

UNET_COMMON = dict(
    in_channels=4, out_channels=4, layers_per_block=2, norm_num_groups=32, sample_size=64,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
)
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32, sample_size=512,
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
)
TAESD = dict(
    encoder_block_out_channels=(64, 64, 64, 64), decoder_block_out_channels=(64, 64, 64, 64),
    num_encoder_blocks=(1, 3, 3, 3), num_decoder_blocks=(3, 3, 3, 1), latent_channels=4,
)
ARCHITECTURES = {
    # SD-Turbo (stabilityai/sd-turbo): SD 2.1's UNet at 512, no guidance, 1 step.
    "sd-turbo": dict(
        unet=dict(UNET_COMMON, attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024,
                  use_linear_projection=True),
        text=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                  hidden_act="gelu", projection_dim=512),
        scheduler={"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear",
                   "beta_start": 0.00085, "beta_end": 0.012, "timestep_spacing": "trailing", "steps_offset": 1},
        batch=1,
    ),
    # Stable Diffusion 1.5 (e.g. Lykon/dreamshaper-8), classifier-free guidance: batch 2.
    "sd15": dict(
        unet=dict(UNET_COMMON, attention_head_dim=8, cross_attention_dim=768, use_linear_projection=False),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  hidden_act="quick_gelu", projection_dim=768),
        scheduler={"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear",
                   "beta_start": 0.00085, "beta_end": 0.012, "timestep_spacing": "leading", "steps_offset": 1},
        batch=2,
    ),
}


def build(name: str, spec: dict) -> Path:
    """The model directory with random weights, made once."""
    root = CACHE / name
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    torch.manual_seed(0)
    UNet2DConditionModel(**spec["unet"]).save_pretrained(root / "unet", safe_serialization=True)
    AutoencoderKL(**VAE).save_pretrained(root / "vae", safe_serialization=True)
    text = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
                          pad_token_id=49407, **spec["text"])
    CLIPTextModel(text).save_pretrained(root / "text_encoder", safe_serialization=True)
    # Any CLIP vocabulary tokenizes; the fixtures' small one keeps ids below the model's vocabulary.
    shutil.copytree(ROOT / "tests/fixtures/local/models/tiny-sd15/tokenizer", root / "tokenizer")
    (root / "scheduler").mkdir(parents=True, exist_ok=True)
    (root / "scheduler/scheduler_config.json").write_text(json.dumps(spec["scheduler"]))
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", spec["scheduler"]["_class_name"]],
    }))
    (root / ".complete").touch()
    return root


def build_taesd() -> Path:
    root = CACHE / "taesd"
    if not (root / ".complete").exists():
        torch.manual_seed(0)
        AutoencoderTiny(**TAESD).save_pretrained(root, safe_serialization=True)
        (root / ".complete").touch()
    return root


def timed(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@torch.inference_mode()
def pytorch(root: Path, taesd_dir: Path, repeats: int, batch: int) -> dict:
    torch.set_num_threads(THREADS)
    started = time.perf_counter()
    text = CLIPTextModel.from_pretrained(root / "text_encoder").eval()
    unet = UNet2DConditionModel.from_pretrained(root / "unet").eval()
    vae = AutoencoderKL.from_pretrained(root / "vae").eval()
    taesd = AutoencoderTiny.from_pretrained(taesd_dir).eval()
    load = time.perf_counter() - started
    ids = torch.randint(0, 1000, (1, 77))
    context = text(ids)[0].repeat(batch, 1, 1)
    latents = torch.randn(1, 4, 64, 64)
    doubled = latents.repeat(batch, 1, 1, 1)
    return {
        "load": load,
        "text_encoder": timed(max(repeats, 3), lambda: text(ids)),
        "unet_step": timed(repeats, lambda: unet(doubled, 999, encoder_hidden_states=context)),
        "vae_decode": timed(repeats, lambda: vae.decode(latents / 0.18215)),
        "taesd_decode": timed(max(repeats, 3), lambda: taesd.decode(latents)),
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main() -> None:
    binary = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    taesd = build_taesd()
    print(f"{THREADS} threads each, 512x512, medians of {repeats} (text encoder and TAESD: of at least 3)")
    print("speed = PyTorch's seconds / Pixzoo's (above 1: Pixzoo is faster)\n")
    for name, spec in ARCHITECTURES.items():
        root = build(name, spec)
        env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
        ours = json.loads(subprocess.run([binary, str(root), str(taesd), str(repeats), str(spec["batch"])],
                                         check=True, capture_output=True, text=True, env=env).stdout)
        # PyTorch in its own process, so each side's peak memory is its own.
        theirs = json.loads(subprocess.run(
            [sys.executable, __file__, "--pytorch", str(root), str(taesd), str(repeats), str(spec["batch"])],
            check=True, capture_output=True, text=True).stdout)
        print(f"{name} (UNet batch {spec['batch']})")
        print(f"  {'stage':<14}{'PyTorch s':>11}{'Pixzoo s':>10}{'speed':>8}")
        for stage in ("text_encoder", "unet_step", "vae_decode", "taesd_decode"):
            print(f"  {stage:<14}{theirs[stage]:>11.2f}{ours[stage]:>10.2f}{theirs[stage] / ours[stage]:>8.2f}")
        end = lambda side: side["text_encoder"] + side["unet_step"] + side["taesd_decode"]
        print(f"  {'1 step + TAESD':<14}{end(theirs):>11.2f}{end(ours):>10.2f}{end(theirs) / end(ours):>8.2f}")
        print(f"  {'peak memory GB':<14}{theirs['peak_bytes'] / 1e9:>11.2f}{ours['peak_bytes'] / 1e9:>10.2f}")
        print(f"  {'load s':<14}{theirs['load']:>11.2f}{ours['load']:>10.2f}\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--pytorch":
        _, _, root, taesd, repeats, batch = sys.argv
        print(json.dumps(pytorch(Path(root), Path(taesd), int(repeats), int(batch))))
    else:
        main()
