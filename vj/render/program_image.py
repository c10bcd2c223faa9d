"""The program image: what the compositor makes each frame, under the master fader, read back.

It ping-pongs between two framebuffers: this frame's output is next frame's feedback input.
While the master fader is down, the outputs take a faded copy (one pass) and feedback goes on
reading the image at full level. A scene's transition holds the image of the moment it began
(a copy on the GPU) and the same pass dissolves from it to the live one. Reading back is in 8 bits: a 16-bit image is copied on the GPU
first (reading floats back costs several times more, BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

from vj.render import compose
from vj.render.shaders import compile_program, load_fragment
from vj.render.uniforms import set_uniform


HELD_UNIT = 16  # the held image: a unit no other pass binds (GL 3.3 has at least 48 in all)


class ProgramImage:
    def __init__(self, ctx, size: tuple[int, int], precision: int) -> None:
        self.ctx = ctx
        self.size = size
        self.precision = precision  # bits per channel of the images between passes (16: no dither needed)
        self._prog = [self.target(), self.target()]
        self._cur = 0
        self._master = None  # (program, vao, texture, fbo): the program image under the master fader
        self._faded = False  # this frame's outputs take the master image (the fader is down)
        self._readback = None  # an 8-bit copy of a 16-bit program image, for reading back
        self._held = None  # (texture, fbo): the program image a transition dissolves from
        self._held_serial: int | None = None  # the transition whose first image is held
        self.clear()

    def target(self):
        """(texture, framebuffer) at the program's size and precision: the program image, or an
        image between passes."""
        tex = self.ctx.texture(self.size, 4, dtype="f1" if self.precision == 8 else "f2")
        tex.repeat_x = tex.repeat_y = False
        tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
        return tex, self.ctx.framebuffer(color_attachments=[tex])

    @property
    def previous(self):
        """The texture of the last frame's program image (this frame's feedback input)."""
        return self._prog[self._cur][0]

    @property
    def next(self):
        """(texture, framebuffer) this frame draws into."""
        return self._prog[1 - self._cur]

    def finish(self, level: float, held_mix: float = 0.0):
        """This frame is drawn: it becomes the program image; returns what the outputs show
        (under the fader, `held_mix` of it the held image)."""
        self._cur = 1 - self._cur
        level = min(1.0, max(0.0, level))
        held_mix = min(1.0, max(0.0, held_mix)) if self._held is not None else 0.0
        self._faded = level < 1.0 or held_mix > 0.0
        return self._fade(self.previous, level, held_mix) if self._faded else self.previous

    def dissolve(self, transition) -> float:
        """How much of the image held at a scene change still shows (1 at the change, then less);
        a transition that begins now holds the last program image. `transition`: TransitionState."""
        if transition is None:
            return 0.0
        if transition.serial != self._held_serial:
            self.hold()
            self._held_serial = transition.serial
        return 1.0 - transition.progress

    def hold(self) -> None:
        """Keep a copy of the program image as it is now (a transition dissolves from it)."""
        if self._held is None:
            tex = self.ctx.texture(self.size, 4)
            tex.repeat_x = tex.repeat_y = False
            self._held = (tex, self.ctx.framebuffer([tex]))
        self.ctx.copy_framebuffer(self._held[1], self._prog[self._cur][1])

    def clear(self) -> None:
        self._cur, self._faded = 0, False
        for _, fbo in self._prog:
            fbo.clear(0.0, 0.0, 0.0, 1.0)

    def _fade(self, tex, level: float, held_mix: float = 0.0):
        """The program image under the master fader (and over the held image), drawn into an image of
        its own for the outputs (a pass only while the fader is down or a dissolve runs)."""
        if self._master is None:
            prog = compile_program(self.ctx, load_fragment("master"))
            out = self.ctx.texture(self.size, 4)
            out.repeat_x = out.repeat_y = False
            self._master = (prog, self.ctx.vertex_array(prog, []), out, self.ctx.framebuffer([out]))
        prog, vao, out, fbo = self._master
        tex.use(compose.IN_UNIT)
        set_uniform(prog, "u_input", compose.IN_UNIT)
        set_uniform(prog, "u_fader", level)
        set_uniform(prog, "u_held_mix", held_mix)
        if self._held is not None:
            self._held[0].use(HELD_UNIT)
            set_uniform(prog, "u_held", HELD_UNIT)
        fbo.use()
        vao.render(vertices=3)
        return out

    def warm_up_fader(self) -> None:
        """Draw the master fader's pass once, before anyone pulls it (its first draw compiles it),
        with a held image (the first scene transition must not compile it either)."""
        self.hold()
        self._fade(self.previous, 0.5, 0.5)

    @property
    def output(self):
        """What the outputs show: the program image, under the master fader when it is down."""
        return self._master[2] if self._faded else self.previous

    def _readable(self):
        """The program image's framebuffer in 8 bits: itself, or a copy made on the GPU."""
        if self._faded:
            return self._master[3]  # 8-bit
        if self.precision == 8:
            return self._prog[self._cur][1]
        if self._readback is None:
            tex = self.ctx.texture(self.size, 4)
            self._readback = (tex, self.ctx.framebuffer([tex]))
        self.ctx.copy_framebuffer(self._readback[1], self._prog[self._cur][1])
        return self._readback[1]

    def read_rgba(self) -> bytes:
        """RGBA bytes, bottom row first: what recorders take (the driver copies 4-byte pixels as they
        are; dropping alpha costs it a conversion, 3-4x the time)."""
        return self._readable().read(components=4, alignment=1)

    def read_frame(self) -> np.ndarray:
        """(h, w, 3) uint8, row 0 at the top (for tests and snapshots)."""
        w, h = self.size
        rgb = self._readable().read(components=3, alignment=1)
        return np.frombuffer(rgb, np.uint8).reshape(h, w, 3)[::-1]
