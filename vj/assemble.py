"""Builds a show from a set: the parameter namespace, the routes, the generator, the compositor.

Order matters for the performer: everything that can be checked without a model (parameter
names, routes, the effect's header, shader compilation) is checked before the model loads, so a
typo in a set fails in a second, not after a minute of loading weights.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from vj.audio.features import SOURCES
from vj.config import ShowSet
from vj.control.params import ParamSpace, ParamSpec
from vj.control.routes import Routes
from vj.generate import loop as gen_loop
from vj.render import compositor as comp
from vj.render.shaders import load_fragment


def resolve_seed(cli_seed: int | None, show: ShowSet) -> tuple[int, bool]:
    """(seed, drawn): the command line wins, then the set, else a fresh one from the OS."""
    if cli_seed is not None:
        return cli_seed, False
    if show.seed is not None:
        return show.seed, False
    return secrets.randbits(32), True


@dataclass
class Controls:
    params: ParamSpace
    routes: Routes


def build_controls(show: ShowSet) -> Controls:
    """Declare every parameter, apply the set's values and check its routes (no GL, no model)."""
    effect = load_fragment(show.effect) if show.effect else None
    params = ParamSpace(gen_loop.declare_params() + comp.declare_params(effect))
    for i, p in enumerate(show.prompts, 1):
        params.declare(ParamSpec(f"prompt.{i}.weight", -4.0, 4.0, p.weight, "", 0.1, f"weight of {p.text!r}"))
    for name, value in show.params.items():
        params.set(name, value, immediate=True, where=f"{show.where()} [params]")
    routes = Routes.from_specs(show.routes, params, SOURCES, show.where())
    return Controls(params, routes)


def local_generator(show: ShowSet, model, seed: int, wrap_loop=None):
    """The generator in this process: offline render (in step with the renderer) and tests."""
    from vj.generate.loop import StreamLoop
    from vj.generate.worker import Generator

    loop = StreamLoop(model, show.gen_size or model.spec.native_size, show.steps, seed)
    return Generator(wrap_loop(loop) if wrap_loop else loop)


def process_generator(show: ShowSet, seed: int, device: str = "auto", threads: int | None = None,
                      wrap: str | None = None):
    """The generator in a process of its own: live shows (see generate/process.py). Not started yet."""
    from vj.generate.process import GeneratorConfig, ProcessGenerator

    return ProcessGenerator(GeneratorConfig(show.model, device, show.steps, show.gen_size, seed, threads, wrap))


def make_engine(show: ShowSet, controls: Controls, compositor, generator, *, clock, audio, outputs, seed: int):
    from vj.engine import Engine

    return Engine(clock=clock, audio=audio, params=controls.params, routes=controls.routes, generator=generator,
                  compositor=compositor, outputs=outputs, prompts=tuple(p.text for p in show.prompts), seed=seed)
