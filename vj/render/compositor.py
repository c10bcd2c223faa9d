"""The compositor: generated frames in, the program image out, all on the GPU (moderngl).

Per render frame:

    stack pass    every layer (the generated frame, stills, shader generators) transformed, blended
                  into its crossfader group by its mode and opacity, the groups crossfaded, and the
                  result mixed with the previous program image (feedback.amount / .zoom / .rotate):
                  one pass, generated for the stack (layers.py)
    effect chain  the master effects from shaders/, one pass each (their @param uniforms are
                  fx.<effect>.*); an effect whose file is saved is recompiled live, and one that no
                  longer compiles keeps its last good program and says where the error is

Every shader sees the audio uniforms and the spectrum texture (shaders/common.glsl). Intermediate
images are 16-bit float so that long feedback trails do not band. The program image ping-pongs
between two framebuffers: this frame's output is next frame's feedback input.

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

from vj.control.params import ParamSpec
from vj.log import log
from vj.render import layers as stack
from vj.render.shaders import FragmentSource, ShaderError, compile_program, load_fragment, shader_program
from vj.snapshot import Snapshot


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
    """One effect of the chain: its source, its program, and the file time it was compiled from."""

    def __init__(self, ctx, name: str, prefix: str = "fx.") -> None:
        self.ctx = ctx
        self.prefix = prefix  # its parameters are <prefix><effect>.<uniform>: fx.* (master), layer.<n>.fx.*
        self.source = load_fragment(name)
        self.prog = compile_program(ctx, self.source)
        self.vao = ctx.vertex_array(self.prog, [])
        self.mtime = _mtime(self.source.path)
        self.error: str | None = None  # the last compile error of a saved file, while it stands

    def bypassed(self, values) -> bool:
        """True when the effect's parameters put it at its identity (its @bypass lines): no pass."""
        name = self.source.name
        return bool(self.source.bypass) and all(
            values.get(f"{self.prefix}{name}.{u}", self._default(u)) == x for u, x in self.source.bypass)

    def _default(self, uniform: str) -> float:
        return next(p.default for p in self.source.params if p.name == uniform)

    def reload_if_changed(self) -> bool:
        m = _mtime(self.source.path)
        if m == self.mtime:
            return False
        self.mtime = m
        try:
            source = load_fragment(self.source.name, self.source.path.parent)
            prog = compile_program(self.ctx, source)
        except Exception as e:  # ShaderError or a bad @param header: keep the old program running
            self.error = str(e).splitlines()[0]
            log.error(f"shader {self.error}; the previous version keeps running")
            return True
        if [(u.name, u.lo, u.hi) for u in source.params] != [(u.name, u.lo, u.hi) for u in self.source.params]:
            log.warning(f"shader {source.path.name}: its @param header changed; new parameters need a restart "
                        f"(the code is live now)")
        self.vao.release()
        self.prog.release()
        self.source, self.prog, self.error = source, prog, None
        self.vao = self.ctx.vertex_array(prog, [])
        log.info(f"shader {source.path.name}: reloaded")
        return True


def _mtime(path) -> float:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


@dataclass
class _Source:
    """A layer's own image (the generator layer has none: it reads the uploaded frames)."""

    tex: Any  # the texture the stack samples
    size: tuple[int, int]  # its size, pixels
    flip: float  # 1: rows top-first (uploaded pixels), 0: drawn by GL
    shader: tuple | None = None  # a shader layer: (fragment, program, vao, framebuffer) drawing into tex
    reader: Any = None  # a video or camera layer: its VideoFile / Camera
    serial: int = -1  # the reader's frame last uploaded


