"""Builds a show from a set: the parameter namespace, the routes, the generator, the compositor.

Order matters for the performer: everything that can be checked without a model (parameter
names, routes, the effect's header, shader compilation) is checked before the model loads, so a
typo in a set fails in a second, not after a minute of loading weights.
"""

from __future__ import annotations

import secrets

from vj.core.features import SOURCES
from vj.core.spec import ShowSet
from vj.core.validate import suggest
from vj.control.hub import Controls
from vj.control.modulators import Modulators
from vj.core.spec import TRIGGERS
from vj.control.params import ParamSpace
from vj.core.params import ParamSpec
from vj.control.routes import Routes
from vj.core.errors import ConfigError
from vj.generate import loop as gen_loop
from vj.render import compositor as comp
from vj.core.spec import DEFAULT_STACK
from vj.render.shaders import load_effect


def resolve_seed(cli_seed: int | None, show: ShowSet) -> tuple[int, bool]:
    """(seed, drawn): the command line wins, then the set, else a fresh one from the OS."""
    if cli_seed is not None:
        return cli_seed, False
    if show.seed is not None:
        return show.seed, False
    return secrets.randbits(32), True


def build_controls(show: ShowSet, seed: int = 0) -> Controls:
    """Declare every parameter, apply the set's values, check its routes, modulators and scenes
    (no GL, no model: a typo in a set fails in a second)."""
    if len(set(show.effects)) < len(show.effects):
        raise ConfigError(f"{show.where()} [compositor]: an effect is in the chain twice (its fx.* parameters would be shared)")
    shader_layers = [l.arg for l in show.layers if l.kind == "shader"]
    fragments = [load_effect(name, first=show.shader_dirs) for name in dict.fromkeys(list(show.effects) + shader_layers)]
    params = ParamSpace(gen_loop.declare_params() + comp.declare_params(fragments, show.layers or DEFAULT_STACK,
                                                                        show.shader_dirs))
    for i, p in enumerate(show.prompts, 1):
        params.declare(ParamSpec(f"prompt.{i}.weight", -4.0, 4.0, p.weight, "", 0.1, f"weight of {p.text!r}"))
    if show.more_seeds:  # a seed list: each seed's share of the noise (equal-power mix, see generate/noise.py)
        for i in range(1, len(show.more_seeds) + 2):
            params.declare(ParamSpec(f"noise.seed.{i}.weight", -2.0, 2.0, 1.0 if i == 1 else 0.0, "", 0.1,
                                     f"weight of noise seed {i}"))
    for name, value in show.params.items():
        params.set(name, value, immediate=True, where=f"{show.where()} [params]")
    modulators = Modulators(show.lfos, show.envelopes, seed)
    names = [n for n in modulators.names()]
    if len(set(names)) < len(names):
        raise ConfigError(f"{show.where()}: two LFOs or two envelopes have the same name")
    for e in show.envelopes:
        if e.trigger not in TRIGGERS and not e.trigger.startswith("midi."):
            raise ConfigError(f"{show.where()} [[envelope]] {e.name}: trigger {e.trigger!r}{suggest(e.trigger, TRIGGERS)}; "
                              f"triggers: {', '.join(TRIGGERS)}, midi.<channel>.note.<n>")
    sources = tuple(SOURCES) + ("audio.bar",) + tuple(names)
    routes = Routes.from_specs(show.routes, params, sources, show.where())
    for sc in show.scenes:
        for name in sc.params:
            params.spec(name, f"{show.where()} [[scene]] {sc.name}")
    modulators.watch |= {r.source for r in routes.routes if r.source.startswith("midi.")}
    return Controls(params, routes, modulators, show.scenes, [p.text for p in show.prompts], seed, sources,
                    [p.resample for p in show.prompts], show.more_seeds)


def local_generator(show: ShowSet, model, seed: int, wrap_loop=None):
    """The generator in this process: offline render (in step with the renderer) and tests."""
    from vj.generate.loop import StreamLoop
    from vj.generate.worker import Generator

    batch = show.stream_batch if show.stream_batch is not None else model.device.type == "cuda"
    loop = StreamLoop(model, show.gen_size or model.spec.native_size, show.steps, seed, input=show.input, batch=batch,
                      deep_cache=show.deep_cache)
    return Generator(wrap_loop(loop) if wrap_loop else loop)


def process_generator(show: ShowSet, seed: int, device: str = "auto", threads: int | None = None,
                      wrap: str | None = None):
    """The generator in a process of its own: live shows (see generate/process.py). Not started yet."""
    from vj.generate.process import GeneratorConfig, ProcessGenerator

    return ProcessGenerator(GeneratorConfig(show.model, device, show.steps, show.gen_size, seed, threads, wrap,
                                            show.tiny_vae, show.input, show.stream_batch, show.deep_cache))


def make_compositor(ctx, show: ShowSet, live: bool = False):
    """The compositor for a set: its layer stack and its master effect chain."""
    return comp.Compositor(ctx, show.size, effects=list(show.effects), layers=show.layers or DEFAULT_STACK, live=live,
                           precision=show.precision, shader_dirs=show.shader_dirs)


def make_engine(controls: Controls, compositor, generator, *, clock, audio, outputs):
    from vj.engine import Engine

    return Engine(clock=clock, audio=audio, controls=controls, generator=generator, compositor=compositor,
                  outputs=outputs)
