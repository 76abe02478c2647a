#!/usr/bin/env python3
"""Builds the parity fixtures for the local Stable Diffusion provider (tests/fixtures/local/).

What it builds
  * A CLIP BPE vocabulary shrunk to the first 700 merges (1214 tokens), in the Hugging Face
    CLIPTokenizer layout (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json),
    built from CLIP's `bpe_simple_vocab_16e6.txt.gz` exactly as CLIP's SimpleTokenizer builds its vocab.
  * Tiny, randomly initialised models in the diffusers directory layout (as
    `save_pretrained(..., safe_serialization=True)` writes it), f32, under `models/`:
      tiny-sd21          SD 2.1 / SD-Turbo shape (linear projections, per-block head counts, gelu CLIP,
                         pad token "!", EulerAncestralDiscreteScheduler with "trailing" spacing)
      tiny-sd15          SD 1.5 shape (conv projections, one head count, quick_gelu CLIP,
                         pad token <|endoftext|>, EulerDiscreteScheduler with "leading" spacing)
      tiny-sd15-inpaint  tiny-sd15 with a 9-input-channel UNet (runwayml inpainting layout)
      tiny-taesd         AutoencoderTiny with TAESD's block structure and 8-channel layers
    Channel widths are far below SD's (UNet 32/32, VAE 8/8/8/16, CLIP 32) to keep everything under
    8 MB (the UNets have 32 groups, as candle requires), with SD's structure: 1 resnet per UNet block, 2 per VAE block, a 4-block VAE (latents = pixels/8).
    Every parameter is re-drawn at O(1) scale (no zero biases or unit norms left), so a loader that
    drops or swaps a tensor fails the comparison.
  * Runs of the real diffusers pipelines on them (`runs/<run>.safetensors` + `runs/<run>.json`) that
    record every stage: all noise drawn (in order), token ids, prompt embeddings, every step's UNet
    input/output and latents, the VAE decode and a TAESD decode of the final latents.
  * Scheduler fixtures without models (`runs/schedulers.safetensors` + `.json`): Euler, Euler a,
    DDIM, DPM++ 2M and PNDM, for each timestep spacing and 1/2/4/25 steps, on a fake model.
  * Token ids of assorted prompts for both tokenizers (`runs/tokenizer.json`), cross-checked against
    CLIP's own SimpleTokenizer algorithm (re-implemented here; transformers 5 has no slow tokenizer).
  See tests/fixtures/local/README.md (also written by this script) for layout and tensor names.

How to run (by hand; CI does not run it, it only uses the committed output)
  python3 -m venv ~/.cache/pixzoo/torch-venv
  ~/.cache/pixzoo/torch-venv/bin/pip install torch diffusers transformers safetensors accelerate
  ~/.cache/pixzoo/torch-venv/bin/python scripts/local-fixtures.py [--bpe PATH]
  PATH is CLIP's bpe_simple_vocab_16e6.txt.gz, or the open_clip_torch wheel that ships it; without
  --bpe the script runs `pip download open_clip_torch==3.3.0 --no-deps` into a temporary directory
  and reads the file out of the wheel (open_clip itself is never installed or imported). The file's
  sha256 is checked. The script deletes and rewrites tests/fixtures/local/ entirely; it uses only CPU,
  one thread, and takes well under a minute. Its output is deterministic (fixed seeds for weight init
  and for every torch.Generator), so rerunning with the same versions reproduces the same bytes.

Generated with: torch 2.15.0 (CPU), diffusers 0.42.1, transformers 5.25.0, safetensors 0.8.0,
numpy 2.4.6, Pillow 13.0.0, Python 3.11. Other versions may change the numbers (e.g. scheduler
timestep rules or tokenizer normalisation); the versions used are also recorded in every run's JSON.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import html
import inspect
import json
import math
import shutil
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

import diffusers  # noqa: E402
import PIL  # noqa: E402
import regex  # noqa: E402  (a transformers dependency; \p{L} classes like CLIP's pattern)
import safetensors  # noqa: E402
import transformers  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    AutoencoderTiny,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from PIL import Image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: E402

# Import every module that holds its own `randn_tensor` binding, so patching finds them.
import diffusers.models.autoencoders.vae  # noqa: E402,F401
import diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion  # noqa: E402,F401
import diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img  # noqa: E402,F401
import diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint  # noqa: E402,F401
import diffusers.utils.torch_utils  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "local"
MODELS = OUT / "models"
RUNS = OUT / "runs"

BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
OPEN_CLIP = "open_clip_torch==3.3.0"
N_MERGES = 700
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_BYTES = 8 * 1024 * 1024  # three 32-group UNets are most of it

VERSIONS = {
    "python": sys.version.split()[0],
    "torch": torch.__version__,
    "diffusers": diffusers.__version__,
    "transformers": transformers.__version__,
    "safetensors": safetensors.__version__,
    "numpy": np.__version__,
    "pillow": PIL.__version__,
}

# SD's noise schedule, shared by every scheduler here.
SD_BETAS = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    steps_offset=1,
    prediction_type="epsilon",
)

PROMPT = "a red fox in the snow, oil painting"
NEGATIVE = "blurry, low quality"
LONG_PROMPT = (
    "a highly detailed oil painting of a red fox standing in deep fresh snow at sunrise, golden hour light "
    "through tall pine trees, soft shadows, frost on the whiskers, breath visible in the cold air, "
    "impressionist brush strokes, thick impasto texture, warm orange fur against blue and violet snow, "
    "a small wooden cabin in the far background with smoke rising from the chimney, mountains behind, "
    "dramatic sky with pink clouds, masterpiece, trending on artstation"
)


# --------------------------------------------------------------------------------------------------
# CLIP BPE vocabulary


@lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    """CLIP's byte -> printable unicode map (same as GPT-2's)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_bpe(arg: str | None) -> str:
    """Returns the text of bpe_simple_vocab_16e6.txt.gz, checking its sha256."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(arg) if arg else None
        if path is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", OPEN_CLIP, "--no-deps", "-q", "-d", tmp], check=True
            )
            path = next(Path(tmp).glob("*.whl"))
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as z:
                raw = z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")
        else:
            raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != BPE_SHA256:
        sys.exit(f"bpe_simple_vocab_16e6.txt.gz has sha256 {digest}, expected {BPE_SHA256}")
    return gzip.decompress(raw).decode("utf-8")


def build_vocab(bpe_text: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP SimpleTokenizer's vocab construction, keeping only the first N_MERGES merges."""
    merges = bpe_text.split("\n")[1 : 49152 - 256 - 2 + 1][:N_MERGES]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += [BOS, EOS]
    encoder = {tok: i for i, tok in enumerate(vocab)}
    assert len(encoder) == len(vocab), "duplicate tokens"
    return encoder, merges


