"""The generated frames as the compositor holds them, and their pacing.

The newest generated frame and the one before it are textures. When the generator runs slower than
the display, the newest dissolves in over the generator's own frame interval (`gen.interpolate`):
the picture moves at the display rate. When the generator keeps up, a frame is shown whole at once
(no dissolve, no added lag).
"""

from __future__ import annotations

import numpy as np

from vj.core.snapshot import Snapshot
from vj.render.sources import rgb_texture

PAUSE_GAPS = 4.0  # a generated frame this many paces after the last one ended a pause (see mix)


def warmup_pattern() -> np.ndarray:
    """A dim colour wash shown until the generator's first frame: never a black screen."""
    y, x = np.mgrid[0:32, 0:32] / 31.0
    img = np.stack([0.25 + 0.2 * x, 0.1 + 0.15 * y, 0.3 + 0.1 * (1 - x)], axis=-1)
    return (img * 255).astype(np.uint8)


class GeneratedFrames:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.tex = [None, None]  # [newest, the one before]
        self.sizes = [(0, 0), (0, 0)]
        self._arrived = False  # a frame was uploaded since the last render
        self._t_arrival: float | None = None
        self._interval = 0.0  # seconds between generated frames (smoothed)
        self._paused = False  # the last gap between generated frames was a pause
        self._frame_dt = 0.0  # seconds between render frames (smoothed)
        self._last_t: float | None = None
        self.upload(warmup_pattern())  # something alive on screen before the first frame
        self.upload(warmup_pattern())

    def upload(self, pixels: np.ndarray) -> None:
        """A generated frame, (h, w, 3) uint8 with row 0 at the top. The newest becomes the one before."""
        h, w = pixels.shape[:2]
        self.tex.reverse()
        self.sizes.reverse()
        tex = self.tex[0]
        if tex is None or self.sizes[0] != (w, h):
            if tex is not None:
                tex.release()
            tex = rgb_texture(self.ctx, (w, h))
            self.tex[0], self.sizes[0] = tex, (w, h)
        tex.write(np.ascontiguousarray(pixels))
        self._arrived = True

    def forget_pace(self) -> None:
        """The next generated frame comes after a pause the engine knows of (a freeze): its gap
        says nothing about the generator's pace."""
        self._t_arrival = None

    def mix(self, snap: Snapshot) -> float:
        """How far the newest generated frame has dissolved in at this render frame (1: fully)."""
        t = snap.t
        if self._last_t is not None and t > self._last_t:
            dt = t - self._last_t
            self._frame_dt = dt if self._frame_dt == 0 else 0.9 * self._frame_dt + 0.1 * dt
        self._last_t = t
        if self._arrived:
            self._arrived = False
            gap = t - self._t_arrival if self._t_arrival is not None else 0.0
            # one gap far longer than the pace is a pause (a restarted generator, a still camera), not
            # the pace: it would slow every dissolve after it; two in a row: the pace did change.
            # A freeze is known for what it is (forget_pace)
            pause = self._interval > 0 and gap > PAUSE_GAPS * self._interval and not self._paused
            self._paused = pause
            if gap > 0.0 and not pause:
                self._interval = gap if self._interval == 0 else 0.8 * self._interval + 0.2 * gap
            self._t_arrival = t
        amount = snap.values.get("gen.interpolate", 1.0)
        span = self._interval * amount
        # the generator keeps up with the display (or interpolation is off): no dissolve, no added lag
        if span <= 0.0 or self._interval <= 1.5 * self._frame_dt or self._t_arrival is None:
            return 1.0
        return min(1.0, (t - self._t_arrival + self._frame_dt) / span)


DISSOLVE_GLSL = """#version 330
in vec2 v_uv;
out vec4 frag_color;
uniform sampler2D u_new;  // the newest generated frame
uniform sampler2D u_old;  // the one before
uniform float u_mix;      // 0: the one before, 1: the newest
void main() { frag_color = vec4(mix(texture(u_old, v_uv).rgb, texture(u_new, v_uv).rgb, u_mix), 1.0); }
"""


class LayerFrames(GeneratedFrames):
    """A layer generator's frames ([generators.NAME], layer source "generator:NAME"), paced on their
    own. The stack's shader has the main generator's dissolve built in; a layer generator's frame
    dissolves in a small pass of its own, at the generated size (a few thousand pixels: far cheaper
    than a texture unit and a variant per generator in the stack), so its layers sample one texture."""

    def __init__(self, ctx) -> None:
        from vj.render.shaders import vertex_source

        super().__init__(ctx)
        self._prog = ctx.program(vertex_shader=vertex_source(), fragment_shader=DISSOLVE_GLSL)
        self._vao = ctx.vertex_array(self._prog, [])
        self._prog["u_new"].value, self._prog["u_old"].value = 0, 1
        self._target = None  # (texture, framebuffer) of the dissolved image, at the newest frame's size

    def shown(self, snap: Snapshot) -> tuple[object, tuple[int, int]]:
        """(texture, size) its layers show at this render frame: the newest frame, or while it
        dissolves in, the newest over the one before (rows top-first, as uploaded)."""
        return self._dissolved(self.mix(snap))

    def _dissolved(self, mix: float) -> tuple[object, tuple[int, int]]:
        size = self.sizes[0]
        if mix >= 1.0:
            return self.tex[0], size
        if self._target is None or self._target[0].size != size:
            if self._target is not None:
                self._target[1].release()
                self._target[0].release()
            tex = self.ctx.texture(size, 4)
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            self._target = (tex, self.ctx.framebuffer(color_attachments=[tex]))
        self.tex[0].use(0)
        self.tex[1].use(1)
        self._prog["u_mix"].value = max(0.0, mix)
        self._target[1].use()
        self._vao.render(vertices=3)
        return self._target[0], size

    def warm_up(self) -> None:
        """Draw the dissolve once (a software renderer compiles a shader at its first draw)."""
        self._dissolved(0.5)
