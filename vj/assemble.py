"""Builds a show from a set and the command line's options: the parameter namespace, the routes,
the GL surface and window, the compositor, the generator, the control process, OSC out, the engine.
All the wiring is here (cli.py parses and reports); nothing is patched onto a part once it is made.

Order matters for the performer: everything that can be checked without a model (parameter
names, routes, the effect's header, shader compilation) is checked before the model loads, so a
typo in a set fails in a second, not after a minute of loading weights.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vj.core.features import SOURCES
from vj.core.spec import GeneratorSpec, ShowSet, WebSettings, reads_program
from vj.core.validate import RAISE, Problems, fail, suggest
from vj.control.hub import Controls
from vj.control.modulators import Modulators
from vj.core.spec import TRIGGERS
from vj.control.params import ParamSpace
from vj.core.params import ParamSpec
from vj.control.routes import Routes, make_route
from vj.core.errors import ConfigError, ModelLoadError, VJError
from vj.log import counted, log
from vj.generate import loop as gen_loop
from vj.render import compositor as comp
from vj.core.spec import DEFAULT_STACK
from vj.render.shaders import load_effect


def resolve_seed(cli_seed: int | None, show: ShowSet, used: set[int] | frozenset = frozenset()) -> tuple[int, bool]:
    """(seed, drawn): the command line wins, then the set, else a fresh one from the OS that no
    earlier show in the log folder had (`used`): never the same show twice."""
    if cli_seed is not None:
        return cli_seed, False
    if show.seed is not None:
        return show.seed, False
    while (seed := secrets.randbits(32)) in used:
        pass
    return seed, True


def build_controls(show: ShowSet, seed: int = 0, problems: Problems = RAISE, journal=None) -> Controls:
    """Declare every parameter, apply the set's values, check its routes, modulators and scenes
    (no GL, no model: a typo in a set fails in a second). Collecting `problems` (vj check), each
    bad value, route or name is kept there and the rest is checked past it; a name that only an
    effect that did not load could have declared is not said wrong as well (one mistake, one message)."""
    w = show.where()
    if len(set(show.effects)) < len(show.effects):
        problems.attempt(fail, f"{w} [compositor]: an effect is in the chain twice (its fx.* parameters would be shared)")
    fragments, layers, unsure = _effects(show, problems)
    layer_specs = problems.attempt(comp.declare_params, fragments, layers, show.shader_dirs, default=[])
    params = ParamSpace(gen_loop.declare_params() + layer_specs)
    for i, p in enumerate(show.prompts, 1):
        params.declare(ParamSpec(f"prompt.{i}.weight", -4.0, 4.0, p.weight, "", 0.1, f"weight of {p.text!r}"))
    for lo in show.loras:
        params.declare(ParamSpec(f"lora.{lo.name}.weight", 0.0, 2.0, lo.weight, "", 0.05, f"weight of LoRA {lo.source}"))
    for spec in guided_params(show):
        params.declare(spec)
    if show.more_seeds:  # a seed list: each seed's share of the noise (equal-power mix, see generate/noise.py)
        for i in range(1, len(show.more_seeds) + 2):
            params.declare(ParamSpec(f"noise.seed.{i}.weight", -2.0, 2.0, 1.0 if i == 1 else 0.0, "", 0.1,
                                     f"weight of noise seed {i}"))
    for g in show.generators:  # a named generator's own knob; everything else it reads is the show's
        params.declare(ParamSpec(f"gen.{g.name}.freeze", 0.0, 1.0, 0.0, "", 0.0,
                                 f"1: hold the image of generator {g.name} (it rests); gen.freeze holds them all"))

    def known(name: str, where: str) -> bool:
        """Is `name` a parameter? A problem is kept when it is not, unless only an effect that did not
        load knew; the parameters of an effect left out of its chain are said once."""
        if name not in params and any(name.startswith(u) for u in unsure):
            return False
        absent = _absent_effect(name, params, show)
        if absent is not None:
            unsure.append(absent[0])
            problems.attempt(fail, f"{where}: no parameter named {name!r}: {absent[1]}")
            return False
        return problems.attempt(params.spec, name, where) is not None

    for name, value in show.params.items():
        if known(name, f"{w} [params]"):
            problems.attempt(lambda n, v: params.set(n, v, immediate=True, where=f"{w} [params]"), name, value)
            _in_range(problems, params, f"{w} [params]", name, value)
    modulators = Modulators(show.lfos, show.envelopes, seed)
    names = [n for n in modulators.names()]
    if len(set(names)) < len(names):
        problems.attempt(fail, f"{w}: two LFOs or two envelopes have the same name")
    for e in show.envelopes:
        if e.trigger not in TRIGGERS and not e.trigger.startswith("midi."):
            problems.attempt(fail, f"{w} [[envelope]] {e.name}: trigger {e.trigger!r}{suggest(e.trigger, TRIGGERS)}; "
                                    f"triggers: {', '.join(TRIGGERS)}, midi.<channel>.note.<n>")
    sources = tuple(SOURCES) + ("audio.bar",) + tuple(names)
    routes = Routes([r for r in (_route(problems, spec, params, set(sources), f"{w} [[route]] #{i}", known)
                                 for i, spec in enumerate(show.routes, 1)) if r is not None])
    for sc in show.scenes:
        for name, value in sc.params.items():
            if known(name, f"{w} [[scene]] {sc.name}"):
                _in_range(problems, params, f"{w} [[scene]] {sc.name}", name, value)
    modulators.watch |= {r.source for r in routes.routes if r.source.startswith("midi.")}
    graph = None
    if show.graph is not None:
        from vj.show.graph import SceneGraph

        graph = SceneGraph(tuple(sc.name for sc in show.scenes), show.graph, seed)
        modulators.triggers |= {e.note for e in show.graph.edges if e.note}  # read each frame, for the edges
    return Controls(params, routes, modulators, show.scenes, [p.text for p in show.prompts], seed, sources,
                    [p.resample for p in show.prompts], show.more_seeds, graph, journal,
                    show.transition)


def guided_params(show: ShowSet) -> list[ParamSpec]:
    """The parameters of the set's [[control]]s and [ipadapter] (generate/guided/)."""
    out = [ParamSpec(f"control.{c.name}.scale", 0.0, 2.0, c.scale, "", 0.05, f"strength of control {c.name} ({c.model})")
           for c in show.controls]
    if show.controls:
        out.append(ParamSpec("control.similarity", 0.9, 1.0, 0.98, "", 0.0,
                             "a control keeps its map while its picture is this similar to the one it was made from (1: never)"))
    if show.ipadapter is not None:
        out.append(ParamSpec("ipadapter.scale", 0.0, 2.0, show.ipadapter.scale, "", 0.05, "how much the reference image's look steers"))
        out.append(ParamSpec("ipadapter.grab", 0.0, 1e9, 0.0, "", 0.0,
                             "a new value takes a new reference frame from the [ipadapter] image (/vj/grab counts it up)"))
    return out


