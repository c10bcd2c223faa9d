"""ControlNets in the streaming loop: a picture's structure kept while the prompt field repaints it.

Each [[control]] is a diffusers `ControlNetModel`, loaded by its own `from_pretrained` (a folder, a
hub id, or the built-in seedling's branch `seedling-edges`). In a frame, every UNet call is preceded
by one call of each active ControlNet on the same latents, timestep and text; their down and middle
residuals, each scaled by `control.<name>.scale`, are summed (diffusers' MultiControlNet) and fed to
the UNet in the same call. A control acts on the steps between its `start` and `end` (shares of the
steps, diffusers' control_guidance_start/end); at scale 0 it is not run at all, so the picture is
exactly the model's own.

What does not change per frame is not computed per frame (StreamDiffusion's rule): the map's tensor
is made once per new map, and the ControlNet's encoding of the map (its conditioning embedding, the
part that reads the map and nothing else) once per new map too (`_OncePerMap`), however many steps,
rows and frames use it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from vj.core.errors import LOAD_ERRORS, ModelLoadError, first_line
from vj.core.spec import ControlSpec
from vj.generate.guided.loading import quiet_diffusers
from vj.log import log


class _OncePerMap(torch.nn.Module):
    """A ControlNet's conditioning embedding, computed once per map tensor: the same tensor object
    in, the kept result out. The loop hands the same tensor while the map stays (maps.worker)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.computed = 0  # how often the map was really encoded (the tests count it)
        self._key: torch.Tensor | None = None
        self._out: torch.Tensor | None = None

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        if cond is not self._key or self._out is None or torch.is_grad_enabled():
            out = self.inner(cond)
            if torch.is_grad_enabled():  # training reads it afresh each time
                return out
            self._key, self._out = cond, out
            self.computed += 1
        return self._out


@dataclass
class Control:
    """One loaded ControlNet and its set entry."""

    spec: ControlSpec
    net: torch.nn.Module  # diffusers ControlNetModel
    embedding: _OncePerMap
    calls: int = 0  # ControlNet forward calls (the tests count them)
    straightens: bool = False  # a framed seedling's branch: the UNet's frame straightened by its scale (seedling/control.py)
    _tensor: tuple[int, torch.Tensor] | None = field(default=None, repr=False)  # (map version, its tensor)

    @property
    def channels(self) -> int:
        return int(self.net.config.conditioning_channels)

    def tensor(self, version: int, pixels: np.ndarray, device, dtype) -> torch.Tensor:
        """The map as the ControlNet reads it, (1, C, H, W) in 0..1: made once per map version."""
        if self._tensor is None or self._tensor[0] != version:
            t = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
            t = t.unsqueeze(-1) if t.ndim == 2 else t  # (h, w, c)
            t = t.permute(2, 0, 1).unsqueeze(0).to(dtype) / 255.0
            c = self.channels
            if t.shape[1] != c:
                t = t.mean(1, keepdim=True).expand(1, c, -1, -1) if c != 1 else t.mean(1, keepdim=True)
            self._tensor = (version, t.contiguous())
        return self._tensor[1]


def acts(spec: ControlSpec, step: int, steps: int) -> bool:
    """Does the control act at step `step` of `steps`? (diffusers' controlnet_keep)"""
    return not (step / steps < spec.start or (step + 1) / steps > spec.end)


def straightness(controls: Sequence[tuple[Control, torch.Tensor, float, torch.Tensor | None]]) -> float:
    """How far the seedling's frame is straightened in this call, 0..1: the summed scales of the
    acting controls whose branch was trained on the straight frame (at scale 0 the model paints its
    own frame, from 1 on the map's structure on a straight one)."""
    return min(1.0, sum(scale for c, _, scale, _ in controls if c.straightens))


