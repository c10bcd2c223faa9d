"""The layers' own images: stills, videos and cameras (the generator, feedback and shader layers
have none: they read the uploaded frames, the program image, or draw themselves), and each
generator's input image (an `input` layer shows it, and the main one's the preview beside the program)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vj.render import layers as stack


def rgb_texture(ctx, size: tuple[int, int]):
    """A texture for uploaded (h, w, 3) uint8 pixels: filtered, clamped at its edges."""
    tex = ctx.texture(size, 3, alignment=1)
    tex.filter = (ctx.LINEAR, ctx.LINEAR)
    tex.repeat_x = tex.repeat_y = False
    return tex


@dataclass
class LayerImage:
    """A still, video or camera layer's own image."""

    tex: Any  # the texture the stack samples
    size: tuple[int, int]  # its size, pixels
    flip: float  # 1: rows top-first (uploaded pixels), 0: drawn by GL
    reader: Any = None  # a video or camera layer: its VideoFile / Camera
    serial: int = -1  # the reader's frame last uploaded


class LayerSources:
    """The images of a stack's still, video and camera layers (None for the others)."""

    def __init__(self, ctx, size: tuple[int, int], layers: tuple[stack.LayerSpec, ...], live: bool) -> None:
        self.ctx = ctx
        self.size = size
        self.live = live  # video layers: paced by the clock on a thread (live) or read frame-exact (offline)
        self.layers = layers
        self.images = [self._open(i, l) for i, l in enumerate(layers)]
        self._inputs: dict[str, Any] = {}  # each generator's camera or video input (upload_input), by name ("": main)
        self._map = None  # the main generator's control map (upload_map), for a `control` layer

    def _open(self, i: int, layer: stack.LayerSpec) -> LayerImage | None:
        if layer.kind in ("generator", "shader", "feedback", "input", "control"):
            return None
        if layer.kind == "image":
            from PIL import Image

            img = np.asarray(Image.open(layer.arg).convert("RGBA"))
            h, w = img.shape[:2]
            tex = self.ctx.texture((w, h), 4, np.ascontiguousarray(img).tobytes())
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            return LayerImage(tex, (w, h), 1.0)
        if layer.kind in ("video", "camera"):  # read at the output size on a thread (a file offline: in step);
            from vj.media import Camera, VideoFile  # uploaded when a new frame is there

            arg = layer.arg
            video = (VideoFile(Path(arg), self.size, self.live) if layer.kind == "video"
                     else Camera(int(arg) if arg.isdigit() else arg, self.size))
            tex = rgb_texture(self.ctx, self.size)
            tex.write(np.zeros((self.size[1], self.size[0], 3), np.uint8))
            return LayerImage(tex, self.size, 1.0, reader=video)
        raise ValueError(f"layer {i + 1}: source {layer.source!r}")

    def update(self, t: float) -> None:
        """Video and camera layers take their newest frame."""
        for img in self.images:
            if img is not None and img.reader is not None:
                px = img.reader.frame(t)
                if px is not None and img.reader.serial != img.serial:
                    img.tex.write(px)
                    img.serial = img.reader.serial

    def upload_input(self, pixels: np.ndarray, generator: str = "") -> None:
        """The camera or video image the newest generated frame of `generator` ("": the main one) was
        made from, (h, w, 3) uint8 with row 0 at the top: an input layer shows it, and the main one's
        is shown beside the program in the preview's split view."""
        self._inputs[generator] = self._written(self._inputs.get(generator), pixels)

    def upload_map(self, pixels: np.ndarray) -> None:
        """The first [[control]]'s map the newest generated frame was guided by, (h, w, 3) uint8."""
        self._map = self._written(self._map, pixels)

    def _written(self, tex, pixels: np.ndarray):
        """`pixels` in `tex`, or in a new texture of their size (the old one released)."""
        h, w = pixels.shape[:2]
        if tex is None or tex.size != (w, h):
            if tex is not None:
                tex.release()
            tex = rgb_texture(self.ctx, (w, h))
        tex.write(np.ascontiguousarray(pixels))
        return tex

    @property
    def map_image(self):
        """The control map as last uploaded (None before the first)."""
        return self._map

    @property
    def input_image(self):
        """The main generator's input as last uploaded (None before the first)."""
        return self._inputs.get("")

    def input_of(self, generator: str):
        """A generator's input as last uploaded ("": the main one; None before the first)."""
        return self._inputs.get(generator)

    def input_feed(self) -> tuple[Any, tuple[int, int], str] | None:
        """(texture, size, what): the generator's camera or video input, else the first camera or
        video layer; None when there is neither."""
        main = self._inputs.get("")
        if main is not None:
            return main, main.size, "generator input"
        for layer, img in zip(self.layers, self.images):
            if img is not None and img.reader is not None:
                return img.tex, img.size, layer.source
        return None

    def close(self) -> None:
        """Stop what reads for the layers (video decoders, cameras)."""
        for img in self.images:
            if img is not None and img.reader is not None:
                img.reader.close()