class Compositor:
    def __init__(self, ctx, size: tuple[int, int], effect: str | None = None, *, effects: list[str] | None = None,
                 layers: tuple[stack.LayerSpec, ...] = stack.DEFAULT_STACK, live: bool = False) -> None:
        self.ctx = ctx
        self.live = live  # video layers: paced by the clock on a thread (live) or read frame-exact (offline)
        self.size = size
        self.layers = tuple(layers) or stack.DEFAULT_STACK
        names = list(effects) if effects is not None else ([effect] if effect else [])
        self.chain = [_Effect(ctx, n) for n in names]
        self._stage = shader_program(ctx, "stack", stack.stage_source(self.layers))
        self._stage_vao = ctx.vertex_array(self._stage, [])

        def target():
            tex = ctx.texture(size, 4, dtype="f2")
            tex.repeat_x = tex.repeat_y = False
            tex.filter = (ctx.LINEAR, ctx.LINEAR)
            return tex, ctx.framebuffer(color_attachments=[tex])

        self._work = [target(), target()]  # the effect chain ping-pongs here
        self._prog = [target(), target()]
        self._cur = 0
        for _, fbo in self._prog:
            fbo.clear(0.0, 0.0, 0.0, 1.0)
        self._gen = [None, None]  # [newest, the one before]
        self._gen_sizes = [(0, 0), (0, 0)]
        self._arrived = False  # a frame was uploaded since the last render
        self._t_arrival: float | None = None
        self._gen_interval = 0.0  # seconds between generated frames (smoothed)
        self._frame_dt = 0.0  # seconds between render frames (smoothed)
        self._last_t: float | None = None
        self._sources = [self._open_source(i, l) for i, l in enumerate(self.layers)]
        # a layer's own effect chain: its source is covered into a frame-sized image, then the effects
        self._layer_fx = [[_Effect(ctx, name, f"layer.{i + 1}.fx.") for name in l.effects] for i, l in enumerate(self.layers)]
        self._layer_work = {i: (target(), target()) for i, fx in enumerate(self._layer_fx) if fx}
        if self._layer_work:
            self._cover = compile_program(ctx, load_fragment("cover"))
            self._cover_vao = ctx.vertex_array(self._cover, [])
        self._spectrum = ctx.texture((64, 1), 1, dtype="f4")
        self._spectrum.filter = (ctx.LINEAR, ctx.LINEAR)
        self._spectrum.repeat_x = self._spectrum.repeat_y = False
        self._spectrum.write(np.zeros(64, np.float32))
        self._last_spectrum = None
        self._next_reload = 0.0
        self._readback = None  # an 8-bit copy of the program image, made for reading back
        self.upload(self._warmup_pattern())  # something alive on screen before the first frame
        self.upload(self._warmup_pattern())

    # -- sources ------------------------------------------------------------------------------------
    def _open_source(self, i: int, layer: stack.LayerSpec) -> _Source | None:
        """The image of a still, video, camera or shader layer; None for the generator."""
        if layer.kind == "generator":
            return None
        if layer.kind == "image":
            from PIL import Image

            img = np.asarray(Image.open(layer.arg).convert("RGBA"))
            h, w = img.shape[:2]
            tex = self.ctx.texture((w, h), 4, np.ascontiguousarray(img).tobytes())
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            return _Source(tex, (w, h), 1.0)
        if layer.kind in ("video", "camera"):  # read at the output size on a thread (a file offline: in step);
            from vj.media import Camera, VideoFile  # uploaded when a new frame is there

            arg = layer.arg
            video = (VideoFile(Path(arg), self.size, self.live) if layer.kind == "video"
                     else Camera(int(arg) if arg.isdigit() else arg, self.size))
            tex = self.ctx.texture(self.size, 3, alignment=1)
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            tex.write(np.zeros((self.size[1], self.size[0], 3), np.uint8))
            return _Source(tex, self.size, 1.0, reader=video)
        if layer.kind == "shader":  # a generator shader: drawn into its own texture each frame
            src = load_fragment(layer.arg)
            prog = compile_program(self.ctx, src)
            tex = self.ctx.texture(self.size, 4, dtype="f2")
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            return _Source(tex, self.size, 0.0, shader=(src, prog, self.ctx.vertex_array(prog, []), self.ctx.framebuffer([tex])))
        raise ValueError(f"layer {i + 1}: source {layer.source!r}")

    def _image(self, i: int) -> tuple[Any, tuple[int, int], float]:
        """(texture, size, flip) layer i shows before its own effects."""
        src = self._sources[i]
        return (self._gen[0], self._gen_sizes[0], 1.0) if src is None else (src.tex, src.size, src.flip)

    def _all_effects(self) -> list[_Effect]:
        return self.chain + [e for fx in self._layer_fx for e in fx]

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
            tex = self.ctx.texture((w, h), 3, alignment=1)
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            self._gen[0], self._gen_sizes[0] = tex, (w, h)
        tex.write(np.ascontiguousarray(pixels))
        self._arrived = True

    @property
    def _gen_size(self) -> tuple[int, int]:
        return self._gen_sizes[0]

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

    def _gen_mix(self, snap: Snapshot) -> float:
        """How far the newest generated frame has dissolved in (1: fully)."""
        t = snap.t
        if self._last_t is not None and t > self._last_t:
            dt = t - self._last_t
            self._frame_dt = dt if self._frame_dt == 0 else 0.9 * self._frame_dt + 0.1 * dt
        self._last_t = t
        if self._arrived:
            self._arrived = False
            if self._t_arrival is not None and t > self._t_arrival:
                gap = t - self._t_arrival
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
        v = snap.values
        self._upload_spectrum(snap)
        self._maybe_reload()
        prev_tex, _ = self._prog[self._cur]
        out_tex, out_fbo = self._prog[1 - self._cur]
        self._update_sources(snap)

        p = self._stage
        self._common_uniforms(p, snap)
        _set(p, "u_amount", v.get("feedback.amount", 0.0))
        m, o = stack.feedback_uv(self.size, v.get("feedback.zoom", 1.0), v.get("feedback.rotate", 0.0))
        _set(p, "u_fb_m", m)
        _set(p, "u_fb_o", o)
        _set(p, "u_crossfade", v.get("mixer.crossfade", 0.0))
        _set(p, "u_gen_mix", self._gen_mix(snap))
        _set(p, "u_prev", PREV_UNIT)
        _set(p, "u_gen_prev", GEN_PREV_UNIT)
        prev_tex.use(PREV_UNIT)
        self._gen[1].use(GEN_PREV_UNIT)
        layer_inputs = self._run_layer_effects(snap)
        for i, layer in enumerate(self.layers):
            n = i + 1
            tex, size, flip = (layer_inputs[i], self.size, 0.0) if i in layer_inputs else self._image(i)
            tex.use(i)
            _set(p, f"u_src{i}", i)
            m, o = stack.layer_uv(self.size, size, flip > 0.5, v.get(f"layer.{n}.scale", 1.0),
                                  v.get(f"layer.{n}.rotate", 0.0), v.get(f"layer.{n}.x", 0.0), v.get(f"layer.{n}.y", 0.0))
            _set(p, f"u_m{i}", m)
            _set(p, f"u_o{i}", o)
            _set(p, f"u_mode{i}", int(round(v.get(f"layer.{n}.blend", stack.BLEND_MODES.index(layer.blend)))))
            _set(p, f"u_opacity{i}", v.get(f"layer.{n}.opacity", layer.opacity))
        if not self.chain:
            out_fbo.use()
            self._stage_vao.render(vertices=3)
        else:
            src_tex = self._work[0][0]
            if any(not eff.bypassed(v) for eff in self.chain):
                self._work[0][1].use()
                self._stage_vao.render(vertices=3)
            live = [eff for eff in self.chain if not eff.bypassed(v)]
            if not live:  # every effect is at its identity: the stack goes straight to the program image
                out_fbo.use()
                self._stage_vao.render(vertices=3)
            self._run_chain(live, src_tex, self._work, out_fbo, snap)
        self._cur = 1 - self._cur
        return out_tex

    def _run_chain(self, effects, src_tex, work, out_fbo, snap: Snapshot) -> None:
        """Effects one after the other, ping-ponging between the two `work` targets; the last one
        draws into out_fbo."""
        v = snap.values
        for k, eff in enumerate(effects):
            last = k == len(effects) - 1
            dst_fbo = out_fbo if last else work[(k + 1) % 2][1]
            e = eff.prog
            self._common_uniforms(e, snap)
            for u in eff.source.params:
                _set(e, u.name, v.get(f"{eff.prefix}{eff.source.name}.{u.name}", u.default))
            _set(e, "u_input", 0)
            src_tex.use(0)
            dst_fbo.use()
            eff.vao.render(vertices=3)
            src_tex = work[(k + 1) % 2][0]

    def _run_layer_effects(self, snap: Snapshot) -> dict:
        """Layers with effects of their own: source -> covered frame -> effects. Returns the
        finished image per layer index (a layer whose effects are all at identity is left out)."""
        out = {}
        for i, work in self._layer_work.items():
            live = [eff for eff in self._layer_fx[i] if not eff.bypassed(snap.values)]
            if not live:
                continue
            tex, size, flip = self._image(i)
            m, o = stack.layer_uv(self.size, size, flip > 0.5, 1.0, 0.0, 0.0, 0.0)
            c = self._cover
            _set(c, "u_m", m)
            _set(c, "u_o", o)
            _set(c, "u_input", 0)
            tex.use(0)
            work[0][1].use()
            self._cover_vao.render(vertices=3)
            final = work[len(live) % 2]  # where the last effect lands
            self._run_chain(live, work[0][0], work, final[1], snap)
            out[i] = final[0]
        return out

    def _update_sources(self, snap: Snapshot) -> None:
        """Video layers take their newest frame; shader layers draw themselves."""
        for src in self._sources:
            if src is None:
                continue
            if src.reader is not None:  # a video or camera layer: the newest frame, if it moved
                px = src.reader.frame(snap.t)
                if px is not None and src.reader.serial != src.serial:
                    src.tex.write(px)
                    src.serial = src.reader.serial
                continue
            if src.shader is None:
                continue
            fragment, prog, vao, fbo = src.shader
            self._common_uniforms(prog, snap)
            for u in fragment.params:
                _set(prog, u.name, snap.values.get(f"fx.{fragment.name}.{u.name}", u.default))
            fbo.use()
            vao.render(vertices=3)

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_reload or not (self.chain or self._layer_work):
            return
        self._next_reload = now + RELOAD_EVERY
        for eff in self._all_effects():
            eff.reload_if_changed()

    def shader_errors(self) -> list[str]:
        """Compile errors of saved effect files that are standing (for the status line)."""
        return [e.error for e in self._all_effects() if e.error]

    def close(self) -> None:
        """Stop what reads for the layers (video decoders, cameras)."""
        for src in self._sources:
            if src is not None and src.reader is not None:
                src.reader.close()

    @property
    def output(self):
        return self._prog[self._cur][0]

    def read_rgb(self) -> bytes:
        """The program image as packed RGB bytes, bottom row first (GL order). Blitted to 8 bits on
        the GPU first: reading a 16-bit float image back costs several times more (BENCHMARKS.md)."""
        return self._blit_8bit().read(components=3, alignment=1)

    def _blit_8bit(self):
        if self._readback is None:
            tex = self.ctx.texture(self.size, 4)
            self._readback = (tex, self.ctx.framebuffer([tex]))
        self.ctx.copy_framebuffer(self._readback[1], self._prog[self._cur][1])
        return self._readback[1]

    def read_rgba_top_first(self) -> np.ndarray:
        """The program image as (h, w, 4) uint8, row 0 at the top (a copy the caller may keep)."""
        w, h = self.size
        return np.frombuffer(self._blit_8bit().read(components=4, alignment=1), np.uint8).reshape(h, w, 4)[::-1].copy()

    def read_frame(self) -> np.ndarray:
        """The program image as (h, w, 3) uint8, row 0 at the top (for tests and snapshots)."""
        w, h = self.size
        return np.frombuffer(self.read_rgb(), np.uint8).reshape(h, w, 3)[::-1]


__all__ = ["Compositor", "ShaderError", "declare_params"]
