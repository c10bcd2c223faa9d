"""The compositor: generated frames in, the program image out, all on the GPU (moderngl).

Per render frame, as few passes as the chains allow (compose.py plans them):

    stack pass    every layer (the generated frame, stills, videos, cameras, shader sources and
                  their own effects) transformed, blended into its crossfader group by its mode and
                  opacity, the groups crossfaded, the previous program image mixed in
                  (feedback.amount / .zoom / .rotate), and the master effects composed on top, up
                  to the first one that needs its input as an image (a blur, an RGB split)
    later passes  one per such effect, with the effects after it composed in

Effects are functions in shaders/ (their @param uniforms are fx.<effect>.*); a saved file is
recompiled live, and one that no longer compiles keeps the last good programs and says where the
error is. Every shader sees the audio uniforms and the spectrum texture (shaders/common.glsl).

Images between passes are 8 bits a channel (`precision = 16` in the set for 16-bit float): the
cheapest to filter on a software renderer; feedback is dithered so that its trails still fade.
The program image ping-pongs between two framebuffers: this frame's output is next frame's
feedback input.

When the generator runs slower than the display, the newest generated frame dissolves in over the
generator's own frame interval (`gen.interpolate`): the picture moves at the display rate.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vj.core.params import ParamSpec
from vj.log import log
from vj.render import layers as stack
from vj.render import compose
from vj.render.shaders import (FragmentSource, ShaderError, compile_program, compile_text, load_effect, load_fragment,
                               prelude, shader_dir)
from vj.core.snapshot import Snapshot


def declare_params(effects: FragmentSource | list[FragmentSource] | None,
                   layer_specs: tuple[stack.LayerSpec, ...] = stack.DEFAULT_STACK) -> list[ParamSpec]:
    if isinstance(effects, FragmentSource):
        effects = [effects]
    specs = [
        ParamSpec("feedback.amount", 0.0, 0.99, 0.0, "", 0.05, "how much of the previous image stays"),
        ParamSpec("feedback.zoom", 0.8, 1.25, 1.0, "x/frame", 0.05, "scale of the feedback per frame"),
        ParamSpec("feedback.rotate", -10.0, 10.0, 0.0, "deg/frame", 0.05, "rotation of the feedback per frame"),
        ParamSpec("gen.interpolate", 0.0, 1.0, 1.0, "", 0.0,
                  "dissolve each generated frame in over the generator's interval (0: cut)"),
        ParamSpec("master.level", 0.0, 1.0, 1.0, "", 0.05,
                  "the master fader: every output's level, 0 is black (feedback keeps its trails)"),
    ] + stack.declare_params(layer_specs)
    for effect in effects or []:
        specs += [ParamSpec(f"fx.{effect.name}.{u.name}", u.lo, u.hi, u.default, "", 0.05, u.doc) for u in effect.params]
    return specs


AUDIO_UNIFORMS = ("level", "bass", "mid", "high", "bass_pulse", "mid_pulse", "high_pulse", "bass_time", "mid_time",
                  "high_time", "centroid", "beat_phase", "bar_phase", "bpm")
SPECTRUM_UNIT = 15  # texture unit of u_spectrum (GL 3.3 guarantees 16 per shader)
GEN_PREV_UNIT = 14  # the generated frame before the newest
PREV_UNIT = 13  # the previous program image; layers take units 0..MAX_LAYERS-1
RELOAD_EVERY = 0.5  # seconds between looks at the effect files' modification times


def _set(prog, name: str, value) -> None:
    """Set a uniform if the shader uses it (the GLSL compiler drops unused ones)."""
    if name in prog:
        prog[name].value = value


class _Effect:
    """One effect of a chain (or a shader layer): its source and the file time it was read at."""

    def __init__(self, ctx, name: str, prefix: str = "fx.") -> None:
        self.ctx = ctx
        self.prefix = prefix  # its parameters are <prefix><effect>.<uniform>: fx.* (master), layer.<n>.fx.*
        self.source = load_effect(name)
        self.mtime = _mtime(self.source.path)
        self.error: str | None = None  # the last compile error of a saved file, while it stands

    def bypassed(self, values) -> bool:
        """True when the effect's parameters put it at its identity (its @bypass lines)."""
        name = self.source.name
        return bool(self.source.bypass) and all(
            values.get(f"{self.prefix}{name}.{u}", self._default(u)) == x for u, x in self.source.bypass)

    def _default(self, uniform: str) -> float:
        return next(p.default for p in self.source.params if p.name == uniform)

    def reload_if_changed(self) -> bool:
        """True when the file was saved and its new version compiles on its own."""
        m = _mtime(self.source.path)
        if m == self.mtime:
            return False
        self.mtime = m
        try:
            source = load_effect(self.source.name, self.source.path.parent)
            compile_program(self.ctx, source).release()  # checked alone: its error names its own line
        except Exception as e:  # ShaderError or a bad header: keep the old version running
            self.error = str(e).splitlines()[0]
            log.error(f"shader {self.error}; the previous version keeps running")
            return False
        if [(u.name, u.lo, u.hi) for u in source.params] != [(u.name, u.lo, u.hi) for u in self.source.params]:
            log.warning(f"shader {source.path.name}: its @param header changed; new parameters need a restart "
                        f"(the code is live now)")
        self.source, self.error = source, None
        return True