def residuals(controls: Sequence[tuple[Control, torch.Tensor, float, torch.Tensor | None]], x: torch.Tensor,
              t: torch.Tensor, embeds: torch.Tensor, added: dict) -> dict:
    """The controls on these rows, their residuals summed (diffusers' MultiControlNet): the UNet's
    extra keyword arguments. Each entry: (control, map tensor, scale, per-row 0/1 or None: all rows)."""
    down: list[torch.Tensor] | None = None
    mid: torch.Tensor | None = None
    for c, cond, scale, keep in controls:
        c.calls += 1
        d, m = c.net(x, t, encoder_hidden_states=embeds, controlnet_cond=cond, conditioning_scale=scale,
                     return_dict=False, **added)
        if keep is not None:
            d, m = [r * keep for r in d], m * keep
        if down is None:
            down, mid = list(d), m
        else:
            down, mid = [a + b for a, b in zip(down, d)], mid + m
    return {"down_block_additional_residuals": tuple(down), "mid_block_additional_residual": mid}


# -- loading -----------------------------------------------------------------------------------------
def _builtin_folder(name: str, unet) -> Path | None:
    """seedling-edges: the branch trained on the season of the seedling it guides (weights/<season>/edges,
    the newest that fits the UNet); else where the newest season's would be (said missing)."""
    if name != "seedling-edges":
        return None
    from vj.seedling.model import WEIGHTS, WEIGHTS_ROOT

    for folder in sorted(WEIGHTS_ROOT.glob("*/edges"), reverse=True):
        try:
            config = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if _fits(config, unet.config) is None:
            return folder
    return WEIGHTS / "edges"


def _fits(a, b) -> str | None:
    """Why a ControlNet's config `a` does not fit the UNet's config `b` (None: it does)."""
    for key in ("in_channels", "block_out_channels", "cross_attention_dim"):
        if list(np.atleast_1d(a.get(key))) != list(np.atleast_1d(b.get(key))):
            return f"its {key} is {a.get(key)}, the model's {b.get(key)}"
    if (a.get("addition_embed_type") or None) != (b.get("addition_embed_type") or None):
        return "it is made for another family (SD 1.x/2.x against SDXL)"
    return None


def _from_pretrained(spec: ControlSpec, dtype: torch.dtype, unet):
    """The ControlNet and the folder it came from (None: a hub id)."""
    from diffusers import ControlNetModel

    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    source = _builtin_folder(spec.model, unet) or spec.model
    if isinstance(source, Path) and not (source / "config.json").is_file():
        raise ModelLoadError(f"control {spec.name!r}: the built-in {spec.model} has no weights in {source} "
                             f"(`vj train --control edges` writes them)")
    folder = source if isinstance(source, Path) else Path(source) if Path(source).is_dir() else None
    try:
        with quiet_diffusers():
            return ControlNetModel.from_pretrained(str(source), torch_dtype=dtype), folder
    except LOAD_ERRORS as e:
        raise ModelLoadError(f"control {spec.name!r}: can't load ControlNet {spec.model} ({first_line(e)}); a diffusers "
                             f"ControlNet folder (config.json + weights), a hub id already in the local Hugging Face "
                             f"cache, or seedling-edges with the seedling") from None


def load(specs: Sequence[ControlSpec], unet, device: torch.device, dtype: torch.dtype,
         progress: Callable[[str], None] = lambda s: None) -> list[Control]:
    """The set's ControlNets on the device. One that can't be loaded, or does not fit the model, is
    said in one line and left out: the show goes on without it."""
    from vj.seedling.model import wants_straight_frame

    framed = hasattr(getattr(unet, "conv_in", None), "straight")  # the seedling's second season (model._Framed)
    out = []
    for spec in specs:
        try:
            net, folder = _from_pretrained(spec, dtype, unet)
            why = _fits(net.config, unet.config)
            if why:
                raise ModelLoadError(f"control {spec.name!r}: {spec.model} does not fit this model's UNet ({why})")
        except ModelLoadError as e:
            log.warning(f"{e}; the show goes on without it")
            continue
        with quiet_diffusers():
            net = net.to(device=device, dtype=dtype).eval().requires_grad_(False)
        memo = _OncePerMap(net.controlnet_cond_embedding)
        net.controlnet_cond_embedding = memo
        out.append(Control(spec, net, memo, straightens=framed and folder is not None and wants_straight_frame(folder)))
        progress(f"control {spec.name}: {spec.model}, {spec.preprocessor} of {spec.source} "
                 f"(control.{spec.name}.scale = {spec.scale:g})")
    return out
