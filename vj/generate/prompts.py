"""Prompt conditioning: text is encoded once (diffusers' own encode_prompt), cached, and blended.

- The cache encodes new text off the hot path: live, `get()` never waits; it asks a background
  thread and returns None until the embedding is ready (the loop keeps the old one meanwhile and
  fades the new one in). Offline (`vj render`) it encodes at once, so renders repeat frame for frame.
- Blending: the weighted sum of the cached embeddings, or a slerp (per token, along the great circle
  between embeddings), or anything between (`prompt.slerp`); every weight is a parameter.
- Chaos: pushes the blend away from the empty prompt (extrapolation, as guidance does in latent
  space) and adds a slowly turning noise in embedding space. Small chaos, small change; large chaos,
  images the prompts never asked for.
"""

from __future__ import annotations

import collections
import queue
import threading

import torch

from vj.generate.conditioning import Conditioning
from vj.generate.noise import NoiseField
from vj.generate.registry import LoadedModel
from vj.log import Throttled


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
    """text -> Conditioning, least recently used out first (bounded: a night of new prompts can't
    grow it). With background=True new text is encoded on a thread of its own."""

    def __init__(self, model: LoadedModel, capacity: int = 64, background: bool = False, encoder=encode) -> None:
        self.model = model
        self.capacity = capacity
        self.background = background
        self._encoder = encoder  # (model, text) -> Conditioning: tests slow it down to show nothing waits
        self._cache: collections.OrderedDict[str, Conditioning] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # notified whenever an encoding lands or fails
        self._pending: set[str] = set()
        self._failed: dict[str, str] = {}
        self._queue: queue.Queue[str] = queue.Queue(maxsize=8)  # bounded: a full queue means "ask again"
        self._thread: threading.Thread | None = None
        self._report = Throttled(10.0)
        self.encoded = 0  # how many times text really went through the text encoder
        self._uncond: tuple[str, Conditioning] | None = None  # (negative prompt, its conditioning)

    def get(self, text: str, wait: bool | None = None) -> Conditioning | None:
        """The conditioning for `text`; None while it is being encoded in the background (unless
        `wait`: then this thread encodes it, or waits for the encoder thread that already is)."""
        wait = (not self.background) if wait is None else wait
        with self._ready:
            while True:
                c = self._cache.get(text)
                if c is not None:
                    self._cache.move_to_end(text)
                    return c
                if text in self._failed:
                    return None
                if text not in self._pending:
                    break
                if not wait:
                    return None
                self._ready.wait(1.0)
            if not wait:
                try:
                    self._queue.put_nowait(text)
                except queue.Full:
                    return None  # asked again next frame
                self._pending.add(text)
        if wait:
            return self._store(text, self._encoder(self.model, text))
        self._start()
        return None

    def unconditional(self, negative: str = "") -> Conditioning | None:
        """What classifier-free guidance steers away from: the negative prompt's embedding (the empty
        prompt's when there is none; zeros for SDXL models whose config asks for them, as diffusers
        does). Encoded once and pinned (a night of new prompts can't push it out of the cache);
        live, None until the encoder thread has it."""
        pinned = self._uncond
        if pinned is not None and pinned[0] == negative:
            return pinned[1]
        c = self.get(negative)
        if c is None:
            return None
        if not negative and self.model.family == "sdxl" and getattr(self.model.pipe.config, "force_zeros_for_empty_prompt", False):
            c = Conditioning(torch.zeros_like(c.embeds), torch.zeros_like(c.pooled))
        self._uncond = (negative, c)
        return c

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _store(self, text: str, c: Conditioning) -> Conditioning:
        with self._lock:
            self.encoded += 1
            self._cache[text] = c
            self._pending.discard(text)
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
            self._ready.notify_all()
        return c

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="vj-prompt-encoder", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        stream = torch.cuda.Stream(self.model.device) if self.model.device.type == "cuda" else None
        while True:
            text = self._queue.get()
            try:
                if stream is not None:  # its own CUDA stream: the frames' kernels don't queue behind it
                    with torch.cuda.stream(stream):
                        c = self._encoder(self.model, text)
                    stream.synchronize()
                else:
                    c = self._encoder(self.model, text)
                self._store(text, c)
            except Exception as e:  # one line, and the old prompt stays
                with self._lock:
                    self._pending.discard(text)
                    self._failed[text] = str(e)
                    self._ready.notify_all()
                self._report(30, f"generator: prompt {text[:60]!r} could not be encoded ({type(e).__name__}: {e}); "
                                f"keeping the previous one")


class Chaos:
    """Perturbation and extrapolation in embedding space, continuous in `amount` (0: nothing)."""

    NOISE = 0.5  # noise, in units of the embeddings' own spread, at amount 1

    def __init__(self, neutral: Conditioning, seed: int) -> None:
        self.neutral = neutral  # the empty prompt: what "away from" means
        e = neutral.embeds.float()
        self.spread = float(e.std())
        self.noise = NoiseField(tuple(e.shape), (seed ^ 0x5EED_CA05,), e.device, neutral.embeds.dtype)
        self.pooled_noise = None
        if neutral.pooled is not None:
            p = neutral.pooled
            self.pooled_spread = float(p.float().std())
            self.pooled_noise = NoiseField(tuple(p.shape), (seed ^ 0x5EED_CA06,), p.device, p.dtype)

    def apply(self, c: Conditioning, amount: float, phase: float) -> Conditioning:
        if amount == 0.0:
            return c
        embeds = c.embeds + amount * (c.embeds - self.neutral.embeds) \
            + (amount * self.NOISE * self.spread) * self.noise.at(phase, 0.0)
        pooled = c.pooled
        if pooled is not None and self.pooled_noise is not None:
            pooled = pooled + amount * (pooled - self.neutral.pooled) \
                + (amount * self.NOISE * self.pooled_spread) * self.pooled_noise.at(phase, 0.0)
        return Conditioning(embeds, pooled)
