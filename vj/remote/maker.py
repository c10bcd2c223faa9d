"""The box's frame maker: the model loaded once, a streaming loop per show (its settings from the
show's hello), frames made from the newest snapshot and compressed for the way back.

It runs on `vj serve`'s main thread and never touches a socket: the socket thread (server.py) hands
it work through the Desk, and it hands frames back through an inproc socket.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass

import numpy as np

from vj.core.errors import VJError
from vj.core.spec import LoraSpec
from vj.log import log
from vj.remote import wire

JPEG_QUALITY = 85  # 0..100: at 512x512, about 30-60 kB a frame of a diffusion model's picture


@dataclass(frozen=True)
class MakerConfig:
    model: str  # registry name, folder or hub id
    device: str = "auto"
    threads: int | None = None  # torch CPU threads; None: see generate/device.configure_threads
    tiny_vae: bool = False
    loras: tuple[LoraSpec, ...] = ()  # adapters loaded once; shows move them by lora.<name>.weight
    quality: int = JPEG_QUALITY
    wrap: str | None = None  # "module:callable" around each loop: the test and bench hook (as GeneratorConfig.wrap)


@dataclass(frozen=True)
class Made:
    data: np.ndarray  # (h, w, 3) uint8: compressed for the way back beside the next frame (server.Encoder)
    width: int
    height: int
    gen_ms: float
    input: int | None  # id of the pushed image it was made from


class PushedInput:
    """Image-to-image from the show's camera or video: the newest image it pushed, as the loop's
    input source (generate/inputs.py's shape). Written by the socket thread, read by the maker."""

    name = "pushed"
    external = True  # the similarity filter applies, as for a camera here

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest: tuple[int, np.ndarray] | None = None
        self.pixels: np.ndarray | None = None  # the image the last frame was made from
        self.used: int | None = None  # its id

    def push(self, image_id: int, pixels: np.ndarray) -> None:
        with self._lock:
            if self._newest is None or image_id > self._newest[0]:
                self._newest = (image_id, pixels)

    def image(self, t: float, size: tuple[int, int], device):
        from vj.generate.inputs import to_tensor

        with self._lock:
            newest = self._newest
        if newest is None:
            return None
        self.used, self.pixels = newest
        return to_tensor(self.pixels, device)

    def produced(self, img) -> None:
        pass

    def close(self) -> None:
        pass  # kept across a size change: the next push arrives all the same


class Maker:
    """The model, and the loop of the show playing now (None between shows)."""

    def __init__(self, cfg: MakerConfig, progress=log.info) -> None:
        import torch  # noqa: F401

        from vj.generate import device as torch_device
        from vj.generate import registry

        self.cfg = cfg
        self.spec = registry.resolve(cfg.model)
        self.device, dtype = torch_device.pick(cfg.device)
        self.threads = torch_device.configure_threads(self.device, cfg.threads)
        self.model = registry.load(self.spec, self.device, dtype, progress=progress, tiny_vae=cfg.tiny_vae,
                                   loras=cfg.loras)
        self.label = self.spec.label
        self.gan = self.model.family == "gan"
        self.native = self.spec.native_size
        self.loop = None
        self.gen = None  # worker.Generator around the loop: NaN, exceptions, out of memory
        self.feed: PushedInput | None = None
        self.codec = "jpeg"
        self.settings: wire.Settings | None = None

    def begin(self, s: wire.Settings, codec: str) -> tuple[int, int]:
        """A show's loop from its settings -> the frames' (w, h). VJError: one line for the show."""
        from vj.generate.worker import Generator

        self.end()
        adapters = None if self.gan else self.model.loras
        loras = set(adapters.names) if adapters is not None else set()
        missing = [n for n in s.loras if n not in loras]
        if missing:
            have = f"it has {', '.join(sorted(loras))}" if loras else "it has none"
            raise VJError(f"the box has no LoRA {missing[0]!r} ({have}): start vj serve with --lora "
                          f"{missing[0]}=FILE_OR_HUB_ID")
        self.feed = PushedInput() if s.input == "pushed" else None
        loop = self._loop(s, self.feed if s.input == "pushed" else s.input)
        self.loop, self.gen, self.codec, self.settings = loop, Generator(loop), codec, s
        return loop.size

    def _loop(self, s: wire.Settings, input_source):
        from vj.generate import samplers
        from vj.generate.families import make_loop

        pipe = None if self.gan else self.model.pipe  # a GAN has no pipeline (nor scheduler)
        if s.scheduler and pipe is None:
            raise VJError(f"scheduler {s.scheduler!r}: the box's model ({self.label}) has no scheduler")
        base = pipe.scheduler if pipe is not None else None
        batch = s.stream_batch if s.stream_batch is not None else self.device.type == "cuda"
        try:
            if s.scheduler:  # the loop copies it now: the pipeline's own is put back after
                pipe.scheduler = samplers.swap(base, s.scheduler)
            loop = make_loop(self.model, s.size or self.native, s.steps, s.seed, live=True, input=input_source,
                             batch=batch, deep_cache=s.deep_cache, negative=s.negative)
        finally:
            if pipe is not None:
                pipe.scheduler = base
        if self.cfg.wrap:
            mod, _, fn = self.cfg.wrap.partition(":")
            loop = getattr(importlib.import_module(mod), fn)(loop)
        return loop

    def end(self) -> None:
        if self.loop is not None:
            self.loop.close()
        self.loop = self.gen = self.feed = self.settings = None

    def make(self, snap) -> "Made | str":
        """A frame from the snapshot, or the reason there is none ("" when the loop chose to make
        none: its input hardly changed)."""
        gen = self.gen
        errors = gen.errors
        frame = gen.produce(snap)
        if frame is None:
            return gen.last_error if gen.errors != errors else ""
        px = np.ascontiguousarray(frame.pixels)
        used = self.feed.used if self.feed is not None else None
        return Made(px, px.shape[1], px.shape[0], frame.gen_ms, used)


def encode(px: np.ndarray, codec: str, quality: int):
    """The picture as it travels: JPEG (libjpeg-turbo), or the array itself (raw, sent without a copy)."""
    if codec == "raw":
        return px
    import simplejpeg

    return simplejpeg.encode_jpeg(px, quality=quality, colorspace="RGB", fastdct=True)
