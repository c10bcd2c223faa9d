"""The compositor's shader programs: the effects it runs, the passes each kind of frame needs, and
the files' live reload.

A frame's *variant* (feedback on or off, a frame dissolving in or not, blend modes moved, which
pass-starting effects sit at their identity) decides its passes; compose.py plans them, each
program is compiled once (keyed by its text) and each plan cached. A saved effect file is read
again; one that no longer compiles keeps the last good programs running and its error stands
(errors()) until the file is fixed.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from vj.log import log
from vj.render import compose
from vj.render import layers as stack
from vj.render.shaders import ShaderError, compile_program, compile_text, load_effect, prelude, shader_dir

RELOAD_EVERY = 0.5  # seconds between looks at the effect files' modification times


class Effect:
    """One effect of a chain (or a shader layer): its source and the file time it was read at."""

    def __init__(self, ctx, name: str, prefix: str = "fx.", shader_dirs: tuple[Path, ...] = ()) -> None:
        self.ctx = ctx
        self.prefix = prefix  # its parameters are <prefix><effect>.<uniform>: fx.* (master), layer.<n>.fx.*
        self.source = load_effect(name, first=shader_dirs)
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


class Programs:
    """The effects of a layer stack and master chain, and the compiled passes of each variant."""

    def __init__(self, ctx, layers: tuple[stack.LayerSpec, ...], chain: list[str], precision: int,
                 shader_dirs: tuple[Path, ...] = ()) -> None:
        self.ctx = ctx
        self.layers = layers
        self.precision = precision
        self.chain = [Effect(ctx, n, shader_dirs=shader_dirs) for n in chain]
        # a layer's own effect chain runs in the layer's frame, before its transform
        self.layer_fx = [[Effect(ctx, name, f"layer.{i + 1}.fx.", shader_dirs) for name in l.effects]
                         for i, l in enumerate(layers)]
        self.shader_fx = {i: Effect(ctx, l.arg, shader_dirs=shader_dirs) for i, l in enumerate(layers)
                          if l.kind == "shader"}
        self.declared_modes = tuple(stack.BLEND_MODES.index(l.blend) for l in layers)
        # a feedback layer recurs through the program image as the feedback stage does: dithered too
        self._feedback_layer = any(l.kind == "feedback" for l in layers)
        self._programs: dict[str, tuple] = {}  # shader text -> (program, vao): each compiled once
        self._plans: dict[tuple, compose.Plan] = {}  # (variant, effects left out) -> plan
        self._failed: dict[tuple, ShaderError] = {}  # variants that did not compile, until the files change
        self._next_reload = 0.0
        self._build_error: str | None = None  # a saved file that compiles alone but not in its chain
        self.plan = self._plan_for((compose.Variant(), ()))  # checks every file now: errors before the show

    def effects(self) -> list[Effect]:
        return self.chain + [e for fx in self.layer_fx for e in fx] + list(self.shader_fx.values())

    @property
    def compiled(self) -> int:
        return len(self._programs)

    def for_frame(self, values, gen_mix: float) -> compose.Plan:
        """The plan of this frame's variant; when it does not compile (a file saved since), the last
        plan goes on and the error is said once."""
        try:
            self.plan = self._plan_for(self._variant(values, gen_mix))
        except ShaderError as e:
            self._report_build_error(e)
        return self.plan

    def _variant(self, values, gen_mix: float) -> tuple[compose.Variant, tuple]:
        """What this frame needs compiled in, and which pass-starting effects sit at their identity
        (left out: no pass). The key of the plan."""
        fb = values.get("feedback.amount", 0.0) > 0.0
        declared = self.declared_modes
        modes = tuple(int(round(values.get(f"layer.{i + 1}.blend", m))) for i, m in enumerate(declared))
        recurs = fb or self._feedback_layer
        v = compose.Variant(fb, gen_mix < 1.0, modes if modes == declared else None, recurs and self.precision == 8)
        off = tuple(k for k, e in enumerate(self.effects()) if e.source.own_pass and e.bypassed(values))
        return v, off

    def _plan_for(self, key: tuple) -> compose.Plan:
        """The plan for a variant: cached; built (and compiled) the first time. A variant whose
        build failed raises its error again without compiling until the files change."""
        plan = self._plans.get(key)
        if plan is None:
            if key in self._failed:
                raise self._failed[key]
            try:
                plan = self._build(key, self._programs)
            except ShaderError as e:
                self._failed[key] = e
                raise
            self._plans[key] = plan
        self._key = key
        return plan

    def _build(self, key: tuple, programs: dict) -> compose.Plan:
        """The passes for a variant, their programs taken from `programs` (by shader text) or
        compiled into it. Raises ShaderError naming the file and line."""
        v, off = key
        folder = shader_dir()
        gone = {id(e) for k, e in enumerate(self.effects()) if k in off}
        frags = {i: e.source for i, e in self.shader_fx.items()}
        plan = compose.plan(prelude(folder), folder / "common.glsl", self.layers,
                            [[e for e in fx if id(e) not in gone] for fx in self.layer_fx],
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
        return plan

    def warm_up_frames(self):
        """(values, gen_mix) of every variant a show is likely to meet: feedback on and off, a frame
        dissolving in or not, the blend modes as set or moved, the pass-starting effects on and off."""
        effects = self.effects()
        toggles = [k for k, e in enumerate(effects) if e.source.own_pass and e.source.bypass]
        if len(toggles) <= 3:  # every combination of pass-starting effects on and off
            offs = [c for r in range(len(toggles) + 1) for c in itertools.combinations(toggles, r)]
        else:  # too many to try them all: each one off alone, and all off
            offs = [()] + [(k,) for k in toggles] + [tuple(toggles)]
        moved = {f"layer.{i + 1}.blend": (m + 1) % len(stack.BLEND_MODES) for i, m in enumerate(self.declared_modes)}
        for fb, mix, blends, off in itertools.product((0.0, 0.5), (1.0, 0.5), ({}, moved), offs):
            values = {"feedback.amount": fb, **blends}
            for k in toggles:  # at its identity, or (when that is its default) at the other end
                e = effects[k]
                for u, x in e.source.bypass:
                    p = next(q for q in e.source.params if q.name == u)
                    key = f"{e.prefix}{e.source.name}.{u}"
                    values[key] = x if k in off else (p.default if p.default != x else (p.hi if p.hi != x else p.lo))
            yield values, mix

    def reload_if_saved(self) -> None:
        """Look at the files (every RELOAD_EVERY seconds); when one was saved and compiles, rebuild
        the plan in use with it (the other variants compile when they are met)."""
        now = time.monotonic()
        effects = self.effects()
        if now < self._next_reload or not effects:
            return
        self._next_reload = now + RELOAD_EVERY
        if not [eff for eff in effects if eff.reload_if_changed()]:
            return
        programs: dict[str, tuple] = {}
        try:
            plan = self._build(self._key, programs)
        except ShaderError as e:  # compiles alone, not in the chain: the old programs run on
            self._report_build_error(e)
            return
        for prog, vao in self._programs.values():
            vao.release()
            prog.release()
        self._programs, self._plans, self._failed = programs, {self._key: plan}, {}
        self.plan, self._build_error = plan, None
        log.info("shaders reloaded: " + ", ".join(sorted({e.source.path.name for e in effects})))

    def _report_build_error(self, e: ShaderError) -> None:
        """One line when a variant does not compile (not one a frame); it stands in the status."""
        line = str(e).splitlines()[0]
        if line != self._build_error:
            self._build_error = line
            log.error(f"shader {line}; the show goes on with the programs that compile")

    def errors(self) -> list[str]:
        """Compile errors of saved effect files that are standing (for the status line)."""
        errors = [e.error for e in self.effects() if e.error]
        return errors + ([self._build_error] if self._build_error else [])