def _effects(show: ShowSet, problems: Problems):
    """The effects of the master chain and of the shader layers, loaded; the layer stack with the
    layers' effects that did not load left out; and the parameter prefixes that an effect that did
    not load would have filled (fx. for the master chain and shader layers, layer.<n>.fx. for a layer)."""
    w = show.where()
    fragments, unsure, layers = [], set(), []
    master = [(name, f"{w} [compositor]") for name in show.effects]
    master += [(l.arg, f"{w} [[layer]] #{n}") for n, l in enumerate(show.layers, 1) if l.kind == "shader"]
    for name, where in dict.fromkeys(master):
        frag = problems.attempt(_load_effect, name, where, show.shader_dirs)
        if frag is None:
            unsure.add("fx.")
        elif frag not in fragments:
            fragments.append(frag)
    for n, layer in enumerate(show.layers, 1):
        good = tuple(fx for fx in layer.effects
                     if problems.attempt(_load_effect, fx, f"{w} [[layer]] #{n}", show.shader_dirs) is not None)
        if good != layer.effects:
            unsure.add(f"layer.{n}.fx.")
            layer = dataclasses.replace(layer, effects=good)
        layers.append(layer)
    return fragments, tuple(layers) or DEFAULT_STACK, sorted(unsure)


def _absent_effect(name: str, params: ParamSpace, show: ShowSet) -> tuple[str, str] | None:
    """For fx.<effect>.<p> (or layer.<n>.fx.<effect>.<p>) of an effect that exists but is not in that
    chain, and no misspelling of a parameter there: (its prefix, what to say and do)."""
    import re

    from vj.render.shaders import available_effects

    m = re.match(r"(layer\.(\d+)\.)?fx\.([\w-]+)\.", name)
    if name in params or m is None or suggest(name, params.names()) or m.group(3) not in available_effects(
            None, show.shader_dirs):
        return None
    chain = f"layer {m.group(2)}'s effects" if m.group(1) else "the effect chain"
    where = f"[[layer]] #{m.group(2)} effects" if m.group(1) else "[compositor] effects"
    return m.group(0), f"the effect {m.group(3)!r} is not in {chain}; add it to {where} (or leave its parameters out)"


