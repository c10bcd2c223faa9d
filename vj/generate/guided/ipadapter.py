"""IP-Adapter: a reference image's look steering the picture, through diffusers' own loading code.

`[ipadapter]` names the adapter (a folder or hub id, its weight file, the image encoder's folder);
diffusers' `load_ip_adapter` loads the image encoder and puts the adapter's attention processors in
the UNet. The reference image is encoded by the pipeline's own `encode_image` once per change (a
new still, a grab of the input or a camera, `/vj/grab`), never per frame; its projection into the
UNet's image tokens is kept as well (`_OncePerEmbedding`), so a frame costs only the adapter's extra
attention. `ipadapter.scale` rescales the processors in place when it moves; before the first
reference is there the scale is held at 0 (the model's own picture).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from vj.core.errors import LOAD_ERRORS, ModelLoadError, first_line
from vj.core.spec import IpAdapterSpec
from vj.generate.guided.loading import quiet_diffusers


class _OncePerEmbedding(torch.nn.Module):
    """The UNet's image projection (encoder_hid_proj), computed once per image embedding: the same
    tensors in (the loop keeps them while the reference stays), the kept tokens out."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.computed = 0
        self._kept: dict[tuple[int, ...], tuple[list, object]] = {}

    def forward(self, embeds):
        key = tuple(id(e) for e in embeds)
        got = self._kept.get(key)
        if got is None or torch.is_grad_enabled():
            out = self.inner(embeds)
            if len(self._kept) >= 4:  # a few row counts (guidance, the stream batch) at most
                self._kept.clear()
            self._kept[key] = (list(embeds), out)  # the inputs held: their ids can't be reused meanwhile
            self.computed += 1
            return out
        return got[1]


class IpAdapter:
    """The loaded adapter: encodes references, scales the processors, gives each UNet call its
    image embeddings."""

    def __init__(self, pipe, spec: IpAdapterSpec) -> None:
        self.pipe, self.spec = pipe, spec
        self.memo = _OncePerEmbedding(pipe.unet.encoder_hid_proj)
        pipe.unet.encoder_hid_proj = self.memo
        layer = self.memo.inner.image_projection_layers[0]
        from diffusers.models.embeddings import ImageProjection

        self.hidden_states = not isinstance(layer, ImageProjection)  # IP-Adapter Plus reads the encoder's tokens
        self.encoded = 0  # references encoded (the tests count them)
        self.scale: float | None = None
        self._rows: dict[tuple[int, int, bool], list[torch.Tensor]] = {}
        self._ref: tuple[int, torch.Tensor, torch.Tensor] | None = None  # (version, embeds, uncond embeds)

    def encode(self, rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """A reference picture (h, w, 3) uint8 -> (embeds, unconditional embeds), by the pipeline's
        own encode_image (its feature extractor: resize, crop, CLIP's normalisation)."""
        from PIL import Image

        with torch.inference_mode():
            e, u = self.pipe.encode_image(Image.fromarray(rgb), self.pipe.unet.device, 1, self.hidden_states)
        self.encoded += 1
        return e, u

    def set_reference(self, version: int, embeds: tuple[torch.Tensor, torch.Tensor]) -> None:
        if self._ref is None or self._ref[0] != version:
            self._ref = (version, embeds[0], embeds[1])
            self._rows.clear()

    def apply(self, scale: float) -> None:
        """Rescale the adapter's processors when the parameter moved (0 while there is no reference)."""
        scale = scale if self._ref is not None else 0.0
        if scale != self.scale:
            self.pipe.set_ip_adapter_scale(scale)
            self.scale = scale

    def added(self, rows: int, guided: bool) -> list[torch.Tensor]:
        """image_embeds for a UNet call of `rows` rows (with guidance: the unconditional half first,
        as diffusers orders them). The same list object while the reference and rows stay."""
        version = self._ref[0] if self._ref is not None else -1
        key = (version, rows, guided)
        got = self._rows.get(key)
        if got is None:
            if self._ref is None:  # no reference yet: zeros (the scale is 0 meanwhile)
                dim = self.memo.inner.image_projection_layers[0]
                e = u = torch.zeros(1, *self._zero_shape(dim), device=self.pipe.unet.device, dtype=self.pipe.unet.dtype)
            else:
                _, e, u = self._ref
            e = e.to(self.pipe.unet.dtype)
            u = u.to(self.pipe.unet.dtype)
            half = rows // 2 if guided else rows
            parts = [u.expand(half, *u.shape[1:]), e.expand(half, *e.shape[1:])] if guided else [e.expand(half, *e.shape[1:])]
            got = self._rows[key] = [torch.cat(parts).unsqueeze(1)]  # (rows, 1 image, ...)
        return got

    def _zero_shape(self, layer) -> tuple[int, ...]:
        proj = getattr(layer, "image_embeds", None)
        if proj is not None:  # ImageProjection: Linear(clip dim -> tokens * dim)
            return (proj.in_features,)
        enc = self.pipe.image_encoder
        return (enc.config.image_size // enc.config.patch_size) ** 2 + 1, enc.config.hidden_size


def load(spec: IpAdapterSpec, model, progress: Callable[[str], None] = lambda s: None) -> IpAdapter:
    """diffusers' load_ip_adapter on the model's pipeline; one line when it can't."""
    pipe = model.pipe
    if model.spec.builtin or model.family == "gan":
        raise ModelLoadError(f"[ipadapter]: {model.spec.name} has no IP-Adapter (its text encoder is its own); "
                             f"leave [ipadapter] out, or use an SD 1.x/2.x or SDXL model")
    try:
        with quiet_diffusers():
            pipe.load_ip_adapter(spec.model, subfolder=spec.subfolder, weight_name=spec.weights,
                                 image_encoder_folder=spec.image_encoder)
            pipe.image_encoder.to(device=model.device, dtype=model.dtype).eval().requires_grad_(False)
            pipe.unet.to(device=model.device, dtype=model.dtype)
    except LOAD_ERRORS as e:
        raise ModelLoadError(f"[ipadapter]: can't load {spec.model} ({spec.subfolder or '.'}/{spec.weights}): "
                             f"{first_line(e)}; a folder or a hub id already in the local Hugging Face cache, with its "
                             f"image encoder in {spec.image_encoder}/") from None
    progress(f"ipadapter: {spec.model} ({spec.weights}), reference {spec.image} (ipadapter.scale = {spec.scale:g})")
    return IpAdapter(pipe, spec)
