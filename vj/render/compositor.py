"""The compositor: generated frames in, the program image out, all on the GPU (moderngl).

Per render frame, two passes at the output size:

    feedback stage   the newest generated frame, scaled to cover the output, mixed with the
                     previous program image (zoomed/rotated): feedback.amount / .zoom / .rotate
    effect stage     one effect shader from shaders/ (its @param uniforms are fx.<effect>.*)

Both passes see the audio uniforms (see shaders/common.glsl). Intermediate images are 16-bit
float so that long feedback trails do not band. The program image ping-pongs between two
framebuffers: this frame's output is next frame's feedback input.
"""

from __future__ import annotations

import numpy as np

from vj.control.params import ParamSpec
from vj.render.shaders import FragmentSource, compile_program, load_fragment
from vj.snapshot import Snapshot


def declare_params(effect: FragmentSource | None) -> list[ParamSpec]:
    specs = [
        ParamSpec("feedback.amount", 0.0, 0.99, 0.0, "", 0.05, "how much of the previous image stays"),
        ParamSpec("feedback.zoom", 0.8, 1.25, 1.0, "x/frame", 0.05, "scale of the feedback per frame"),
        ParamSpec("feedback.rotate", -10.0, 10.0, 0.0, "deg/frame", 0.05, "rotation of the feedback per frame"),
    ]
    if effect is not None:
        specs += [ParamSpec(f"fx.{effect.name}.{u.name}", u.lo, u.hi, u.default, "", 0.05, u.doc) for u in effect.params]
    return specs


AUDIO_UNIFORMS = ("level", "bass", "mid", "high", "bass_pulse", "mid_pulse", "high_pulse", "bass_time", "mid_time",
                  "high_time", "centroid", "beat_phase", "bar_phase", "bpm")
SPECTRUM_UNIT = 7  # texture unit of u_spectrum (0 and 1 are the stage inputs)


def _set(prog, name: str, value) -> None:
    """Set a uniform if the shader uses it (the GLSL compiler drops unused ones)."""
    if name in prog:
        prog[name].value = value


class Compositor:
    def __init__(self, ctx, size: tuple[int, int], effect: str | None = None) -> None:
        self.ctx = ctx
        self.size = size
        self._feedback = compile_program(ctx, load_fragment("feedback"))
        self.effect = load_fragment(effect) if effect else None
        self._effect = compile_program(ctx, self.effect or load_fragment("passthrough"))
        self._vaos = {id(p): ctx.vertex_array(p, []) for p in (self._feedback, self._effect)}

        def target():
            tex = ctx.texture(size, 4, dtype="f2")
            tex.repeat_x = tex.repeat_y = False
            tex.filter = (ctx.LINEAR, ctx.LINEAR)
            return tex, ctx.framebuffer(color_attachments=[tex])

        self._mix_tex, self._mix_fbo = target()
        self._prog = [target(), target()]
        self._cur = 0
        for _, fbo in self._prog:
            fbo.clear(0.0, 0.0, 0.0, 1.0)
        self._gen_tex = None
        self._gen_size = (0, 0)
        self._spectrum = ctx.texture((64, 1), 1, dtype="f4")
        self._spectrum.filter = (ctx.LINEAR, ctx.LINEAR)
        self._spectrum.repeat_x = self._spectrum.repeat_y = False
        self._spectrum.write(np.zeros(64, np.float32))
        self._last_spectrum = None
        self.upload(self._warmup_pattern())  # something alive on screen before the first frame

    @staticmethod
    def _warmup_pattern() -> np.ndarray:
        """A dim colour wash shown until the generator's first frame: never a black screen."""
        y, x = np.mgrid[0:32, 0:32] / 31.0
        img = np.stack([0.25 + 0.2 * x, 0.1 + 0.15 * y, 0.3 + 0.1 * (1 - x)], axis=-1)
        return (img * 255).astype(np.uint8)

    def upload(self, pixels: np.ndarray) -> None:
        """A generated frame, (h, w, 3) uint8 with row 0 at the top."""
        h, w = pixels.shape[:2]
        if self._gen_tex is None or self._gen_size != (w, h):
            if self._gen_tex is not None:
                self._gen_tex.release()
            self._gen_tex = self.ctx.texture((w, h), 3, alignment=1)
            self._gen_tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            self._gen_tex.repeat_x = self._gen_tex.repeat_y = False
            self._gen_size = (w, h)
        self._gen_tex.write(np.ascontiguousarray(pixels))

    def _common_uniforms(self, prog, snap: Snapshot) -> None:
        """What every shader gets (see shaders/common.glsl)."""
        a = snap.audio
        _set(prog, "u_resolution", self.size)
        _set(prog, "u_time", snap.t)
        _set(prog, "u_frame", float(snap.index))
        for name in AUDIO_UNIFORMS:
            _set(prog, f"u_{name}", float(getattr(a, name)))
        if "u_spectrum" in prog:
            prog["u_spectrum"].value = SPECTRUM_UNIT
            self._spectrum.use(SPECTRUM_UNIT)

    def _upload_spectrum(self, snap: Snapshot) -> None:
        spec = snap.audio.spectrum
        if spec is not self._last_spectrum:
            self._spectrum.write(np.ascontiguousarray(spec, np.float32))
            self._last_spectrum = spec

    def render(self, snap: Snapshot):
        """Composite one frame; returns the program texture (valid until the next render)."""
        v = snap.values
        self._upload_spectrum(snap)
        prev_tex, _ = self._prog[self._cur]
        out_tex, out_fbo = self._prog[1 - self._cur]

        p = self._feedback
        self._common_uniforms(p, snap)
        _set(p, "u_gen_size", self._gen_size)
        _set(p, "u_amount", v.get("feedback.amount", 0.0))
        _set(p, "u_zoom", v.get("feedback.zoom", 1.0))
        _set(p, "u_rotate", v.get("feedback.rotate", 0.0))
        _set(p, "u_gen", 0)
        _set(p, "u_prev", 1)
        self._gen_tex.use(0)
        prev_tex.use(1)
        self._mix_fbo.use()
        self._vaos[id(p)].render(vertices=3)

        e = self._effect
        self._common_uniforms(e, snap)
        if self.effect is not None:
            for u in self.effect.params:
                _set(e, u.name, v.get(f"fx.{self.effect.name}.{u.name}", u.default))
        _set(e, "u_input", 0)
        self._mix_tex.use(0)
        out_fbo.use()
        self._vaos[id(e)].render(vertices=3)

        self._cur = 1 - self._cur
        return out_tex

    @property
    def output(self):
        return self._prog[self._cur][0]

    def read_rgb(self) -> bytes:
        """The program image as packed RGB bytes, bottom row first (GL order)."""
        return self._prog[self._cur][1].read(components=3, alignment=1)

    def read_frame(self) -> np.ndarray:
        """The program image as (h, w, 3) uint8, row 0 at the top (for tests and snapshots)."""
        w, h = self.size
        return np.frombuffer(self.read_rgb(), np.uint8).reshape(h, w, 3)[::-1]
