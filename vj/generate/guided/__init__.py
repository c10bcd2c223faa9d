"""Guided generation: ControlNets keep a picture's structure ([[control]], controlnet.py), an
IP-Adapter a reference image's look ([ipadapter], ipadapter.py). `Guided` is what the streaming loop
holds: the sources the controls and the reference read, their maps made off the generator's thread
(vj/maps), and, for each UNet call, the extra arguments (residuals, image embeddings).

Per frame, the loop calls `frame(snap, input_rgb)` once: each control offers the picture it reads
to its map worker and takes the newest map (kept while the picture hardly changes:
`control.similarity`); the reference is taken again when `ipadapter.grab` moves. Then `unet_kwargs`
for each UNet call. Nothing that stays from one frame to the next is computed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vj.core.errors import ModelLoadError
from vj.core.snapshot import Snapshot
from vj.generate.guided.controlnet import Control, acts, residuals, straightness
from vj.generate.guided.ipadapter import IpAdapter
from vj.log import log
from vj.maps.preprocess import as_rgb, preprocessor
from vj.maps.worker import MapWorker

FIRST_MAP_WAIT = 2.0  # s: live, the first frame waits this long for its first map (once)


def _still(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A picture file covered and cropped to `size` (the generator's), (h, w, 3) uint8."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.fit(im.convert("RGB"), size, Image.BILINEAR))


class Source:
    """What a control or the reference reads: the generator's input or its own last frame (both
    handed in per frame), a still, a video file or a camera (read here, at the generator's size)."""

    def __init__(self, spec: str, size: tuple[int, int], live: bool) -> None:
        self.spec, self.reader, self.still = spec, None, None
        kind, _, arg = spec.partition(":")
        if kind == "image":
            self.still = _still(Path(arg), size)
        elif kind == "video":
            from vj.media import VideoFile

            self.reader = VideoFile(Path(arg), size, live)
        elif kind == "camera":
            from vj.media import Camera

            self.reader = Camera(int(arg) if arg.isdigit() else arg, size)

    def frame(self, t: float, input_rgb: Callable[[], np.ndarray | None],
              previous: Callable[[], np.ndarray | None] = lambda: None,
              program: Callable[[], np.ndarray | None] = lambda: None) -> np.ndarray | None:
        if self.still is not None:
            return self.still
        if self.reader is not None:
            return self.reader.frame(t)
        if self.spec == "feedback":  # the structure of what it made last (None before its first frame)
            return previous()
        if self.spec == "program":  # what the audience saw, composited, a frame or a few ago (output/program.py)
            return program()
        return input_rgb()

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


@dataclass
class FrameGuide:
    """This frame's guidance: the active controls (each with its map tensor and scale), the adapter."""

    controls: list[tuple[Control, torch.Tensor, float]]
    ip: IpAdapter | None
    steps: int

    def unet_kwargs(self, x: torch.Tensor, t: torch.Tensor, embeds: torch.Tensor, added: dict, steps: list[int],
                    guided: bool) -> tuple[dict, float]:
        """Extra keyword arguments for one UNet call on x's rows, and how far the seedling's frame is
        straightened for it (controlnet.straightness). `added`: the call's own (SDXL's text_embeds
        and time_ids). `steps`: the step the rows are at (one for all, or one per row with the stream
        batch); with guidance the rows are doubled (unconditional first)."""
        kw: dict = {}
        straight = 0.0
        on = []
        for c, cond, scale in self.controls:
            rows = [acts(c.spec, s, self.steps) for s in steps]
            if not any(rows):
                continue
            keep = None
            if not all(rows):  # rows at different steps (the stream batch): only its own rows
                keep = torch.tensor(rows * (2 if guided else 1), dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
            on.append((c, cond, scale, keep))
        if on:
            kw.update(residuals(on, x, t, embeds, added))
            straight = straightness(on)
        if self.ip is not None:
            kw["added_cond_kwargs"] = dict(added.get("added_cond_kwargs", {}),
                                           image_embeds=self.ip.added(x.shape[0], guided))
        return kw, straight


class Guided:
    def __init__(self, model, size: tuple[int, int], steps: int, live: bool, has_input: bool) -> None:
        self.controls: list[Control] = []
        self.ip: IpAdapter | None = model.ip_adapter
        self.steps, self.live, self.device, self.dtype = steps, live, model.device, model.dtype
        self.sources: list[Source] = []
        self.workers: list[MapWorker] = []
        for c in model.controls or ():
            try:
                make_map = preprocessor(c.spec.preprocessor, str(model.device))
            except ModelLoadError as e:  # a depth network that isn't there: this control is left out
                log.warning(f"control {c.spec.name}: {e}; the show goes on without it")
                continue
            if c.spec.source == "input" and not has_input:
                log.warning(f"control {c.spec.name}: source = \"input\", but no [generator] input (camera, video "
                            f"or feedback) is given; it acts once there is one")
            self.controls.append(c)
            self.sources.append(Source(c.spec.source, size, live))
            self.workers.append(MapWorker(c.spec.name, make_map, live))
        self._ref_source = Source(self.ip.spec.image, size, live) if self.ip is not None else None
        self._ref_worker = MapWorker("ipadapter", self.ip.encode, live) if self.ip is not None else None
        self._grab: float | None = None  # ipadapter.grab's value at the last grab (None: none yet)
        self._waited = False
        self._shown: tuple | None = None  # (the map, it as an RGB picture) last shown

    def frame(self, snap: Snapshot, input_rgb: Callable[[], np.ndarray | None],
              previous: Callable[[], np.ndarray | None] = lambda: None,
              program: Callable[[], np.ndarray | None] = lambda: None) -> FrameGuide:
        """This frame's guidance. input_rgb: the generator's input picture; previous: its last frame
        (a control with source = "feedback" keeps the structure of what it made); program: the
        composited picture the audience saw (source = "program")."""
        v = snap.values
        similarity = v.get("control.similarity", 0.98)
        active = []
        for c, src, w in zip(self.controls, self.sources, self.workers):
            scale = v.get(f"control.{c.spec.name}.scale", c.spec.scale)
            px = src.frame(snap.t, input_rgb, previous, program)
            if px is not None:
                w.offer(px, similarity)
            m = w.latest(FIRST_MAP_WAIT if self.live and not self._waited and px is not None else 0.0)
            if m is not None and scale > 0.0:
                active.append((c, c.tensor(m.version, m.value, self.device, self.dtype), scale))
        self._waited = self._waited or any(w.made for w in self.workers) or not self.workers
        if self.ip is not None:
            self._reference(snap, input_rgb, program)
        return FrameGuide(active, self.ip, self.steps)

    def _reference(self, snap: Snapshot, input_rgb: Callable[[], np.ndarray | None],
                   program: Callable[[], np.ndarray | None]) -> None:
        grab = snap.values.get("ipadapter.grab", 0.0)
        if self._grab is None or grab != self._grab:
            px = self._ref_source.frame(snap.t, input_rgb, program=program)
            if px is not None:  # a camera's first frame may not be there yet: asked again next frame
                if self._grab is not None:
                    log.info(f"ipadapter: a new reference frame from {self.ip.spec.image} (grab {grab:g})")
                self._ref_worker.offer(px.copy(), 1.0)
                self._grab = grab
        ref = self._ref_worker.latest()
        if ref is not None:
            self.ip.set_reference(ref.version, ref.value)
        self.ip.apply(snap.values.get("ipadapter.scale", self.ip.spec.scale))

    def shown(self) -> np.ndarray | None:
        """The first control's newest map as an RGB picture (the `control` layer: the twin's skeleton)."""
        for w in self.workers:
            m = w.latest()
            if m is not None:
                if self._shown is None or self._shown[0] is not m:  # made once per map, not per frame
                    self._shown = (m, as_rgb(m.value))
                return self._shown[1]
        return None

    def close(self) -> None:
        for w in self.workers + ([self._ref_worker] if self._ref_worker else []):
            w.close()
        for s in self.sources + ([self._ref_source] if self._ref_source else []):
            s.close()