def added_token(content: str) -> dict:
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


def write_tokenizer(dst: Path, encoder: dict[str, int], merges: list[tuple[str, str]], pad: str) -> None:
    """Writes the four tokenizer files SD repos ship (no tokenizer.json)."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    (dst / "vocab.json").write_text(json.dumps(encoder, ensure_ascii=False) + "\n", encoding="utf-8")
    (dst / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    # As SD repos have them: pad is a plain string ("<|endoftext|>" in SD 1.x, "!" in SD 2.x).
    special = {
        "bos_token": added_token(BOS),
        "eos_token": added_token(EOS),
        "pad_token": pad,
        "unk_token": added_token(EOS),
    }
    write_json(dst / "special_tokens_map.json", special)
    config = {
        "add_prefix_space": False,
        "bos_token": {"__type": "AddedToken", **added_token(BOS)},
        "do_lower_case": True,
        "eos_token": {"__type": "AddedToken", **added_token(EOS)},
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": pad,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": {"__type": "AddedToken", **added_token(EOS)},
    }
    write_json(dst / "tokenizer_config.json", config)


class ReferenceClipBpe:
    """CLIP's SimpleTokenizer (open_clip / openai) without ftfy, for cross-checking token ids."""

    def __init__(self, encoder: dict[str, int], merges: list[tuple[str, str]]):
        self.encoder = encoder
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.pat = regex.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    def bpe(self, token: str) -> list[str]:
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    new.append(word[i] + word[i + 1])
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return list(word)

    def encode(self, text: str) -> list[int]:
        text = html.unescape(html.unescape(text)).strip()
        text = " ".join(text.split()).lower()
        ids = []
        for tok in self.pat.findall(text):
            if tok in (BOS, EOS):
                ids.append(self.encoder[tok])
                continue
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(tok))
        return [self.encoder[BOS]] + ids + [self.encoder[EOS]]


# --------------------------------------------------------------------------------------------------
# Helpers


def finite(obj):
    """JSON has no infinities (DPM-Solver's `lambda_min_clipped` is -inf): written as strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path: Path, obj) -> None:
    """Indented JSON with lists of numbers kept on one line (a raw newline never occurs inside a JSON
    string, so only real arrays match)."""
    obj = finite(obj)
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)
    text = regex.sub(
        r"\[\n\s*(-?[0-9][0-9.eE+-]*(?:,\n\s*-?[0-9][0-9.eE+-]*)*)\n\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
        text,
    )
    assert json.loads(text) == json.loads(json.dumps(obj)), path
    path.write_text(text + "\n", encoding="utf-8")


def plain_config(config) -> dict:
    """A scheduler config as JSON; `_use_default_values` is a set, so its order is not stable."""
    return {k: v for k, v in dict(config).items() if k != "_use_default_values"}


def randomize_(model: torch.nn.Module, seed: int, gain: float = 1.0) -> None:
    """Re-draws every parameter so that none keeps a trivial default (zero biases, unit norm weights,
    transformers' tiny 0.02-std init): a loader that drops a bias or mixes up two norms must fail.
    Scales keep activations O(1): weights U(-gain/sqrt(fan_in), +), biases likewise, norm weights
    U(0.5, 1.5), norm biases N(0, 0.1), embeddings N(0, 0.5). (TAESD has no norms; gain 1.3
    keeps its output from collapsing to a near-constant (gain 1) or blowing up (gain 1.5+).)"""
    g = torch.Generator().manual_seed(seed)
    norms = (torch.nn.GroupNorm, torch.nn.LayerNorm)
    with torch.no_grad():
        for mod in model.modules():
            for name, p in mod.named_parameters(recurse=False):
                if isinstance(mod, norms):
                    if name == "weight":
                        p.copy_(torch.rand(p.shape, generator=g) + 0.5)
                    else:
                        p.copy_(torch.randn(p.shape, generator=g) * 0.1)
                elif isinstance(mod, torch.nn.Embedding):
                    p.copy_(torch.randn(p.shape, generator=g) * 0.5)
                else:
                    w = getattr(mod, "weight", None)
                    fan_in = w[0].numel() if w is not None and w.ndim >= 2 else p.numel()
                    bound = gain * fan_in**-0.5
                    p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).contiguous().clone()


class Tensors:
    """Ordered tensor store for one safetensors file."""

    def __init__(self):
        self.d: dict[str, torch.Tensor] = {}

    def put(self, name: str, t, dtype=torch.float32) -> None:
        assert name not in self.d, f"duplicate tensor {name}"
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(t)
        self.d[name] = t.detach().to(dtype).contiguous().clone()

    def listing(self) -> dict:
        return {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in self.d.items()}

    def save(self, path: Path) -> None:
        save_file(self.d, str(path), metadata={"format": "pt"})


# --------------------------------------------------------------------------------------------------
# Noise recording: every randn_tensor call, in order, with the function that drew it.

_REAL_RANDN = diffusers.utils.torch_utils.randn_tensor


class NoiseRecorder:
    def __init__(self):
        self.tensors: list[torch.Tensor] = []
        self.calls: list[dict] = []

    def __call__(self, shape, *args, **kwargs):
        out = _REAL_RANDN(shape, *args, **kwargs)
        caller = sys._getframe(1)
        self.calls.append(
            {
                "shape": list(out.shape),
                "drawn_by": f"{caller.f_code.co_qualname} ({caller.f_globals.get('__name__')})",
            }
        )
        self.tensors.append(out.detach().clone())
        return out


def patch_randn(recorder) -> list[str]:
    """Points every diffusers module's `randn_tensor` (module-level imports) at `recorder`."""
    patched = []
    for name, mod in list(sys.modules.items()):
        if not name.startswith("diffusers") or mod is None:
            continue
        cur = mod.__dict__.get("randn_tensor") if hasattr(mod, "__dict__") else None
        if cur is _REAL_RANDN or isinstance(cur, NoiseRecorder):
            mod.randn_tensor = recorder
            patched.append(name)
    needed = {
        "diffusers.utils.torch_utils",
        "diffusers.models.autoencoders.vae",
        "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion",
        "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img",
        "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint",
        "diffusers.schedulers.scheduling_euler_discrete",
        "diffusers.schedulers.scheduling_euler_ancestral_discrete",
        "diffusers.schedulers.scheduling_ddim",
        "diffusers.schedulers.scheduling_dpmsolver_multistep",
    }
    missing = needed - set(patched)
    assert not missing, f"randn_tensor not patched in {missing}"
    return patched


def check_replay(recorder: NoiseRecorder, seed: int) -> None:
    """The recorded draws must be exactly what a fresh generator yields in that order, i.e. nothing
    else consumed the generator (the Rust side replays `noise.*` in order)."""
    g = torch.Generator().manual_seed(seed)
    for t in recorder.tensors:
        again = torch.randn(t.shape, generator=g, dtype=t.dtype)
        assert torch.equal(again, t), "noise replay mismatch"


# --------------------------------------------------------------------------------------------------
# Models

TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=77, projection_dim=32, layer_norm_eps=1e-5)

