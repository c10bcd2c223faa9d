"""The compositor: generated frames in, the program image out, all on the GPU (moderngl).

Per render frame, as few passes as the chains allow (compose.py plans them):

    stack pass    every layer (the generated frame, stills, videos, cameras, shader sources and
                  their own effects) transformed, blended into its crossfader group by its mode and
                  opacity, the groups crossfaded, the previous program image mixed in
                  (feedback.amount / .zoom / .rotate), and the master effects composed on top, up
                  to the first one that needs its input as an image (a blur, an RGB split)
    later passes  one per such effect, with the effects after it composed in
    master pass   only while the master fader is down or a scene's transition dissolves from the
                  image held when it began

Its parts, each in its own module:
    programs.py       the effects (functions in shaders/, their @param uniforms fx.<effect>.*), the
                      passes each kind of frame needs, compiled once; a saved file recompiled live
    sources.py        the layers' own images: stills, videos, cameras
    pacing.py         the generated frames as they arrive, dissolved in at the display's rate
    program_image.py  the ping-ponged program image, the master fader, the readback
    uniforms.py       what every shader sees: the audio uniforms and the spectrum texture

Images between passes are 8 bits a channel (`precision = 16` in the set for 16-bit float): the
cheapest to filter on a software renderer; feedback is dithered so that its trails still fade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vj.core.params import ParamSpec
from vj.core.snapshot import Snapshot
from vj.render import compose
from vj.render import layers as stack
from vj.render.pacing import GeneratedFrames, LayerFrames
from vj.render.program_image import ProgramImage
from vj.render.programs import Programs
from vj.render.shaders import FragmentSource, ShaderError
from vj.render.sources import LayerSources
from vj.render.uniforms import CommonUniforms, set_uniform


def declare_params(effects: FragmentSource | list[FragmentSource] | None,
                   layer_specs: tuple[stack.LayerSpec, ...] = stack.DEFAULT_STACK,
                   shader_dirs: tuple[Path, ...] = ()) -> list[ParamSpec]:
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
    ] + stack.declare_params(layer_specs, shader_dirs)
    for effect in effects or []:
        specs += [ParamSpec(f"fx.{effect.name}.{u.name}", u.lo, u.hi, u.default, "", 0.05, u.doc) for u in effect.params]
    return specs


GEN_PREV_UNIT = 14  # the generated frame before the newest
PREV_UNIT = 13  # the previous program image; layers take units 0..MAX_LAYERS-1


class Compositor:
    def __init__(self, ctx, size: tuple[int, int], effect: str | None = None, *, effects: list[str] | None = None,
                 layers: tuple[stack.LayerSpec, ...] = stack.DEFAULT_STACK, live: bool = False,
                 precision: int = 8, shader_dirs: tuple[Path, ...] = ()) -> None:
        self.ctx = ctx
        self.size = size
        self.layers = tuple(layers) or stack.DEFAULT_STACK
        names = list(effects) if effects is not None else ([effect] if effect else [])
        self.programs = Programs(ctx, self.layers, names, precision, shader_dirs)  # errors before the show
        self.image = ProgramImage(ctx, size, precision)
        self.frames = GeneratedFrames(ctx)
        # the layer generators' frames ([generators.NAME]), each paced on its own; what each shows this frame
        self.layer_frames = {n: LayerFrames(ctx) for n in dict.fromkeys(l.generator for l in self.layers
                                                                        if l.kind == "generator" and l.generator)}
        self._shown = {n: (f.tex[0], f.sizes[0]) for n, f in self.layer_frames.items()}
        self.sources = LayerSources(ctx, size, self.layers, live)
        self.uniforms = CommonUniforms(ctx, size)
        self._work: list = []  # images between the master chain's passes
        self._layer_work: dict = {}  # the same for each layer whose chain has passes of its own
        self.map_wanted = any(l.kind == "control" for l in self.layers)  # a `control` layer shows the control map

    def wants_input(self, generator: str) -> bool:
        """Does the stack show this generator's input image (an `input:NAME` layer; "": the main one)?"""
        return any(l.kind == "input" and l.generator == generator for l in self.layers)

    def upload(self, pixels: np.ndarray, generator: str = "") -> None:
        """A generated frame, (h, w, 3) uint8 with row 0 at the top, of the main generator ("") or of
        a layer generator (its name; one no layer shows is left out)."""
        frames = self.layer_frames.get(generator) if generator else self.frames
        if frames is not None:
            frames.upload(pixels)

    def upload_input(self, pixels: np.ndarray, generator: str = "", what: str = "input") -> None:
        """The camera or video image the newest generated frame was made from (an input layer and, the
        main generator's, the preview show it); with what="control", the map of the first [[control]]
        the main generator's newest frame was guided by (a `control` layer: the twin's skeleton)."""
        if what == "control":
            self.sources.upload_map(pixels)
        else:
            self.sources.upload_input(pixels, generator)

    def forget_pace(self, generator: str = "") -> None:
        """The next generated frame comes after a pause the engine knows of (a freeze)."""
        frames = self.layer_frames.get(generator) if generator else self.frames
        if frames is not None:
            frames.forget_pace()

    def input_feed(self) -> tuple[Any, tuple[int, int], str]:
        """(texture, size, what) to show beside the program, rows top-first: the generator's camera
        or video input, else the first camera or video layer, else the generated frame as it came."""
        return self.sources.input_feed() or (self.frames.tex[0], self.frames.sizes[0], "generated frame")

    def warm_up(self) -> None:
        """Render once every plan a show is likely to meet, with the real images bound: on a software
        renderer the first draw of a shader compiles it to machine code for the formats it samples,
        hundreds of milliseconds that must not fall in the middle of a show. Then the program image
        is black again."""
        for frames in self.layer_frames.values():
            frames.warm_up()
        for values, mix in self.programs.warm_up_frames():
            self._render(Snapshot(0, 0.0, values, (), 0), mix)
        self.image.warm_up_fader()
        self.ctx.finish()
        self.image.clear()

    # -- a frame --------------------------------------------------------------------------------------
    def render(self, snap: Snapshot):
        """Composite one frame; returns what the outputs show (valid until the next render)."""
        self.uniforms.update(snap)
        self.programs.reload_if_saved()
        self.sources.update(snap.t)
        self._shown = {n: f.shown(snap) for n, f in self.layer_frames.items()}
        return self._render(snap, self.frames.mix(snap), self.image.dissolve(snap.transition))

    def _render(self, snap: Snapshot, gen_mix: float, held_mix: float = 0.0):
        v = snap.values
        plan = self.programs.for_frame(v, gen_mix)
        self._targets_for(plan)
        dither = 1.0 / 255.0
        self.frames.tex[1].use(GEN_PREV_UNIT)
        for i, passes in plan.layer_passes.items():  # layers whose chains need passes of their own
            self._run_passes(passes, self._layer_work[i], self._layer_work[i][(len(passes) - 1) % 2][1], snap,
                             gen_mix, dither, source=i)
        self._bind_stack(plan, v)
        self._run_passes([plan.stack] + plan.master, self._work, self.image.next[1], snap, gen_mix, dither)
        return self.image.finish(v.get("master.level", 1.0), held_mix)

    def _targets_for(self, plan: compose.Plan) -> None:
        """Images between passes for a plan that needs them (made once)."""
        if plan.master and not self._work:
            self._work = [self.image.target(), self.image.target()]
        for i in plan.layer_passes:
            if i not in self._layer_work:
                self._layer_work[i] = (self.image.target(), self.image.target())

    def _bind_stack(self, plan: compose.Plan, v) -> None:
        """The stack pass's uniforms and images: feedback, crossfader, each layer's transform."""
        p = plan.stack.prog
        set_uniform(p, "u_amount", v.get("feedback.amount", 0.0))
        m, o = stack.feedback_uv(self.size, v.get("feedback.zoom", 1.0), v.get("feedback.rotate", 0.0))
        set_uniform(p, "u_fb_m", m)
        set_uniform(p, "u_fb_o", o)
        set_uniform(p, "u_crossfade", v.get("mixer.crossfade", 0.0))
        set_uniform(p, "u_prev", PREV_UNIT)
        self.image.previous.use(PREV_UNIT)
        for i, layer in enumerate(self.layers):
            n = i + 1
            if i in plan.layer_passes:  # the last of its passes left the layer's image in its frame
                self._layer_work[i][(len(plan.layer_passes[i]) - 1) % 2][0].use(i)
                set_uniform(p, f"u_src{i}", i)
            else:
                self._bind_source(p, i)
            m, o = stack.layer_uv(self.size, self.size, False, v.get(f"layer.{n}.scale", 1.0),
                                  v.get(f"layer.{n}.rotate", 0.0), v.get(f"layer.{n}.x", 0.0), v.get(f"layer.{n}.y", 0.0))
            set_uniform(p, f"u_m{i}", m)
            set_uniform(p, f"u_o{i}", o)
            set_uniform(p, f"u_mode{i}", int(round(v.get(f"layer.{n}.blend", self.programs.declared_modes[i]))))
            set_uniform(p, f"u_opacity{i}", v.get(f"layer.{n}.opacity", layer.opacity))

    def _image(self, i: int) -> tuple[Any, tuple[int, int], float]:
        """(texture, size, flip) of layer i's own image (None for a shader layer)."""
        layer = self.layers[i]
        kind, name = layer.kind, layer.generator
        if kind == "generator":
            return (*self._shown[name], 1.0) if name else (self.frames.tex[0], self.frames.sizes[0], 1.0)
        if kind == "feedback":  # the program image of the frame before (drawn by GL: bottom row first)
            return self.image.previous, self.size, 0.0
        if kind == "input":  # what the generator was given (before the first: the generated frame)
            tex = self.sources.input_of(name)
            if tex is not None:
                return tex, tex.size, 1.0
            frames = self.layer_frames.get(name, self.frames)
            return frames.tex[0], frames.sizes[0], 1.0
        if kind == "control":  # the main generator's control map (before the first: its generated frame)
            tex = self.sources.map_image
            return (tex, tex.size, 1.0) if tex is not None else (self.frames.tex[0], self.frames.sizes[0], 1.0)
        img = self.sources.images[i]
        if img is None:
            return None, self.size, 0.0
        return img.tex, img.size, img.flip

    def _bind_source(self, prog, i: int) -> None:
        """Layer i's own image on texture unit i, with the map that covers it into the frame."""
        tex, size, flip = self._image(i)
        if tex is None:  # a shader layer draws itself
            return
        tex.use(i)
        set_uniform(prog, f"u_src{i}", i)
        m, o = stack.layer_uv(self.size, size, flip > 0.5, 1.0, 0.0, 0.0, 0.0, self.layers[i].fit == "contain")
        set_uniform(prog, f"u_c{i}", m)
        set_uniform(prog, f"u_co{i}", o)

    def _run_passes(self, passes, work, out_fbo, snap: Snapshot, gen_mix: float, dither: float,
                    source: int | None = None) -> None:
        """Passes one after the other, each reading the last one's image (ping-ponging between the
        two `work` targets); the last one draws into out_fbo. `source`: the layer whose own image
        the first pass reads (a layer's pre-passes; the stack pass has its sources bound already)."""
        v = snap.values
        for k, code in enumerate(passes):
            p = code.prog
            self.uniforms.apply(p, snap)
            set_uniform(p, "u_gen_mix", gen_mix)
            set_uniform(p, "u_gen_prev", GEN_PREV_UNIT)
            set_uniform(p, "u_dither", dither)
            for eff, prefix in code.fused:
                for u in eff.source.params:
                    set_uniform(p, prefix + u.name, v.get(f"{eff.prefix}{eff.source.name}.{u.name}", u.default))
            for i, prefix in code.sources:  # a shader layer's parameters are fx.<shader>.<uniform>
                frag = self.programs.shader_fx[i].source
                for u in frag.params:
                    set_uniform(p, prefix + u.name, v.get(f"fx.{frag.name}.{u.name}", u.default))
            if k > 0:
                work[(k - 1) % 2][0].use(compose.IN_UNIT)
                set_uniform(p, "u_in", compose.IN_UNIT)
            elif source is not None:
                self._bind_source(p, source)
            (out_fbo if k == len(passes) - 1 else work[k % 2][1]).use()
            code.vao.render(vertices=3)

    def shader_errors(self) -> list[str]:
        """Compile errors of saved effect files that are standing (for the status line)."""
        return self.programs.errors()

    def close(self) -> None:
        """Stop what reads for the layers (video decoders, cameras)."""
        self.sources.close()

    @property
    def passes(self) -> int:
        """Full-screen passes the last frame took (layers' own, the stack, the master chain's)."""
        return len(self.programs.plan.passes)

    @property
    def output(self):
        """What the outputs show: the program image, under the master fader when it is down."""
        return self.image.output

    def read_rgba(self) -> bytes:
        """The program image as RGBA bytes, bottom row first (GL order): what recorders take."""
        return self.image.read_rgba()

    def read_frame(self) -> np.ndarray:
        """The program image as (h, w, 3) uint8, row 0 at the top (for tests and snapshots)."""
        return self.image.read_frame()


__all__ = ["Compositor", "ShaderError", "declare_params"]