def _mtime(path) -> float:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


@dataclass
class _Source:
    """A still, video or camera layer's own image (the generator, feedback and shader layers have
    none: they read the uploaded frames, the program image, or draw themselves)."""

    tex: Any  # the texture the stack samples
    size: tuple[int, int]  # its size, pixels
    flip: float  # 1: rows top-first (uploaded pixels), 0: drawn by GL
    reader: Any = None  # a video or camera layer: its VideoFile / Camera
    serial: int = -1  # the reader's frame last uploaded


PAUSE_GAPS = 4.0  # a generated frame this many paces after the last one ended a pause (see _gen_mix)


class Compositor:
    def __init__(self, ctx, size: tuple[int, int], effect: str | None = None, *, effects: list[str] | None = None,
                 layers: tuple[stack.LayerSpec, ...] = stack.DEFAULT_STACK, live: bool = False,
                 precision: int = 8) -> None:
        self.ctx = ctx
        self.live = live  # video layers: paced by the clock on a thread (live) or read frame-exact (offline)
        self.size = size
        self.precision = precision  # bits per channel of the images between passes (16: no dither needed)
        self.layers = tuple(layers) or stack.DEFAULT_STACK
        names = list(effects) if effects is not None else ([effect] if effect else [])
        self.chain = [_Effect(ctx, n) for n in names]
        # a layer's own effect chain runs in the layer's frame, before its transform
        self._layer_fx = [[_Effect(ctx, name, f"layer.{i + 1}.fx.") for name in l.effects] for i, l in enumerate(self.layers)]
        self._shader_fx = {i: _Effect(ctx, l.arg) for i, l in enumerate(self.layers) if l.kind == "shader"}
        self._declared_modes = tuple(stack.BLEND_MODES.index(l.blend) for l in self.layers)
        # a feedback layer recurs through the program image as the feedback stage does: dithered too
        self._feedback_layer = any(l.kind == "feedback" for l in self.layers)

        def target():
            tex = ctx.texture(size, 4, dtype="f1" if precision == 8 else "f2")
            tex.repeat_x = tex.repeat_y = False
            tex.filter = (ctx.LINEAR, ctx.LINEAR)
            return tex, ctx.framebuffer(color_attachments=[tex])

        self._target = target
        self._prog = [target(), target()]  # the program image ping-pongs: this frame's is next frame's feedback
        self._cur = 0
        for _, fbo in self._prog:
            fbo.clear(0.0, 0.0, 0.0, 1.0)
        self._work: list = []  # images between the master chain's passes
        self._layer_work: dict = {}  # the same for each layer whose chain has passes of its own
        self._programs: dict[str, tuple] = {}  # shader text -> (program, vao): each compiled once
        self._plans: dict[tuple, compose.Plan] = {}  # (variant, effects left out) -> plan
        self._failed: dict[tuple, ShaderError] = {}  # variants that did not compile, until the files change
        self._plan = self._plan_for(compose.Variant(), ())  # checks every file now: errors before the show
        self._gen = [None, None]  # [newest, the one before]
        self._gen_sizes = [(0, 0), (0, 0)]
        self._arrived = False  # a frame was uploaded since the last render
        self._t_arrival: float | None = None
        self._gen_interval = 0.0  # seconds between generated frames (smoothed)
        self._paused = False  # the last gap between generated frames was a pause
        self._frame_dt = 0.0  # seconds between render frames (smoothed)
        self._last_t: float | None = None
        self._sources = [self._open_source(i, l) for i, l in enumerate(self.layers)]
        self._spectrum = ctx.texture((64, 1), 1, dtype="f4")
        self._spectrum.filter = (ctx.LINEAR, ctx.LINEAR)
        self._spectrum.repeat_x = self._spectrum.repeat_y = False
        self._spectrum.write(np.zeros(64, np.float32))
        self._last_spectrum = None
        self._next_reload = 0.0
        self._build_error: str | None = None  # a saved file that compiles alone but not in its chain
        self._readback = None  # an 8-bit copy of the program image, made for reading back
        self._master = None  # (program, vao, texture, fbo): the program image under the master fader
        self._faded = False  # this frame's outputs take the master image (the fader is down)
        self._input = None  # the generator's camera or video input (upload_input), for the preview
        self.feed_wanted = False  # set by a window showing the input feed: only then is it uploaded
        self.upload(self._warmup_pattern())  # something alive on screen before the first frame
        self.upload(self._warmup_pattern())

    def _variant(self, values, gen_mix: float) -> tuple[compose.Variant, tuple]:
        """What this frame needs compiled in, and which pass-starting effects sit at their identity
        (left out: no pass). The key of the plan."""
        fb = values.get("feedback.amount", 0.0) > 0.0
        declared = self._declared_modes
        modes = tuple(int(round(values.get(f"layer.{i + 1}.blend", m))) for i, m in enumerate(declared))
        recurs = fb or self._feedback_layer
        v = compose.Variant(fb, gen_mix < 1.0, modes if modes == declared else None, recurs and self.precision == 8)
        off = tuple(k for k, e in enumerate(self._all_effects()) if e.source.own_pass and e.bypassed(values))
        return v, off

    def _plan_for(self, v: compose.Variant, off: tuple) -> compose.Plan:
        """The plan for a variant: cached; built (and compiled) the first time. A variant whose
        build failed raises its error again without compiling until the files change."""
        key = (v, off)
        plan = self._plans.get(key)
        if plan is None:
            if key in self._failed:
                raise self._failed[key]
            try:
                plan = self._build(v, off, self._programs)
            except ShaderError as e:
                self._failed[key] = e
                raise
            self._plans[key] = plan
        self._plan_key = key
        return plan

    def _build(self, v: compose.Variant, off: tuple, programs: dict) -> compose.Plan:
        """The passes for a variant, their programs taken from `programs` (by shader text) or
        compiled into it. Raises ShaderError naming the file and line."""
        folder = shader_dir()
        gone = {id(e) for k, e in enumerate(self._all_effects()) if k in off}
        frags = {i: e.source for i, e in self._shader_fx.items()}
        plan = compose.plan(prelude(folder), folder / "common.glsl", self.layers,
                            [[e for e in fx if id(e) not in gone] for fx in self._layer_fx],
                            [e for e in self.chain if id(e) not in gone], frags, v)
        new = []
        try:
            for code in plan.passes:
                text = code.text.code
                if text not in programs:
                    prog = compile_text(self.ctx, code.text, folder)
                    programs[text] = (prog, self.ctx.vertex_array(prog, []))
                    new.append(text)
                code.prog, code.vao = programs[text]
        except ShaderError:  # none of this build's programs stays behind
            for text in new:
                prog, vao = programs.pop(text)
                vao.release()
                prog.release()
            raise
        if plan.master and not self._work:
            self._work = [self._target(), self._target()]
        for i in plan.layer_passes:
            if i not in self._layer_work:
                self._layer_work[i] = (self._target(), self._target())
        return plan

    def warm_up(self) -> None:
        """Render once every plan a show is likely to meet (feedback on and off, a frame dissolving
        in or not, the blend modes as set or moved, the pass-starting effects on and off), with the
        real images bound: on a software renderer the first draw of a shader compiles it to machine
        code for the formats it samples, hundreds of milliseconds that must not fall in the middle
        of a show. Then the program image is black again."""
        import itertools

        effects = self._all_effects()
        toggles = [k for k, e in enumerate(effects) if e.source.own_pass and e.source.bypass]
        if len(toggles) <= 3:  # every combination of pass-starting effects on and off
            offs = [c for r in range(len(toggles) + 1) for c in itertools.combinations(toggles, r)]
        else:  # too many to try them all: each one off alone, and all off
            offs = [()] + [(k,) for k in toggles] + [tuple(toggles)]
        moved = {f"layer.{i + 1}.blend": (m + 1) % len(stack.BLEND_MODES) for i, m in enumerate(self._declared_modes)}
        for fb, mix, blends, off in itertools.product((0.0, 0.5), (1.0, 0.5), ({}, moved), offs):
            values = {"feedback.amount": fb, **blends}
            for k in toggles:  # at its identity, or (when that is its default) at the other end
                e = effects[k]
                for u, x in e.source.bypass:
                    p = next(q for q in e.source.params if q.name == u)
                    key = f"{e.prefix}{e.source.name}.{u}"
                    values[key] = x if k in off else (p.default if p.default != x else (p.hi if p.hi != x else p.lo))
            self._render(Snapshot(0, 0.0, values, (), 0), mix)
        self._fade(self._prog[self._cur][0], 0.5)  # the master fader's pass, before anyone pulls it
        self._faded = False
        self.ctx.finish()
        self._cur = 0
        for _, fbo in self._prog:
            fbo.clear(0.0, 0.0, 0.0, 1.0)

    # -- sources ------------------------------------------------------------------------------------
    def _open_source(self, i: int, layer: stack.LayerSpec) -> _Source | None:
        """The image of a still, video or camera layer; None for the generator, the feedback and
        shader layers (a shader layer is a function inside the stack's shader)."""
        if layer.kind in ("generator", "shader", "feedback"):
            return None
        if layer.kind == "image":
            from PIL import Image

            img = np.asarray(Image.open(layer.arg).convert("RGBA"))
            h, w = img.shape[:2]
            tex = self.ctx.texture((w, h), 4, np.ascontiguousarray(img).tobytes())
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            return _Source(tex, (w, h), 1.0)
        if layer.kind in ("video", "camera"):  # read at the output size on a thread (a file offline: in step);
            from vj.media import Camera, VideoFile  # uploaded when a new frame is there

            arg = layer.arg
            video = (VideoFile(Path(arg), self.size, self.live) if layer.kind == "video"
                     else Camera(int(arg) if arg.isdigit() else arg, self.size))
            tex = self._rgb_texture(self.size)
            tex.write(np.zeros((self.size[1], self.size[0], 3), np.uint8))
            return _Source(tex, self.size, 1.0, reader=video)
        raise ValueError(f"layer {i + 1}: source {layer.source!r}")

    def _image(self, i: int) -> tuple[Any, tuple[int, int], float]:
        """(texture, size, flip) of layer i's own image (None for a shader layer)."""
        src = self._sources[i]
        kind = self.layers[i].kind
        if kind == "generator":
            return self._gen[0], self._gen_sizes[0], 1.0
        if kind == "feedback":  # the program image of the frame before (drawn by GL: bottom row first)
            return self._prog[self._cur][0], self.size, 0.0
        if src is None:
            return None, self.size, 0.0
        return src.tex, src.size, src.flip

    def _all_effects(self) -> list[_Effect]:
        return self.chain + [e for fx in self._layer_fx for e in fx] + list(self._shader_fx.values())

    @staticmethod
    def _warmup_pattern() -> np.ndarray:
        """A dim colour wash shown until the generator's first frame: never a black screen."""
        y, x = np.mgrid[0:32, 0:32] / 31.0
        img = np.stack([0.25 + 0.2 * x, 0.1 + 0.15 * y, 0.3 + 0.1 * (1 - x)], axis=-1)
        return (img * 255).astype(np.uint8)

    def upload(self, pixels: np.ndarray) -> None:
        """A generated frame, (h, w, 3) uint8 with row 0 at the top. The newest becomes the one before."""
        h, w = pixels.shape[:2]
        self._gen.reverse()
        self._gen_sizes.reverse()
        tex = self._gen[0]
        if tex is None or self._gen_sizes[0] != (w, h):
            if tex is not None:
                tex.release()
            tex = self._rgb_texture((w, h))
            self._gen[0], self._gen_sizes[0] = tex, (w, h)
        tex.write(np.ascontiguousarray(pixels))
        self._arrived = True

    def upload_input(self, pixels: np.ndarray) -> None:
        """The camera or video image the newest generated frame was made from, (h, w, 3) uint8 with
        row 0 at the top: shown beside the program in the preview's split view."""
        h, w = pixels.shape[:2]
        if self._input is None or self._input.size != (w, h):
            if self._input is not None:
                self._input.release()
            self._input = self._rgb_texture((w, h))
        self._input.write(np.ascontiguousarray(pixels))

    def _rgb_texture(self, size: tuple[int, int]):
        """A texture for uploaded (h, w, 3) uint8 pixels: filtered, clamped at its edges."""
        tex = self.ctx.texture(size, 3, alignment=1)
        tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        return tex

    def input_feed(self) -> tuple[Any, tuple[int, int], str]:
        """(texture, size, what) to show beside the program, rows top-first: the generator's camera
        or video input, else the first camera or video layer, else the generated frame as it came."""
        if self._input is not None:
            return self._input, self._input.size, "generator input"
        for layer, src in zip(self.layers, self._sources):
            if src is not None and src.reader is not None:
                return src.tex, src.size, layer.source
        return self._gen[0], self._gen_sizes[0], "generated frame"

    # -- uniforms -----------------------------------------------------------------------------------
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

    def forget_pace(self) -> None:
        """The next generated frame comes after a pause the engine knows of (a freeze): its gap
        says nothing about the generator's pace."""
        self._t_arrival = None

    def _gen_mix(self, snap: Snapshot) -> float:
        """How far the newest generated frame has dissolved in (1: fully)."""
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
            pause = self._gen_interval > 0 and gap > PAUSE_GAPS * self._gen_interval and not self._paused
            self._paused = pause
            if gap > 0.0 and not pause:
                self._gen_interval = gap if self._gen_interval == 0 else 0.8 * self._gen_interval + 0.2 * gap
            self._t_arrival = t
        amount = snap.values.get("gen.interpolate", 1.0)
        span = self._gen_interval * amount
        # the generator keeps up with the display (or interpolation is off): no dissolve, no added lag
        if span <= 0.0 or self._gen_interval <= 1.5 * self._frame_dt or self._t_arrival is None:
            return 1.0
        return min(1.0, (t - self._t_arrival + self._frame_dt) / span)

    # -- a frame --------------------------------------------------------------------------------------
    def render(self, snap: Snapshot):
        """Composite one frame; returns the program texture (valid until the next render)."""
        self._upload_spectrum(snap)
        self._maybe_reload()
        self._update_sources(snap)
        return self._render(snap, self._gen_mix(snap))

    def _render(self, snap: Snapshot, gen_mix: float):
        v = snap.values
        prev_tex, _ = self._prog[self._cur]
        out_tex, out_fbo = self._prog[1 - self._cur]
        try:
            self._plan = plan = self._plan_for(*self._variant(v, gen_mix))
        except ShaderError as e:  # a variant that does not compile (a file saved since): the last plan goes on
            self._report_build_error(e)
            plan = self._plan
        dither = 1.0 / 255.0
        self._gen[1].use(GEN_PREV_UNIT)
        for i, passes in plan.layer_passes.items():  # layers whose chains need passes of their own
            self._run_passes(passes, self._layer_work[i], self._layer_work[i][(len(passes) - 1) % 2][1], snap,
                             gen_mix, dither, source=i)
        p = plan.stack.prog
        _set(p, "u_amount", v.get("feedback.amount", 0.0))
        m, o = stack.feedback_uv(self.size, v.get("feedback.zoom", 1.0), v.get("feedback.rotate", 0.0))
        _set(p, "u_fb_m", m)
        _set(p, "u_fb_o", o)
        _set(p, "u_crossfade", v.get("mixer.crossfade", 0.0))
        _set(p, "u_prev", PREV_UNIT)
        prev_tex.use(PREV_UNIT)
        for i, layer in enumerate(self.layers):
            n = i + 1
            if i in plan.layer_passes:  # the last of its passes left the layer's image in its frame
                self._layer_work[i][(len(plan.layer_passes[i]) - 1) % 2][0].use(i)
                _set(p, f"u_src{i}", i)
            else:
                self._bind_source(p, i)
            m, o = stack.layer_uv(self.size, self.size, False, v.get(f"layer.{n}.scale", 1.0),
                                  v.get(f"layer.{n}.rotate", 0.0), v.get(f"layer.{n}.x", 0.0), v.get(f"layer.{n}.y", 0.0))
            _set(p, f"u_m{i}", m)
            _set(p, f"u_o{i}", o)
            _set(p, f"u_mode{i}", int(round(v.get(f"layer.{n}.blend", self._declared_modes[i]))))
            _set(p, f"u_opacity{i}", v.get(f"layer.{n}.opacity", layer.opacity))
        self._run_passes([plan.stack] + plan.master, self._work, out_fbo, snap, gen_mix, dither)
        self._cur = 1 - self._cur
        level = min(1.0, max(0.0, v.get("master.level", 1.0)))
        self._faded = level < 1.0
        if self._faded:  # after the program image: feedback goes on reading it at full level
            return self._fade(out_tex, level)
        return out_tex

    def _fade(self, tex, level: float):
        """The program image under the master fader, drawn into an image of its own for the outputs
        (a pass only while the fader is down)."""
        if self._master is None:
            prog = compile_program(self.ctx, load_fragment("master"))
            out = self.ctx.texture(self.size, 4)
            out.repeat_x = out.repeat_y = False
            self._master = (prog, self.ctx.vertex_array(prog, []), out, self.ctx.framebuffer([out]))
        prog, vao, out, fbo = self._master
        tex.use(compose.IN_UNIT)
        _set(prog, "u_input", compose.IN_UNIT)
        _set(prog, "u_fader", level)
        fbo.use()
        vao.render(vertices=3)
        return out

    def _bind_source(self, prog, i: int) -> None:
        """Layer i's own image on texture unit i, with the map that covers it into the frame."""
        tex, size, flip = self._image(i)
        if tex is None:  # a shader layer draws itself
            return
        tex.use(i)
        _set(prog, f"u_src{i}", i)
        m, o = stack.layer_uv(self.size, size, flip > 0.5, 1.0, 0.0, 0.0, 0.0)
        _set(prog, f"u_c{i}", m)
        _set(prog, f"u_co{i}", o)

    def _run_passes(self, passes, work, out_fbo, snap: Snapshot, gen_mix: float, dither: float,
                    source: int | None = None) -> None:
        """Passes one after the other, each reading the last one's image (ping-ponging between the
        two `work` targets); the last one draws into out_fbo. `source`: the layer whose own image
        the first pass reads (a layer's pre-passes; the stack pass has its sources bound already)."""
        v = snap.values
        for k, code in enumerate(passes):
            p = code.prog
            self._common_uniforms(p, snap)
            _set(p, "u_gen_mix", gen_mix)
            _set(p, "u_gen_prev", GEN_PREV_UNIT)
            _set(p, "u_dither", dither)
            for eff, prefix in code.fused:
                for u in eff.source.params:
                    _set(p, prefix + u.name, v.get(f"{eff.prefix}{eff.source.name}.{u.name}", u.default))
            for i, prefix in code.sources:  # a shader layer's parameters are fx.<shader>.<uniform>
                frag = self._shader_fx[i].source
                for u in frag.params:
                    _set(p, prefix + u.name, v.get(f"fx.{frag.name}.{u.name}", u.default))
            if k > 0:
                work[(k - 1) % 2][0].use(compose.IN_UNIT)
                _set(p, "u_in", compose.IN_UNIT)
            elif source is not None:
                self._bind_source(p, source)
            (out_fbo if k == len(passes) - 1 else work[k % 2][1]).use()
            code.vao.render(vertices=3)

    def _update_sources(self, snap: Snapshot) -> None:
        """Video and camera layers take their newest frame."""
        for src in self._sources:
            if src is not None and src.reader is not None:
                px = src.reader.frame(snap.t)
                if px is not None and src.reader.serial != src.serial:
                    src.tex.write(px)
                    src.serial = src.reader.serial

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        effects = self._all_effects()
        if now < self._next_reload or not effects:
            return
        self._next_reload = now + RELOAD_EVERY
        if not [eff for eff in effects if eff.reload_if_changed()]:
            return
        programs: dict[str, tuple] = {}
        try:  # the plan in use, with the new code; the other variants compile when they are met
            plan = self._build(*self._plan_key, programs)
        except ShaderError as e:  # compiles alone, not in the chain: the old programs run on
            self._report_build_error(e)
            return
        for prog, vao in self._programs.values():
            vao.release()
            prog.release()
        self._programs, self._plans, self._failed = programs, {self._plan_key: plan}, {}
        self._plan, self._build_error = plan, None
        log.info("shaders reloaded: " + ", ".join(sorted({e.source.path.name for e in effects})))

    def _report_build_error(self, e: ShaderError) -> None:
        """One line when a variant does not compile (not one a frame); it stands in the status."""
        line = str(e).splitlines()[0]
        if line != self._build_error:
            self._build_error = line
            log.error(f"shader {line}; the show goes on with the programs that compile")

    def shader_errors(self) -> list[str]:
        """Compile errors of saved effect files that are standing (for the status line)."""
        errors = [e.error for e in self._all_effects() if e.error]
        return errors + ([self._build_error] if self._build_error else [])

    def close(self) -> None:
        """Stop what reads for the layers (video decoders, cameras)."""
        for src in self._sources:
            if src is not None and src.reader is not None:
                src.reader.close()

    @property
    def passes(self) -> int:
        """Full-screen passes the last frame took (layers' own, the stack, the master chain's)."""
        return len(self._plan.passes)

    @property
    def programs_compiled(self) -> int:
        return len(self._programs)

    @property
    def output(self):
        """What the outputs show: the program image, under the master fader when it is down."""
        return self._master[2] if self._faded else self._prog[self._cur][0]

    def read_rgb(self) -> bytes:
        """The program image as packed RGB bytes, bottom row first (GL order)."""
        return self._readable().read(components=3, alignment=1)

    def read_rgba(self) -> bytes:
        """The program image as RGBA bytes, bottom row first: what recorders take (the driver
        copies 4-byte pixels as they are; dropping alpha costs it a conversion, 3-4x the time)."""
        return self._readable().read(components=4, alignment=1)

    def _readable(self):
        """The program image's framebuffer in 8 bits: itself, or a copy made on the GPU when images
        are 16-bit (reading floats back costs several times more, BENCHMARKS.md)."""
        if self._faded:
            return self._master[3]  # 8-bit
        if self.precision == 8:
            return self._prog[self._cur][1]
        if self._readback is None:
            tex = self.ctx.texture(self.size, 4)
            self._readback = (tex, self.ctx.framebuffer([tex]))
        self.ctx.copy_framebuffer(self._readback[1], self._prog[self._cur][1])
        return self._readback[1]

    def read_frame(self) -> np.ndarray:
        """The program image as (h, w, 3) uint8, row 0 at the top (for tests and snapshots)."""
        w, h = self.size
        return np.frombuffer(self.read_rgb(), np.uint8).reshape(h, w, 3)[::-1]


__all__ = ["Compositor", "ShaderError", "declare_params"]