UNET_COMMON = dict(
    sample_size=8,  # 64 px / VAE factor 8
    out_channels=4,
    # 32 groups as every SD UNet has (candle's UNet blocks only honour 32), hence 32 channels; one
    # resnet per block keeps the three UNets about 1 MB each.
    block_out_channels=(32, 32),
    layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32,
    norm_num_groups=32,
)

VAE = dict(
    in_channels=3,
    out_channels=3,
    block_out_channels=(8, 8, 8, 16),  # four blocks: scale factor 8, like SD's VAE
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=4,
    sample_size=64,
    scaling_factor=0.18215,
)

TAESD = dict(
    encoder_block_out_channels=(8, 8, 8, 8),
    decoder_block_out_channels=(8, 8, 8, 8),
    num_encoder_blocks=(1, 3, 3, 3),
    num_decoder_blocks=(3, 3, 3, 1),
    latent_channels=4,
)


def text_encoder(vocab: dict[str, int], pad: str, act: str, seed: int) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_act=act,
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[pad],
        **TEXT,
    )
    torch.manual_seed(seed)
    model = CLIPTextModel(config)
    randomize_(model, seed)
    return model.eval()


def unet(seed: int, **kw) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    model = UNet2DConditionModel(**{**UNET_COMMON, **kw})
    randomize_(model, seed)
    return model.eval()


def vae(seed: int) -> AutoencoderKL:
    torch.manual_seed(seed)
    model = AutoencoderKL(**VAE)
    randomize_(model, seed)
    return model.eval()


def legacy_text_encoder_keys(model_dir: Path, model: CLIPTextModel) -> None:
    """transformers 5 dropped CLIPTextModel's `text_model` submodule and saves `embeddings.*`,
    `encoder.*`, `final_layer_norm.*`; every SD repo's text_encoder/model.safetensors says
    `text_model.embeddings.*` etc. (transformers 5 strips that prefix when loading). Rewrite the file
    in the SD layout and check transformers loads every tensor back unchanged."""
    path = model_dir / "text_encoder" / "model.safetensors"
    weights = load_file(str(path))
    assert not any(k.startswith("text_model.") for k in weights)
    save_file({f"text_model.{k}": v for k, v in weights.items()}, str(path), metadata={"format": "pt"})
    loaded = CLIPTextModel.from_pretrained(str(model_dir / "text_encoder")).state_dict()
    original = model.state_dict()
    assert loaded.keys() == original.keys()
    assert all(torch.equal(loaded[k], original[k]) for k in original), "text encoder reload mismatch"