def _load_effect(name: str, where: str, shader_dirs):
    """An effect the set names, or a ConfigError that says where in the set it is named."""
    try:
        return load_effect(name, None, shader_dirs)
    except ConfigError as e:
        said = str(e)
        raise ConfigError(f"{where}: {said}" if said.startswith(f"effect {name!r}") else
                          f"{where}: effect {name!r}: {said}") from None


def _in_range(problems: Problems, params: ParamSpace, where: str, name: str, value: float) -> None:
    """Collecting: a value outside its parameter's range is said (a show clamps it)."""
    spec = params.spec(name)
    if problems.collect and not spec.lo <= value <= spec.hi:
        problems.attempt(fail, f"{where}: '{name}' = {value:g} is outside [{spec.lo:g}, {spec.hi:g}]; it would play "
                               f"as {min(spec.hi, max(spec.lo, value)):g}")


def _route(problems: Problems, spec, params: ParamSpace, sources: set[str], where: str, known):
    """A route of the set, its source, target and curve each checked (every one that is wrong said)."""
    from vj.control.routes import source_known
    from vj.core.spec import CURVES

    ok = source_known(spec.source, sources) or problems.attempt(make_route, spec, params, sources, where) is not None
    ok = known(spec.target, where) and ok
    if spec.curve not in CURVES:
        ok = problems.attempt(fail, f"{where}: curve {spec.curve!r}{suggest(spec.curve, CURVES)}; curves: "
                                    f"{', '.join(CURVES)}") is not None and ok
    return problems.attempt(make_route, spec, params, sources, where) if ok else None




def check_models(show: ShowSet, problems: Problems = RAISE) -> None:
    """Each generator's model and fallback is a name the registry knows (nothing is loaded): a
    misspelt one is said by `vj check`, not after a minute of loading another."""
    from vj.generate import registry

    def known(where: str, key: str, name: str) -> None:
        try:
            registry.resolve(name)
        except ModelLoadError as e:
            raise ConfigError(f"{where}: {key}: {e}") from None

    for g in show.all_generators():
        where = f"{show.where()} [{'generators.' + g.name if g.name else 'generator'}]"
        if not g.remote:
            problems.attempt(known, where, "model", g.model)
        if g.fallback is not None:
            problems.attempt(known, where, "fallback", g.fallback)


def local_generator(show: ShowSet, model, seed: int, wrap_loop=None):
    """The main generator in this process, on a loaded model: offline render and tests."""
    return _in_process(show.generator, model, seed, wrap_loop)


def process_generator(show: ShowSet, seed: int, device: str = "auto", threads: int | None = None,
                      wrap: str | None = None):
    """The main generator in a process of its own: live shows (see generate/process.py). Not started yet."""
    from vj.generate.process import ProcessGenerator

    return ProcessGenerator(_config(show.generator, seed, device, threads, wrap))


