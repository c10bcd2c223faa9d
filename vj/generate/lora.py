"""LoRA: low-rank additions to a model's UNet, each one a fader (`lora.<name>.weight`, 0..2).

A set lists LoRA files or hub ids ([[lora]]); each is loaded once, at start, into the UNet as a
peft adapter of its own name. Moving its weight rescales the adapter's layers in place (peft's
set_scale on the layers found once at load): no reload, nothing re-encoded, microseconds. Only the
UNet's share of a LoRA is loaded: a text-encoder share would change every cached prompt embedding
with the fader, so it is left out (said once in the log).

A registry model can also carry a LoRA of its own (sd15-lcm: LCM-LoRA): that one is fused into the
UNet's weights at load and its layers removed, so it costs nothing per frame.
"""

from __future__ import annotations

import warnings
from typing import Mapping

from vj.core.errors import ModelLoadError
from vj.log import log


def _unet_only(pipe, source: str, name: str) -> None:
    """Load the UNet part of `source` into pipe.unet as adapter `name`."""
    try:
        state, alphas, meta = pipe.lora_state_dict(source, return_lora_metadata=True)
    except (OSError, ValueError, EnvironmentError) as e:
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"lora {name!r}: can't read {source} ({reason}); a LoRA .safetensors file, or a hub id "
                             f"already in the local Hugging Face cache") from None
    if any(k.startswith(("text_encoder", "lora_te")) for k in state):
        log.info(f"lora {name!r}: its text-encoder layers are left out (the fader plays the UNet's share)")
    state = {k: v for k, v in state.items() if not k.startswith(("text_encoder", "lora_te"))}
    if not state:
        raise ModelLoadError(f"lora {name!r}: {source} has no UNet layers")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*multiple adapters")  # peft's note on a second one: meant
            pipe.load_lora_into_unet(state, network_alphas=alphas, unet=pipe.unet, adapter_name=name, metadata=meta,
                                     _pipeline=pipe)
    except (ValueError, RuntimeError, KeyError) as e:  # shapes of another model family
        raise ModelLoadError(f"lora {name!r}: {source} does not fit this model's UNet "
                             f"({str(e).strip().splitlines()[0][:160]}); a LoRA made for another family?") from None


def fuse(pipe, source: str) -> None:
    """Bake a LoRA into the UNet's weights at full strength and remove its layers (a model's own)."""
    _unet_only(pipe, source, "builtin")
    pipe.unet.fuse_lora(adapter_names=["builtin"])
    pipe.unet.unload_lora()


class Loras:
    """The set's LoRA adapters in one UNet, each weighted by its parameter."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.weights: dict[str, float] = {}  # name -> the weight its layers are scaled to now
        self._layers: list = []

    @property
    def names(self) -> list[str]:
        return list(self.weights)

    def load(self, name: str, source: str, weight: float = 1.0) -> None:
        if name in self.weights:
            raise ModelLoadError(f"lora {name!r} is already loaded")
        _unet_only(self.pipe, source, name)
        self.weights[name] = float("nan")  # scaled below
        self._activate()
        self._scale(name, weight)

    def unload(self, name: str) -> None:
        """Take the adapter out of the UNet (its layers and weights freed)."""
        if name not in self.weights:
            return
        self.pipe.unet.delete_adapters(name)
        del self.weights[name]
        self._activate()

    def apply(self, values: Mapping[str, float]) -> None:
        """Rescale the adapters whose parameter moved (once a frame, on the generator's thread)."""
        for name, now in self.weights.items():
            w = values.get(f"lora.{name}.weight", now)
            if w != now:
                self._scale(name, w)

    def _activate(self) -> None:
        """All adapters active at once; set_adapters puts every scale back to 1, so each is rescaled."""
        from peft.tuners.lora import LoraLayer

        unet = self.pipe.unet
        if self.weights:
            unet.set_adapters(self.names)
        self._layers = [m for m in unet.modules() if isinstance(m, LoraLayer)]
        for n, w in list(self.weights.items()):
            if w == w:  # NaN: the one being loaded, scaled by load()
                self._scale(n, w)

    def _scale(self, name: str, weight: float) -> None:
        for m in self._layers:
            m.set_scale(name, weight)  # peft: scaling = weight * alpha / rank
        self.weights[name] = weight
