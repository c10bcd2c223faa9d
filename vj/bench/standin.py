"""A stand-in for a GPU's model, for `vj bench remote` (a benchmark's tool, not a model): frames of
the size measured, made at a GPU's pace with next to no CPU, as a GPU keeps the CPU free while it
works. The picture is the seedling's first frame scaled up, with a fixed grain (so that JPEG has
fine detail to carry, as it has in a diffusion model's pictures), shifted each frame (so that no
two frames are the same); each frame takes at least `ms` of wall time, slept.

It is a loop wrapper (GeneratorConfig.wrap, `vj serve --wrap`), named by what it does:
    vj.bench.standin:paced_512x512_40ms   -> 512x512 frames, at least 40 ms each
so the local process and the box make the same frames at the same pace, and only the way they
travel differs. (On a 2-core machine shared with other work, a real model's CPU would measure the
contention, not the transport.)
"""

from __future__ import annotations

import re
import time

import numpy as np

GRAIN = 7  # the low bits flipped: fine detail for the codec, invisible at a glance


class PacedLoop:
    def __init__(self, loop, size: tuple[int, int], ms: float) -> None:
        self.loop, self.size, self.ms = loop, size, ms
        w, h = size
        self._grain = np.random.default_rng(1).integers(0, GRAIN + 1, (h, w, 3), dtype=np.uint8)
        self._base: np.ndarray | None = None

    @property
    def frame_input(self):
        return self.loop.frame_input

    def _picture(self, snap) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        small = self.loop.frame(snap)
        w, h = self.size
        x = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)[None].float()
        big = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
        return big.clamp(0, 255).to(torch.uint8).numpy() ^ self._grain

    def frame(self, snap) -> np.ndarray:
        t0 = time.perf_counter()
        if self._base is None:
            self._base = self._picture(snap)
        out = np.roll(self._base, (snap.index * 5) % self.size[0], axis=1)
        rest = self.ms / 1e3 - (time.perf_counter() - t0)
        if rest > 0:
            time.sleep(rest)
        return out

    def shrink(self):
        return None

    def close(self) -> None:
        self.loop.close()


def __getattr__(name: str):
    m = re.fullmatch(r"paced_(\d+)x(\d+)_(\d+)ms", name)
    if m is None:
        raise AttributeError(name)
    w, h, ms = (int(g) for g in m.groups())
    return lambda loop: PacedLoop(loop, (w, h), ms)