def make_generator(g: GeneratorSpec, live: bool, seed: int, opts: Options, journal=None):
    """The one way a generator is made from its spec, for every generator of a show (the main one,
    each [generators.NAME], a fallback): a remote box's client, or a process of its own (live), or the
    model loaded here, in step with the renderer (offline, --generator thread). `seed`: its loop's.
    A process or a remote one is not started yet. Raises ModelLoadError when the model can't be had.
    journal: the show log, where a remote link's events are written."""
    if g.remote and live:
        return _remote_generator(g, seed, journal)
    if g.remote:
        log.info(f"render: every frame of the {g.label} is made here, with {g.model} (remote boxes are for live shows)")
    if live and opts.generator == "process":
        from vj.generate.process import ProcessGenerator

        return ProcessGenerator(_config(g, seed, opts.device, opts.threads))
    from vj.generate import device as torch_device
    from vj.generate import registry

    spec = registry.resolve(g.model)
    try:  # whatever stops the model here is its load failing, as in a generator process (Fatal)
        dev, dtype = torch_device.pick(opts.device)
        torch_device.configure_threads(dev, opts.threads)
        model = registry.load(spec, dev, dtype, progress=log.info, tiny_vae=g.tiny_vae, scheduler=g.scheduler,
                              loras=g.loras, controls=g.controls, ipadapter=g.ipadapter)
        return _in_process(g, model, seed)
    except ModelLoadError:
        raise
    except VJError as e:
        raise ModelLoadError(str(e)) from None


def _remote_generator(g: GeneratorSpec, seed: int, journal=None):
    """The generator on `vj serve` boxes (g.remote; two or more alternate frames): vj/remote/client.py.
    What travels at hello is what a generator process would be given; the model is the box's. Not started."""
    from vj.core.boxes import pair_keys
    from vj.remote.client import RemoteGenerator

    if g.controls or g.ipadapter is not None:
        log.warning(f"{g.label}: [[control]] and [ipadapter] guide a model on this machine; the box's frames are made "
                    f"without them")
    keys = pair_keys(g.remote, g.remote_keys, f"[{'generators.' + g.name if g.name else 'generator'}]")
    return RemoteGenerator.from_settings(g.remote, keys, _config(g, seed, "auto", None), journal=journal)


def _config(g: GeneratorSpec, seed: int, device: str, threads: int | None, wrap: str | None = None):
    from vj.generate.process import GeneratorConfig

    return GeneratorConfig(g.model, device, g.steps, g.size, seed, threads, wrap, g.tiny_vae, g.input, g.stream_batch,
                           g.deep_cache, g.scheduler, g.negative, g.loras, g.controls, g.ipadapter,
                           program_size=_program_size(g))


def _program_size(g: GeneratorSpec) -> tuple[int, int] | None:
    """The program picture's size for a generator whose control or reference reads it (its frames'
    size); None when nothing of it reads the program."""
    if not reads_program(g.controls, g.ipadapter):
        return None
    if g.size:
        return tuple(g.size)
    from vj.generate import registry

    try:
        return registry.resolve(g.model).native_size
    except ModelLoadError:  # its fallback plays: that loop scales the picture to its own size
        return (512, 512)


def program_outputs(generators, live: bool) -> list:
    """An output handing the program picture to each generator that reads it (output/program.py)."""
    from vj.output.program import ProgramToGenerator

    return [ProgramToGenerator(g.program_picture, live) for g in generators if g.program_picture is not None]


def _in_process(g: GeneratorSpec, model, seed: int, wrap_loop=None):
    from vj.generate.families import make_loop
    from vj.generate.worker import Generator

    batch = g.stream_batch if g.stream_batch is not None else model.device.type == "cuda"
    loop = make_loop(model, g.size or model.spec.native_size, g.steps, seed, input=g.input, batch=batch,
                     deep_cache=g.deep_cache, negative=g.negative)
    gen = Generator(wrap_loop(loop) if wrap_loop else loop)
    if reads_program(g.controls, g.ipadapter):  # a picture of this process's own: the show writes, the loop reads
        from vj.shm import LatestPicture

        loop.program = gen.program_picture = LatestPicture(loop.size)
    return gen


def make_compositor(ctx, show: ShowSet, live: bool = False):
    """The compositor for a set: its layer stack and its master effect chain."""
    return comp.Compositor(ctx, show.size, effects=list(show.effects), layers=show.layers or DEFAULT_STACK, live=live,
                           precision=show.precision, shader_dirs=show.shader_dirs)


def make_engine(controls: Controls, compositor, generator, *, clock, audio, outputs, on_frame=(), status=(),
                render_rate=None, warnings=(), show_clock=None, layer_generators=()):
    from vj.engine import Engine

    return Engine(clock=clock, audio=audio, controls=controls, generator=generator, compositor=compositor,
                  outputs=outputs, on_frame=on_frame, status=status, render_rate=render_rate, warnings=warnings,
                  show_clock=show_clock, layer_generators=layer_generators)


