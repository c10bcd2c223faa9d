"""Prompt conditioning: text is encoded once (diffusers' own encode_prompt) and cached.

Blending is a weighted sum of the cached embeddings, every weight a parameter
(`prompt.<n>.weight`): a move of a fader re-encodes nothing.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Sequence

import torch

from vj.generate.registry import LoadedModel


@dataclass(frozen=True)
class Conditioning:
    embeds: torch.Tensor  # (1, 77, D): token states the UNet cross-attends to
    pooled: torch.Tensor | None = None  # (1, P): SDXL's pooled text embedding

    @staticmethod
    def blend(parts: Sequence[tuple[float, "Conditioning"]]) -> "Conditioning":
        embeds = sum(w * c.embeds for w, c in parts)
        pooled = None if parts[0][1].pooled is None else sum(w * c.pooled for w, c in parts)
        return Conditioning(embeds, pooled)


def encode(model: LoadedModel, text: str) -> Conditioning:
    pipe = model.pipe
    with torch.inference_mode():
        if model.family == "sdxl":
            embeds, _, pooled, _ = pipe.encode_prompt(prompt=text, device=model.device, num_images_per_prompt=1,
                                                      do_classifier_free_guidance=False)
            return Conditioning(embeds.to(model.dtype), pooled.to(model.dtype))
        embeds, _ = pipe.encode_prompt(text, model.device, 1, False)
        return Conditioning(embeds.to(model.dtype))


class PromptCache:
    """text -> Conditioning, least recently used out first: bounded, so a night of new prompts can't grow it."""

    def __init__(self, model: LoadedModel, capacity: int = 64) -> None:
        self.model = model
        self.capacity = capacity
        self._cache: collections.OrderedDict[str, Conditioning] = collections.OrderedDict()
        self.encoded = 0  # how many times text really went through the text encoder

    def get(self, text: str) -> Conditioning:
        c = self._cache.get(text)
        if c is None:
            c = encode(self.model, text)
            self.encoded += 1
            self._cache[text] = c
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return c