def save_pipeline(cls, name: str, components: dict, tokenizer_files: tuple) -> Path:
    dst = MODELS / name
    pipe = cls(**components, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(str(dst), safe_serialization=True)
    legacy_text_encoder_keys(dst, components["text_encoder"])
    write_tokenizer(dst / "tokenizer", *tokenizer_files)
    return dst


def build_models(encoder, merges) -> None:
    # A tokenizer object is needed only to construct the pipeline object; the saved tokenizer
    # directory is then replaced by the four hand-written files.
    tok_dir = Path(tempfile.mkdtemp())
    write_tokenizer(tok_dir / "tok", encoder, merges, EOS)
    tok = CLIPTokenizer.from_pretrained(str(tok_dir / "tok"))

    # SD 2.1 / SD-Turbo shape.
    sd21 = dict(
        unet=unet(2101, in_channels=4, attention_head_dim=[2, 4], use_linear_projection=True),
        vae=vae(2102),
        text_encoder=text_encoder(encoder, "!", "gelu", 2103),
        tokenizer=tok,
        scheduler=EulerAncestralDiscreteScheduler(**SD_BETAS, timestep_spacing="trailing"),
    )
    save_pipeline(StableDiffusionPipeline, "tiny-sd21", sd21, (encoder, merges, "!"))

    # SD 1.5 shape.
    te15, vae15 = text_encoder(encoder, EOS, "quick_gelu", 1503), vae(1502)
    sd15 = dict(
        unet=unet(1501, in_channels=4, attention_head_dim=4, use_linear_projection=False),
        vae=vae15,
        text_encoder=te15,
        tokenizer=tok,
        scheduler=EulerDiscreteScheduler(**SD_BETAS, timestep_spacing="leading"),
    )
    save_pipeline(StableDiffusionPipeline, "tiny-sd15", sd15, (encoder, merges, EOS))

    # SD 1.5 inpainting shape: same text encoder / VAE / tokenizer / scheduler, 9-channel UNet.
    sd15i = dict(sd15, unet=unet(1504, in_channels=9, attention_head_dim=4, use_linear_projection=False))
    save_pipeline(StableDiffusionInpaintPipeline, "tiny-sd15-inpaint", sd15i, (encoder, merges, EOS))

    torch.manual_seed(4001)
    taesd = AutoencoderTiny(**TAESD)
    randomize_(taesd, 4001, gain=1.3)
    taesd.save_pretrained(str(MODELS / "tiny-taesd"), safe_serialization=True)
    shutil.rmtree(tok_dir)


# --------------------------------------------------------------------------------------------------
# Pipeline runs


def init_image() -> Image.Image:
    """64x64 RGB: red ramps with x, green with y, blue is an 8px checkerboard."""
    a = np.zeros((64, 64, 3), dtype=np.uint8)
    y, x = np.mgrid[0:64, 0:64]
    a[..., 0] = x * 4
    a[..., 1] = y * 4
    a[..., 2] = np.where(((x // 8) + (y // 8)) % 2 == 0, 48, 208)
    return Image.fromarray(a, "RGB")


def mask_image() -> Image.Image:
    """64x64 L: white rectangle x in [20, 44), y in [12, 40) on black (edges not on the 8 px grid)."""
    a = np.zeros((64, 64), dtype=np.uint8)
    a[12:40, 20:44] = 255
    return Image.fromarray(a, "L")


class Recorder:
    """Hooks one pipeline and records every stage of one call into `self.t`."""

    def __init__(self, pipe, seed: int):
        self.pipe, self.seed = pipe, seed
        self.t = Tensors()
        self.noise = NoiseRecorder()
        patch_randn(self.noise)
        self.step = -1  # -1 while preparing, then the denoising step index
        self.te_calls = 0
        self.encodes = []  # (input, mean, std) per vae.encode call
        self.decodes = []  # (input, output) per vae.decode call
        self.add_noise_calls = []  # (phase, original, timestep, output)
        self.scheduler_out = {}
        self.masked_image = None  # inpaint: the pipeline's masked image (checked, not stored)
        self.timesteps = []
        self.cfg = False
        self.guidance = 0.0
        self.hooks = [
            pipe.unet.register_forward_pre_hook(self._unet_pre, with_kwargs=True),
            pipe.unet.register_forward_hook(self._unet_post),
            pipe.text_encoder.register_forward_pre_hook(self._te_pre, with_kwargs=True),
            pipe.text_encoder.register_forward_hook(self._te_post),
        ]
        self._wrap(pipe.vae, "encode", self._vae_encode)
        self._wrap(pipe.vae, "decode", self._vae_decode)
        self._wrap(pipe.scheduler, "step", self._sched_step)
        self._wrap(pipe.scheduler, "add_noise", self._add_noise)
        self._wrap(pipe, "prepare_latents", self._prepare_latents)
        if hasattr(pipe, "prepare_mask_latents"):
            self._wrap(pipe, "prepare_mask_latents", self._prepare_mask)

    @staticmethod
    def _wrap(obj, name, wrapper):
        # functools.wraps keeps the signature visible: pipelines inspect `scheduler.step` to decide
        # whether to pass `generator` and `eta`.
        real = getattr(obj, name)

        @functools.wraps(real)
        def wrapped(*a, **k):
            return wrapper(real, *a, **k)

        setattr(obj, name, wrapped)

    # text encoder: call 0 is the prompt, call 1 the negative/empty prompt
    def _te_pre(self, mod, args, kwargs):
        ids = args[0] if args else kwargs["input_ids"]
        self.t.put("input_ids" if self.te_calls == 0 else "uncond_input_ids", ids, torch.int64)

    def _te_post(self, mod, args, out):
        self.t.put("text_embeddings" if self.te_calls == 0 else "uncond_embeddings", out[0])
        self.te_calls += 1

    def _unet_pre(self, mod, args, kwargs):
        self.step += 1
        i = self.step
        sample, t = args[0], args[1]
        self.timesteps.append(float(t))
        self.t.put(f"step.{i}.timestep", torch.as_tensor(t).reshape(()))
        self.t.put(f"step.{i}.unet_input", sample)

    def _unet_post(self, mod, args, out):
        i = self.step
        pred = out[0]
        self.t.put(f"step.{i}.noise_pred", pred)
        if self.cfg:
            # the same arithmetic as the pipeline's guidance, for a bit-exact intermediate
            uncond, text = pred.chunk(2)
            self.t.put(f"step.{i}.noise_pred_guided", uncond + self.guidance * (text - uncond))

    def _vae_encode(self, real, x, *a, **k):
        out = real(x, *a, **k)
        d = out.latent_dist if hasattr(out, "latent_dist") else out[0]
        self.encodes.append((f32(x), f32(d.mean), f32(d.std)))
        return out

    def _vae_decode(self, real, z, *a, **k):
        out = real(z, *a, **k)
        sample = out[0] if isinstance(out, tuple) else out.sample
        self.decodes.append((f32(z), f32(sample)))
        return out

    def _sched_step(self, real, *a, **k):
        out = real(*a, **k)
        self.scheduler_out[self.step] = f32(out[0] if isinstance(out, tuple) else out.prev_sample)
        return out

    def _add_noise(self, real, original, noise, timesteps):
        out = real(original, noise, timesteps)
        self.add_noise_calls.append((self.step, f32(original), f32(timesteps), f32(out)))
        return out

    def _prepare_latents(self, real, *a, **k):
        out = real(*a, **k)
        latents = out[0] if isinstance(out, tuple) else out
        self.t.put("latents.initial", latents)
        if isinstance(out, tuple) and len(out) == 3:  # inpaint with a 4-channel UNet
            self.t.put("image_latents", out[2])
        return out

    def _prepare_mask(self, real, mask, masked_image, *a, **k):
        m, mlat = real(mask, masked_image, *a, **k)
        self.t.put("mask_condition", mask)
        self.masked_image = f32(masked_image)
        # the pipeline duplicates both for CFG; the first half is what the Rust side builds
        self.t.put("mask", m[:1])
        self.t.put("masked_image_latents", mlat[:1])
        return m, mlat

    def callback(self, pipe, i, t, kw):
        assert i == self.step
        self.t.put(f"step.{i}.latents", kw["latents"])
        return {}

    def close(self):
        for h in self.hooks:
            h.remove()


def run_pipeline(name: str, cls, model: str, taesd: AutoencoderTiny, seed: int, **params) -> dict:
    pipe = cls.from_pretrained(str(MODELS / model), torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    rec = Recorder(pipe, seed)
    guidance = params.get("guidance_scale", 7.5)
    rec.cfg = guidance > 1.0 and pipe.unet.config.time_cond_proj_dim is None
    rec.guidance = guidance
    call = dict(params)
    images = {k: params[k] for k in ("image", "mask_image") if k in params}  # PNG names under runs/
    if "image" in images:
        call["image"] = Image.open(RUNS / images["image"]).convert("RGB")
    if "mask_image" in images:
        call["mask_image"] = Image.open(RUNS / images["mask_image"])
    with torch.no_grad():
        out = pipe(
            **call,
            generator=torch.Generator("cpu").manual_seed(seed),
            output_type="np",
            callback_on_step_end=rec.callback,
            callback_on_step_end_tensor_inputs=["latents"],
        )
    rec.close()
    check_replay(rec.noise, seed)
    t = rec.t
    n_steps = rec.step + 1
    final = t.d[f"step.{n_steps - 1}.latents"]
    t.put("latents.final", final)

    # scheduler.step output before inpaint blending, and the re-noised image latents
    if any(i >= 0 for i, *_ in rec.add_noise_calls):
        for i in range(n_steps):
            t.put(f"step.{i}.latents_denoised", rec.scheduler_out[i])
    for phase, original, ts, noisy in rec.add_noise_calls:
        if phase < 0:  # img2img: noise the encoded image at the first timestep
            t.put("init_latents", original)
            t.put("latent_timestep", ts)
        else:  # inpaint blending: image latents noised to the next step's timestep
            t.put(f"step.{phase}.init_latents_proper", noisy)
            t.put(f"step.{phase}.noise_timestep", ts)

    # VAE encodes: img2img / 4-channel inpaint encode the init image first; inpaint then the
    # masked image.
    init_pt = None
    if "image" in images:
        init_pt = pipe.image_processor.preprocess(Image.open(RUNS / images["image"]).convert("RGB"), 64, 64)
        t.put("init_image", init_pt)
    for x, mean, std in rec.encodes:
        if init_pt is not None and torch.equal(x, f32(init_pt)):
            prefix = "vae"
        else:
            # masked_image (the encoder input) is init_image * (mask_condition < 0.5); not stored
            assert torch.equal(x, rec.masked_image), "unexpected vae.encode input"
            assert torch.equal(x, f32(init_pt * (t.d["mask_condition"] < 0.5))), "masked image"
            prefix = "masked_image.vae"
        t.put(f"{prefix}.mean", mean)
        t.put(f"{prefix}.std", std)

    # VAE decode: check it against a decode of the final latents by hand, and the pipeline's
    # postprocessed output against (image / 2 + 0.5).clamp(0, 1).
    assert len(rec.decodes) == 1
    z, image = rec.decodes[0]
    sf = pipe.vae.config.scaling_factor
    with torch.no_grad():
        by_hand = pipe.vae.decode(final / sf).sample
    assert torch.equal(z, final / sf), ("decode input mismatch", (z - final / sf).abs().max())
    # not always bit-equal: oneDNN may pick another convolution kernel for a differently strided input
    decode_recheck = float((by_hand - image).abs().max())
    assert decode_recheck < 1e-5, ("decode mismatch", decode_recheck)
    post = (image / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(post, out.images), "postprocess mismatch"
    t.put("image", image)
    t.put("image.u8", torch.from_numpy((out.images * 255).round().astype(np.uint8)), torch.uint8)

    # TAESD decode of the same latents, as the pipeline does with vae=AutoencoderTiny
    with torch.no_grad():
        taesd_image = taesd.decode(final / taesd.config.scaling_factor).sample
    t.put("taesd.image", taesd_image)
    if cls is StableDiffusionPipeline:
        check = cls.from_pretrained(str(MODELS / model), vae=taesd, torch_dtype=torch.float32)
        check.set_progress_bar_config(disable=True)
        patch_randn(NoiseRecorder())
        with torch.no_grad():
            again = check(**call, generator=torch.Generator("cpu").manual_seed(seed), output_type="pt").images
        assert torch.allclose(again, (taesd_image / 2 + 0.5).clamp(0, 1), atol=0, rtol=0), "taesd mismatch"
    if name == "sd21-img2img":
        with torch.no_grad():
            t.put("taesd.latents", taesd.encode(init_pt).latents)

    for k, (noise, call_info) in enumerate(zip(rec.noise.tensors, rec.noise.calls)):
        t.put(f"noise.{k}", noise)
        call_info["name"] = f"noise.{k}"

    t.save(RUNS / f"{name}.safetensors")
    meta = {
        "run": name,
        "pipeline": cls.__name__,
        "model": model,
        "seed": seed,
        "prompt": params.get("prompt"),
        "negative_prompt": params.get("negative_prompt"),
        "width": params.get("width", 64),
        "height": params.get("height", 64),
        "num_inference_steps": params["num_inference_steps"],
        "denoising_steps_run": n_steps,
        "guidance_scale": guidance,
        "classifier_free_guidance": rec.cfg,
        "strength": params.get("strength"),
        **images,
        "scheduler": {"class": type(pipe.scheduler).__name__, "config": plain_config(pipe.scheduler.config)},
        "vae_scaling_factor": sf,
        "decode_recheck_max_abs_diff": decode_recheck,
        "taesd_scaling_factor": taesd.config.scaling_factor,
        "init_noise_sigma": float(pipe.scheduler.init_noise_sigma),
        "timesteps": rec.timesteps,
        "noise": rec.noise.calls,
        "tensors": t.listing(),
        "versions": VERSIONS,
    }
    write_json(RUNS / f"{name}.json", meta)
    return meta


# --------------------------------------------------------------------------------------------------
# Scheduler fixtures

SCHEDULERS = {
    "EulerDiscreteScheduler": (EulerDiscreteScheduler, {}),
    "EulerAncestralDiscreteScheduler": (EulerAncestralDiscreteScheduler, {}),
    # clip_sample / set_alpha_to_one as SD repos configure them
    "DDIMScheduler": (DDIMScheduler, dict(clip_sample=False, set_alpha_to_one=False)),
    "DPMSolverMultistepScheduler": (DPMSolverMultistepScheduler, {}),
    "PNDMScheduler": (PNDMScheduler, dict(skip_prk_steps=True, set_alpha_to_one=False)),
}
SPACINGS = ("leading", "trailing", "linspace")
STEP_COUNTS = (1, 2, 4, 25)
SCHED_SEED = 7
# Schedulers work elementwise, so a small sample keeps this file small (each stacked tensor is
# steps x 1x4x4x4); the shape matters only for how many normals a noise draw takes.
SCHED_SHAPE = (1, 4, 4, 4)


def model_output_fn(model_input: torch.Tensor, t) -> torch.Tensor:
    return 0.1 * model_input + 0.01 * (float(t) / 1000.0)


def scheduler_fixtures() -> None:
    t = Tensors()
    g = torch.Generator().manual_seed(1234)
    t.put("sample_0", torch.randn(SCHED_SHAPE, generator=g))
    t.put("add_noise.original", torch.randn(SCHED_SHAPE, generator=g))
    t.put("add_noise.noise", torch.randn(SCHED_SHAPE, generator=g))
    sample0, original, add_noise = t.d["sample_0"], t.d["add_noise.original"], t.d["add_noise.noise"]
    combos, skipped, configs = {}, [], {}
    for cname, (cls, extra) in SCHEDULERS.items():
        configs[cname] = plain_config(cls(**SD_BETAS, **extra).config)
        for spacing in SPACINGS:
            config = {**SD_BETAS, **extra, "timestep_spacing": spacing}
            for steps in STEP_COUNTS:
                prefix = f"{cname}.{spacing}.{steps}"
                try:
                    s = cls(**config)
                    s.set_timesteps(steps)
                except Exception as e:  # noqa: BLE001 - recorded in the JSON, not hidden
                    skipped.append({"combo": prefix, "error": f"{type(e).__name__}: {e}"})
                    continue
                if "alphas_cumprod" not in t.d:
                    t.put("alphas_cumprod", s.alphas_cumprod)
                timesteps = s.timesteps.clone()
                t.put(f"{prefix}.timesteps", timesteps)
                if getattr(s, "sigmas", None) is not None:
                    t.put(f"{prefix}.sigmas", s.sigmas)
                sigma0 = float(s.init_noise_sigma)
                t.put(f"{prefix}.init_noise_sigma", torch.tensor(sigma0))

                # the denoising loop as the pipelines run it, on a fake model
                noise = NoiseRecorder()
                patch_randn(noise)
                accepts = set(inspect.signature(s.step).parameters)
                kwargs = {}
                if "generator" in accepts:
                    kwargs["generator"] = torch.Generator().manual_seed(SCHED_SEED)
                if "eta" in accepts:
                    kwargs["eta"] = 0.0
                sample = sample0 * s.init_noise_sigma
                inputs, outputs = [], []
                for ts in timesteps:
                    model_input = s.scale_model_input(sample, ts)
                    sample = s.step(model_output_fn(model_input, ts), ts, sample, **kwargs, return_dict=False)[0]
                    inputs.append(model_input)
                    outputs.append(sample)
                check_replay(noise, SCHED_SEED)
                t.put(f"{prefix}.model_input", torch.stack(inputs))
                t.put(f"{prefix}.prev_sample", torch.stack(outputs))
                if noise.tensors:
                    t.put(f"{prefix}.noise", torch.stack(noise.tensors))

                # img2img's add_noise: a fresh scheduler, begin index as the img2img pipeline sets it
                s2 = cls(**config)
                s2.set_timesteps(steps)
                strength = 0.5 if steps > 1 else 1.0
                init_timestep = min(int(steps * strength), steps)
                t_start = max(steps - init_timestep, 0) * s2.order
                if hasattr(s2, "set_begin_index"):
                    s2.set_begin_index(t_start)
                latent_timestep = s2.timesteps[t_start : t_start + 1]
                t.put(f"{prefix}.add_noise.timestep", latent_timestep)
                t.put(f"{prefix}.add_noise.out", s2.add_noise(original, add_noise, latent_timestep))

                combos[prefix] = {
                    "loop_steps": len(timesteps),
                    "timesteps": [float(x) for x in timesteps],
                    "timesteps_dtype": str(timesteps.dtype).replace("torch.", ""),
                    "sigmas": f"{prefix}.sigmas" in t.d,
                    "init_noise_sigma": sigma0,
                    "noise_draws": len(noise.tensors),
                    "step_kwargs": sorted(kwargs),
                    "add_noise": {"strength": strength, "t_start": t_start, "timestep": float(latent_timestep[0])},
                }
    t.save(RUNS / "schedulers.safetensors")
    write_json(
        RUNS / "schedulers.json",
        {
            "inputs": (
                f"sample_0, add_noise.original, add_noise.noise: randn {list(SCHED_SHAPE)} in that order from "
                "torch.Generator seed 1234"
            ),
            "loop": (
                "sample = sample_0 * init_noise_sigma; for i, t in enumerate(timesteps): "
                "model_input[i] = scale_model_input(sample, t); "
                "model_output = 0.1 * model_input[i] + 0.01 * (t / 1000); "
                "sample = prev_sample[i] = step(model_output, t, sample, "
                "generator=Generator(seed 7) if step takes one, eta=0.0 if step takes it). "
                "noise[k]: the k-th randn_tensor draw during the loop."
            ),
            "add_noise": (
                "fresh scheduler, set_timesteps(steps); strength 0.5 (1.0 for 1 step); "
                "t_start = (steps - min(int(steps * strength), steps)) * order; set_begin_index(t_start) if available; "
                "add_noise.out = add_noise(add_noise.original, add_noise.noise, timesteps[t_start:t_start+1])"
            ),
            "names": (
                "{class}.{spacing}.{steps}.timesteps [n] (f32; see timesteps_dtype for diffusers' dtype), "
                ".sigmas [n+1] (Euler, Euler a, DPM++), .init_noise_sigma [], .model_input [n,1,4,4,4], "
                ".prev_sample [n,1,4,4,4], .noise [k,1,4,4,4] (only when k > 0), .add_noise.timestep [1], "
                ".add_noise.out [1,4,4,4]; alphas_cumprod [1000]"
            ),
            "configs": {k: {**v, "timestep_spacing": "per combo"} for k, v in configs.items()},
            "skipped": skipped,
            "combos": combos,
            "versions": VERSIONS,
        },
    )


# --------------------------------------------------------------------------------------------------
# Tokenizer fixtures

TOKENIZER_PROMPTS = [
    PROMPT,
    NEGATIVE,
    "",
    "A  Red   FOX\tin the\nsnow",
    "wow! such fox!!",
    "a 1024x768 photo, f/2.8, 50mm",
    "it's the fox's den, isn't it?",
    "café crème brûlée, naïve",
    "日本の狐",
    "emoji 🦊 fox",
    "fish &amp; chips",
    "<|startoftext|>hello<|endoftext|>",
    LONG_PROMPT,
]


def tokenizer_fixtures(encoder, merges) -> None:
    ref = ReferenceClipBpe(encoder, merges)
    out = {"prompts": [], "notes": []}
    toks = {m: CLIPTokenizer.from_pretrained(str(MODELS / m / "tokenizer")) for m in ("tiny-sd15", "tiny-sd21")}
    for p in TOKENIZER_PROMPTS:
        entry = {"prompt": p, "reference_simple_tokenizer": ref.encode(p)}
        for m, tok in toks.items():
            entry[m] = {
                "ids": tok(p).input_ids,
                "padded_77": tok(p, padding="max_length", max_length=77, truncation=True).input_ids,
            }
        if entry["tiny-sd15"]["ids"] != entry["reference_simple_tokenizer"]:
            out["notes"].append(f"transformers CLIPTokenizer differs from CLIP's SimpleTokenizer on {p!r}")
        if entry["tiny-sd15"]["ids"] != entry["tiny-sd21"]["ids"]:
            out["notes"].append(f"the pad token '!' changes the unpadded ids of {p!r}")
        out["prompts"].append(entry)
    out["vocab_size"] = len(encoder)
    out["merges"] = len(merges)
    out["versions"] = VERSIONS
    write_json(RUNS / "tokenizer.json", out)


# --------------------------------------------------------------------------------------------------

README = """\
# Local Stable Diffusion parity fixtures

Written by `scripts/local-fixtures.py` (run by hand, not by CI; its header lists the torch /
diffusers / transformers versions) from the real diffusers pipelines on tiny randomly initialised
f32 models. Do not edit by hand; rerun the script.

## Layout

- `models/tiny-sd21/`: SD 2.1 / SD-Turbo shape: linear projections, `attention_head_dim` [2, 4]
  (diffusers' name for head *counts*), gelu CLIP, pad token `!`, EulerAncestralDiscreteScheduler
  with "trailing" spacing. diffusers layout: `model_index.json`, `unet/`, `vae/`, `text_encoder/`,
  `tokenizer/`, `scheduler/`.
- `models/tiny-sd15/`: SD 1.5 shape: conv projections, `attention_head_dim` 4, quick_gelu CLIP, pad
  `<|endoftext|>`, EulerDiscreteScheduler with "leading" spacing.
- `models/tiny-sd15-inpaint/`: tiny-sd15's text encoder, VAE and tokenizer (identical files) with a
  9-input-channel UNet.
- `models/tiny-taesd/`: AutoencoderTiny with TAESD's block structure at 8 channels.
- Tokenizers: CLIP's BPE cut to its first 700 merges, 1214 tokens (`<|startoftext|>` 1212,
  `<|endoftext|>` 1213, `!` 0). VAEs have four blocks (scale factor 8, like SD): 64x64 px is 8x8
  latents.
- `runs/<run>.safetensors` + `runs/<run>.json`: one pipeline call each. The JSON has the parameters,
  the scheduler class and config, the timesteps, the noise draws in order (with who drew each), and
  every tensor's shape. `runs/init.png` / `runs/mask.png` are the img2img and inpaint inputs.
- `runs/schedulers.safetensors` + `.json`: each scheduler alone on a fake model (the JSON says how).
- `runs/tokenizer.json`: token ids of assorted prompts for both tokenizers and for CLIP's own
  SimpleTokenizer algorithm.

## Tensor names in a run

f32, NCHW, except `input_ids` / `uncond_input_ids` (int64) and `image.u8` (uint8, NHWC).

- `noise.{k}`: every `randn_tensor` draw, in order. Replay them in that order instead of an RNG.
- `input_ids`, `text_embeddings`; with CFG also `uncond_input_ids`, `uncond_embeddings`.
- `latents.initial`: the latents entering the loop.
- Per step `i`: `step.{i}.timestep` (scalar), `step.{i}.unet_input` (after `scale_model_input`; with
  CFG a batch of [uncond, cond]; 9 channels [latents, mask, masked_image_latents] for the inpaint
  UNet), `step.{i}.noise_pred` (raw UNet output), `step.{i}.noise_pred_guided` (CFG only),
  `step.{i}.latents` (after `scheduler.step`, and after the mask blend for 4-channel inpainting).
- `latents.final`, `image` (VAE decode of `latents.final / 0.18215`, roughly [-1, 1]), `image.u8`
  (`round(clamp(image / 2 + 0.5, 0, 1) * 255)`), `taesd.image` (tiny-taesd decode of
  `latents.final`, unscaled: TAESD's scaling factor is 1.0).
- img2img: `init_image` ([-1, 1]), `vae.mean`, `vae.std`, `init_latents` (= (mean + std * noise.0)
  * 0.18215), `latent_timestep`, `taesd.latents` (tiny-taesd encode of `init_image`).
- inpaint: `init_image`, `mask_condition` (binarised, 64x64), `mask` (nearest-resized to 8x8),
  `masked_image.vae.mean` / `.std` (encoder on `init_image * (mask_condition < 0.5)`),
  `masked_image_latents`. 4-channel UNet only: `image_latents`, `vae.mean` / `.std`,
  `step.{i}.latents_denoised` (before the blend), and except on the last step
  `step.{i}.init_latents_proper` and `step.{i}.noise_timestep`.

## Tolerance

f32 on CPU: expect agreement to about 1e-4 absolute. Token ids and timesteps match exactly;
`image.u8` may differ by 1 where a value sits on a rounding edge. PyTorch itself differs from itself
by up to 5e-6 between two VAE calls on the same input (convolution kernel choice).
"""


def summary() -> None:
    total = 0
    print("\nsizes:")
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"  {p.stat().st_size:>9}  {p.relative_to(OUT)}")
    print(f"  {total:>9}  total ({total / 1024 / 1024:.2f} MiB)")
    assert total < MAX_BYTES, "fixtures exceed 8 MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bpe", help="bpe_simple_vocab_16e6.txt.gz or an open_clip_torch wheel")
    args = ap.parse_args()

    bpe_text = read_bpe(args.bpe)
    encoder, merges = build_vocab(bpe_text)
    if OUT.exists():
        shutil.rmtree(OUT)
    RUNS.mkdir(parents=True)
    MODELS.mkdir(parents=True)
    (OUT / "README.md").write_text(README, encoding="utf-8")

    build_models(encoder, merges)
    tokenizer_fixtures(encoder, merges)
    init_image().save(RUNS / "init.png")
    mask_image().save(RUNS / "mask.png")
    taesd = AutoencoderTiny.from_pretrained(str(MODELS / "tiny-taesd")).eval()

    run_pipeline("sd21-txt2img", StableDiffusionPipeline, "tiny-sd21", taesd, 2101,
                 prompt=PROMPT, width=64, height=64, num_inference_steps=2, guidance_scale=0.0)
    run_pipeline("sd15-txt2img", StableDiffusionPipeline, "tiny-sd15", taesd, 1501,
                 prompt=PROMPT, negative_prompt=NEGATIVE, width=64, height=64, num_inference_steps=3,
                 guidance_scale=7.5)
    run_pipeline("sd15-txt2img-long", StableDiffusionPipeline, "tiny-sd15", taesd, 1502,
                 prompt=LONG_PROMPT, width=64, height=64, num_inference_steps=1, guidance_scale=7.5)
    run_pipeline("sd21-img2img", StableDiffusionImg2ImgPipeline, "tiny-sd21", taesd, 2102,
                 prompt=PROMPT, image="init.png", strength=0.5, num_inference_steps=4, guidance_scale=0.0)
    run_pipeline("sd15-inpaint-blend", StableDiffusionInpaintPipeline, "tiny-sd15", taesd, 1503,
                 prompt=PROMPT, negative_prompt=NEGATIVE, image="init.png", mask_image="mask.png",
                 width=64, height=64, strength=1.0, num_inference_steps=3, guidance_scale=7.5)
    run_pipeline("sd15-inpaint-9ch", StableDiffusionInpaintPipeline, "tiny-sd15-inpaint", taesd, 1504,
                 prompt=PROMPT, negative_prompt=NEGATIVE, image="init.png", mask_image="mask.png",
                 width=64, height=64, strength=1.0, num_inference_steps=3, guidance_scale=7.5)
    run_pipeline("sd21-txt2img-96x64", StableDiffusionPipeline, "tiny-sd21", taesd, 2103,
                 prompt=PROMPT, width=96, height=64, num_inference_steps=1, guidance_scale=0.0)
    scheduler_fixtures()
    summary()


if __name__ == "__main__":
    main()