# -- a whole show ---------------------------------------------------------------------------------
MAX_SENSIBLE_FPS = 240  # the fastest displays; above it a live loop just runs flat out


@dataclass(frozen=True)
class Options:
    """What the command line adds to a set (vj run, vj render)."""

    seed: int | None = None
    headless: bool = False
    fullscreen: int | None = None  # a monitor's number
    overlay: bool | None = None  # None: on in a window, off fullscreen
    split: bool = False  # the window shows the input feed beside the program
    generator: str = "process"  # "process" (live default) or "local"
    device: str = "auto"
    threads: int | None = None
    osc_in: tuple[str, int, tuple[str, ...]] | None = None  # host, port, allowed senders; None: no OSC in
    midi_in: tuple[tuple[str, ...], Path | None] | None = None  # port patterns, mapping file; None: no MIDI
    osc_out: str | None = None  # host:port
    link: bool = False  # join the Ableton Link session (vj/sync/link.py)
    quantum: int = 4  # beats a bar: Link's quantum and the show clock's bars
    midi_clock_out: str | None = None  # a MIDI input's name (part of it) to send clock to
    state: Path | None = None  # the state folder: the show log goes in its shows/ (None: no log)
    resume: bool = False  # come back where the live state in the state folder says (vj/show/resume.py)
    reread: Callable | None = None  # live: the set file read and checked again (vj/show/hot_edit.py)
    web: WebSettings | None = None  # the browser remote (vj/web/): where it listens, its preview; None: none


@dataclass
class Show:
    engine: object  # vj.engine.Engine
    surface: object  # vj.render.context.Surface
    seed: int
    seed_drawn: bool  # drawn fresh from the OS (the log says how to see the show again)
    control: object | None = None  # the ControlProcess, when OSC or MIDI listen
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    journal: object | None = None  # the show log (vj.show.log.ShowLog), when one is kept

    def close(self) -> None:
        """Stop the listeners, close the outputs (a recording is finished), the sound, the layers,
        the show log."""
        for stop in self.stoppers:
            stop()
        self.stoppers.clear()
        engine = self.engine
        for _, gen in engine.generators():  # a live show's are stopped already; a render's close their inputs
            gen.stop()
        if self.journal is not None:
            self.journal.close(frames=engine.rendered)
            self.journal = None
        for out in engine.outputs:
            try:
                out.close()
            except Exception as e:
                log.error(f"{out.name}: closing failed: {e}")
        engine.audio.close()
        engine.compositor.close()


def build_show(show: ShowSet, opts: Options, *, live: bool, clock, audio, outputs_for) -> Show:
    """Controls, GL, window, model, generator, control process, engine, in the order that fails
    fastest. `outputs_for(surface)`: the outputs beside the window (made once GL is up). With
    `opts.state`, the show is logged there (vj/show/log.py) and its seed is one no logged show had."""
    from vj.show.log import ShowLog, used_seeds

    if show.fps <= 0 or not math.isfinite(show.fps):
        raise VJError(f"--fps {show.fps}: must be a positive number")
    if live and show.fps > MAX_SENSIBLE_FPS:
        log.warning(f"--fps {show.fps:g}: more than any display shows; the loop runs as fast as it can "
                    f"(the status line says the real rate)")
    saved = _saved_state(show, opts)
    cli_seed = opts.seed if opts.seed is not None or saved is None else saved.get("seed")
    seed, drawn = resolve_seed(cli_seed, show, used_seeds(opts.state) if opts.state else frozenset())
    journal = None
    if opts.state is not None:
        try:
            journal = ShowLog.new(opts.state, show.name, clock.now)
        except OSError as e:  # the witness is not the show: say it, play on
            log.warning(f"show log: can't write in {opts.state} ({e.strerror or e}); the show goes on without one")
    if journal is not None:
        more = {"generators": {g.name: g.model for g in show.generators}} if show.generators else {}
        journal.write("start", seed=seed, seed_drawn=drawn, model=show.model, set=show.where(),
                      size=list(show.size), fps=show.fps, mode="live" if live else "render", **more)
    try:
        return _build_show(show, opts, live, clock, audio, outputs_for, seed, drawn, journal, saved)
    except BaseException as e:  # the show did not start: its log says why, and ends
        if journal is not None:
            journal.close(started=False, why=str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise


def _saved_state(show: ShowSet, opts: Options) -> dict | None:
    """--resume: the live state the last show of this set left (None, said in a line, if none)."""
    if not opts.resume:
        return None
    if opts.state is None:
        raise VJError("--resume reads the live state from the state folder: drop --state none")
    from vj.show.resume import load_for

    saved = load_for(opts.state, show.path, show.name)
    if saved is not None and saved.get("set") != show.where():
        log.warning(f"--resume: the saved state is of {saved.get('set')}; what fits {show.where()} is restored")
    return saved


def _resumed(controls: Controls, saved: dict, journal) -> None:
    from vj.show.resume import restore

    for line in restore(saved, controls):
        log.warning(f"--resume: {line} (not restored)")
    log.info(f"resumed where the show was at {saved.get('wall', '?')}: scene {controls.scene or '-'}, "
             f"{counted(len(controls.moved), 'parameter')} moved by hand, "
             f"{counted(len(controls.live_routes), 'live route')}")
    if journal is not None:
        journal.write("resume", scene=controls.scene, saved=saved.get("wall"), moved=sorted(controls.moved))


def _build_show(show: ShowSet, opts: Options, live: bool, clock, audio, outputs_for, seed: int, drawn: bool,
                journal, saved: dict | None) -> Show:
    from vj.render.context import display_available, open_surface

    controls = build_controls(show, seed, journal=journal)
    if saved is not None:
        _resumed(controls, saved, journal)
    headless = not live or opts.headless or not display_available()
    surface = open_surface(headless, show.size, opts.fullscreen)
    compositor = make_compositor(surface.ctx, show, live)
    window = _window(surface, controls, opts)
    generator, layer_generators, said = _generators(show, opts, seed, live, compositor, controls, window, journal)
    web = _web(show, opts, controls) if live and opts.web is not None else None
    try:
        control, status, hooks, stoppers, rate = (_listeners(opts, controls, clock, web, generator) if live
                                                  else (None, [], [], [], None))
        show_clock, clock_stoppers = _show_clock(opts, live, controls)
        stoppers += clock_stoppers
    except BaseException:  # a MIDI port that isn't there: nothing left running behind the message
        for gen in [generator] + [lg.generator for lg in layer_generators]:
            gen.stop()
        compositor.close()
        if web is not None:
            web[0].close()
        raise
    warnings = [lambda: said] if said else []  # a fallback playing from the start stands on the overlay,
    status += [lambda: " | ".join(said)] if said else []  # and in the status line
    if journal is not None:
        for line in said:
            journal.write("fallback", what=line)
    if live and opts.state is not None:  # saved once a second, for --resume
        from vj.show.resume import StateSaver, state_file

        saver = StateSaver(state_file(opts.state, show.path, show.name), controls, show.where(), seed)
        hooks, stoppers = hooks + [saver.frame], [saver.close] + stoppers
    if live and opts.reread is not None and show.path is not None:  # a set saved while it plays
        from vj.show.hot_edit import SetWatcher

        watcher = SetWatcher(show, opts.reread, controls, journal)
        hooks, status, warnings = hooks + [watcher.frame], status + [watcher.status], warnings + [watcher.warnings]
        stoppers = stoppers + [watcher.close]
    program = program_outputs([generator] + [lg.generator for lg in layer_generators], live)
    engine = make_engine(controls, compositor, generator, clock=clock, audio=audio,
                         outputs=([window] if window else []) + outputs_for(surface) + ([web[0]] if web else [])
                         + program,
                         on_frame=hooks, status=status, render_rate=rate, warnings=warnings, show_clock=show_clock,
                         layer_generators=layer_generators)
    return Show(engine, surface, seed, drawn, control, stoppers, journal)


def _show_clock(opts: Options, live: bool, controls: Controls):
    """The show clock (sync/showclock.py), in a Link session when asked, on MIDI clock in when the
    control process listens to one (listen_to has run): (clock, what stops it)."""
    from vj.sync.showclock import ShowClock

    if not (live and opts.link):
        return ShowClock(opts.quantum, midi=controls.outside_tempo), []
    from vj.sync.link import LinkSession

    session = LinkSession(quantum=opts.quantum)
    return ShowClock(opts.quantum, link=session, midi=controls.outside_tempo), [session.close]


def _window(surface, controls: Controls, opts: Options):
    """The window's output, when there is a window (keys: T or space tap the tempo, through the same
    action as /vj/tap: stamped as pressed, taken by the tracker or the show's own tap tempo)."""
    if surface.window is None:
        if opts.split:
            log.warning("--split: no window here (headless); the split view is for the window only")
        return None
    from vj.output.window import WindowOutput

    def tap() -> None:
        controls.post("tap", time.monotonic(), origin="key")

    return WindowOutput(surface, on_tap=tap, overlay=opts.overlay if opts.overlay is not None else opts.fullscreen is None,
                        split=opts.split)


def _generators(show: ShowSet, opts: Options, seed: int, live: bool, compositor, controls, window, journal=None):
    """Every generator of the set, in its order: the main one, then each [generators.NAME] (as the
    engine's LayerGenerator). Live: each in its own process, started (a model's errors end the show
    before it starts; meanwhile the compositor compiles every variant and the window shows its warm-up
    image). Offline: each model in this process, in step with the renderer. A model that can't load
    gives way to its fallback (said in one line): -> (main, layer generators, what was said)."""
    from vj.engine import LayerGenerator

    warmed: list[bool] = []

    def on_wait() -> None:
        if not warmed:
            compositor.warm_up()
            warmed.append(True)
        if window:
            _show_warm_up(compositor, controls, window)

    if live and opts.generator != "process":  # no first-use compile in the middle of the show
        on_wait()
    made, said = [], []
    try:
        for g in show.all_generators():
            made.append(_playing(g, opts, g.seed if g.name and g.seed is not None else seed, live, on_wait, said, journal))
    except BaseException as e:  # nothing left running behind the message
        for gen in made:
            gen.stop()
        if isinstance(e, VJError):  # a message about a value names where it came from (show/origin.py)
            from vj.show.origin import placed

            said_here = placed(show, str(e))
            if said_here != str(e):
                raise type(e)(said_here) from None
        raise
    layers = [LayerGenerator(g.name, gen, g.seed) for g, gen in zip(show.generators, made[1:])]
    return made[0], layers, said


def _playing(g: GeneratorSpec, opts: Options, seed: int, live: bool, on_wait, said: list[str], journal=None):
    """g's generator, started: its own model, else (it can't load) its fallback, said in one line; a
    model and its fallback that both fail are one error naming both. Live, a generator that may go
    down during the show (a process, a remote box) is wrapped so that its fallback plays meanwhile."""
    from vj.generate import registry
    from vj.generate.fallback import FallbackGenerator, fallback_line, fallback_spec

    fallback, left = fallback_spec(g) if g.fallback else (None, ())  # a misspelt fallback fails now, not later
    if not g.remote:  # a value that doesn't fit the model is the set's mistake: said, no fallback
        try:
            fit = registry.resolve(g.model)
        except ModelLoadError:  # it can't load: the fallback's turn, below
            fit = None
        if fit is not None:
            registry.check_fit(fit, g.tiny_vae, g.input)
    try:
        spec = None if g.remote else registry.resolve(g.model)
        if spec is not None and spec.fixture:
            log.warning(f"model {spec.label}")
        gen = _started(make_generator(g, live, seed, opts, journal), g, live, opts, on_wait)
    except ModelLoadError as e:
        if fallback is None:
            if g.name:  # which of the show's generators
                raise ModelLoadError(f"{g.label}: {e}") from None
            raise
        try:
            gen = _started(make_generator(fallback, live, seed, opts), fallback, live, opts, on_wait)
        except ModelLoadError as e2:
            raise ModelLoadError(f"{g.label}: {e}; and its fallback {g.fallback!r} can't load either: {e2}") from None
        log.warning(fallback_line(g, str(e), left))
        said.append(f"{g.label}: the fallback {g.fallback} plays ({g.model} can't load)")
        return gen
    if fallback is not None and live and (g.remote or opts.generator == "process"):
        spare = make_generator(fallback, True, seed, dataclasses.replace(opts, generator="process"))
        return FallbackGenerator(gen, spare, g.label, g.model, fallback.model)
    return gen


def _started(gen, g: GeneratorSpec, live: bool, opts: Options, on_wait):
    """Live, a generator process waited for until its model is loaded, a remote one until a box says
    welcome (a refusal, a wrong key: VJError; a box that does not answer is said, and taken up later)."""
    if live and (g.remote or opts.generator == "process"):
        try:
            gen.start(wait_ready=True, on_wait=on_wait)
        except VJError as e:  # it died while loading: what it said is why
            raise ModelLoadError(str(e)) from None
    return gen


def _show_warm_up(compositor, controls, window) -> None:
    """One frame of the compositor alone (the warm-up image through feedback and effect), shown."""
    from types import MappingProxyType

    from vj.core.snapshot import Snapshot
    from vj.output.base import ProgramFrame

    t = time.monotonic()
    snap = Snapshot(0, t, MappingProxyType(dict(controls.params.values())), (), 0)
    compositor.render(snap)
    window.present(ProgramFrame(compositor, t, 0))


def _web(show: ShowSet, opts: Options, controls: Controls):
    """The browser remote: the show's side (an output and a frame hook writing the view) and what
    the control process is told to serve (vj/web/): (WebFeed, WebConfig)."""
    from vj.web.access import token_for
    from vj.web.feed import WebFeed
    from vj.web.server import WebConfig

    settings = opts.web
    feed = WebFeed(controls, show.name, settings.preview_fps, settings.preview_width)
    return feed, WebConfig(settings.host, settings.port, token_for(settings.host, settings.token), feed.view.name)


def _say_web(cfg, address: tuple[str, int]) -> None:
    from vj.web.access import page_urls

    urls = page_urls(address[0], address[1], cfg.token)
    if cfg.token is None:
        log.info(f"web: the remote is at {urls[0]} (this machine only)")
    else:
        log.info(f"web: the remote is at {' or '.join(urls)} (open it on a phone or tablet on this network; "
                 f"the token is in the address: without it nothing is shown or moved)")


def _listeners(opts: Options, controls: Controls, clock, web=None, generator=None):
    """OSC in, MIDI in and the browser remote's server in a control process of their own, OSC out and
    MIDI clock out here. Returns (the control process, status sources, per-frame hooks, what stops
    them, the render rate meter OSC out reports). `web`: _web's (feed, config), or None;
    `generator`: the main one, whose link figures (a box's round trip, frame age) OSC out sends."""
    from vj.control.osc import OscOut
    from vj.control.process import ControlProcess
    from vj.meter import RateMeter

    control, status, hooks, stoppers, rate = None, [], [], [], RateMeter()
    if opts.osc_in or opts.midi_in or web is not None:
        control = ControlProcess(controls, opts.osc_in, opts.midi_in, web=web[1] if web else None)
        control.start()
        controls.listen_to(control)
        status.append(control.status)
        stoppers.append(control.stop)
        if control.info.osc is not None:
            host, port = control.info.osc
            allow = opts.osc_in[2] if opts.osc_in else ()
            log.info(f"OSC: listening on {host}:{port}" + (f", from {', '.join(allow)} only" if allow else ""))
        log.info(f"control process priority: {control.info.priority}")
        if web is not None:
            hooks.append(web[0].frame)
            _say_web(web[1], control.info.web)
    if opts.osc_out:
        link = generator.link_figures if generator is not None else None
        out = _or_stop(lambda: OscOut(opts.osc_out, controls, fps=rate.fps, link=link), stoppers)
        hooks.append(out.frame)
        stoppers.append(out.close)
        log.info(f"OSC: sending features and changes to {opts.osc_out}")
    if opts.midi_clock_out:
        from vj.sync.midi_out import MidiClockOut

        clock_out = _or_stop(lambda: MidiClockOut(opts.midi_clock_out, clock.now, opts.quantum), stoppers)
        hooks.append(clock_out.frame)
        status.append(clock_out.status)
        stoppers.append(clock_out.close)
    return control, status, hooks, stoppers, rate


def _or_stop(make: Callable, stoppers: list[Callable[[], None]]):
    """make(), or, when it fails (a port that isn't there), stop what was started before it."""
    try:
        return make()
    except BaseException:
        for stop in stoppers:
            stop()
        raise
