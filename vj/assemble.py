"""Builds a show from a set and the command line's options: the parameter namespace, the routes,
the GL surface and window, the compositor, the generator, the control process, OSC out, the engine.
All the wiring is here (cli.py parses and reports); nothing is patched onto a part once it is made.

Order matters for the performer: everything that can be checked without a model (parameter
names, routes, the effect's header, shader compilation) is checked before the model loads, so a
typo in a set fails in a second, not after a minute of loading weights.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vj.core.features import SOURCES
from vj.core.spec import ShowSet
from vj.core.validate import RAISE, Problems, fail, suggest
from vj.control.hub import Controls
from vj.control.modulators import Modulators
from vj.core.spec import TRIGGERS
from vj.control.params import ParamSpace
from vj.core.params import ParamSpec
from vj.control.routes import Routes, make_route
from vj.core.errors import VJError
from vj.log import log
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
    bad value, route or name is kept there and the rest is checked past it."""
    w = show.where()
    if len(set(show.effects)) < len(show.effects):
        problems.attempt(fail, f"{w} [compositor]: an effect is in the chain twice (its fx.* parameters would be shared)")
    shader_layers = [l.arg for l in show.layers if l.kind == "shader"]
    fragments = [problems.attempt(load_effect, name, None, show.shader_dirs)
                 for name in dict.fromkeys(list(show.effects) + shader_layers)]
    layer_specs = problems.attempt(comp.declare_params, [f for f in fragments if f is not None],
                                   show.layers or DEFAULT_STACK, show.shader_dirs, default=[])
    params = ParamSpace(gen_loop.declare_params() + layer_specs)
    for i, p in enumerate(show.prompts, 1):
        params.declare(ParamSpec(f"prompt.{i}.weight", -4.0, 4.0, p.weight, "", 0.1, f"weight of {p.text!r}"))
    for lo in show.loras:
        params.declare(ParamSpec(f"lora.{lo.name}.weight", 0.0, 2.0, lo.weight, "", 0.05, f"weight of LoRA {lo.source}"))
    if show.more_seeds:  # a seed list: each seed's share of the noise (equal-power mix, see generate/noise.py)
        for i in range(1, len(show.more_seeds) + 2):
            params.declare(ParamSpec(f"noise.seed.{i}.weight", -2.0, 2.0, 1.0 if i == 1 else 0.0, "", 0.1,
                                     f"weight of noise seed {i}"))
    for name, value in show.params.items():
        problems.attempt(lambda n, v: params.set(n, v, immediate=True, where=f"{w} [params]"), name, value)
    modulators = Modulators(show.lfos, show.envelopes, seed)
    names = [n for n in modulators.names()]
    if len(set(names)) < len(names):
        problems.attempt(fail, f"{w}: two LFOs or two envelopes have the same name")
    for e in show.envelopes:
        if e.trigger not in TRIGGERS and not e.trigger.startswith("midi."):
            problems.attempt(fail, f"{w} [[envelope]] {e.name}: trigger {e.trigger!r}{suggest(e.trigger, TRIGGERS)}; "
                                    f"triggers: {', '.join(TRIGGERS)}, midi.<channel>.note.<n>")
    sources = tuple(SOURCES) + ("audio.bar",) + tuple(names)
    routes = Routes([r for r in (problems.attempt(make_route, spec, params, set(sources), f"{w} [[route]] #{i}")
                                 for i, spec in enumerate(show.routes, 1)) if r is not None])
    for sc in show.scenes:
        for name in sc.params:
            problems.attempt(params.spec, name, f"{w} [[scene]] {sc.name}")
    modulators.watch |= {r.source for r in routes.routes if r.source.startswith("midi.")}
    graph = None
    if show.graph is not None:
        from vj.show.graph import SceneGraph

        graph = SceneGraph(tuple(sc.name for sc in show.scenes), show.graph, seed)
        modulators.triggers |= {e.note for e in show.graph.edges if e.note}  # read each frame, for the edges
    return Controls(params, routes, modulators, show.scenes, [p.text for p in show.prompts], seed, sources,
                    [p.resample for p in show.prompts], show.more_seeds, graph, journal,
                    show.transition)


def local_generator(show: ShowSet, model, seed: int, wrap_loop=None):
    """The generator in this process: offline render (in step with the renderer) and tests."""
    from vj.generate.families import make_loop
    from vj.generate.worker import Generator

    batch = show.stream_batch if show.stream_batch is not None else model.device.type == "cuda"
    loop = make_loop(model, show.gen_size or model.spec.native_size, show.steps, seed, input=show.input, batch=batch,
                     deep_cache=show.deep_cache, negative=show.negative)
    return Generator(wrap_loop(loop) if wrap_loop else loop)


def process_generator(show: ShowSet, seed: int, device: str = "auto", threads: int | None = None,
                      wrap: str | None = None):
    """The generator in a process of its own: live shows (see generate/process.py). Not started yet."""
    from vj.generate.process import GeneratorConfig, ProcessGenerator

    return ProcessGenerator(GeneratorConfig(show.model, device, show.steps, show.gen_size, seed, threads, wrap,
                                            show.tiny_vae, show.input, show.stream_batch, show.deep_cache,
                                            show.scheduler, show.negative, show.loras))


def remote_generator(show: ShowSet, seed: int, journal=None):
    """The generator on `vj serve` boxes (show.remote; two or more alternate frames): vj/remote/client.py.
    What travels at hello is what process_generator would be given; the model is the box's. Not started."""
    from vj.core.boxes import pair_keys
    from vj.generate.process import GeneratorConfig
    from vj.remote.client import RemoteGenerator

    cfg = GeneratorConfig(show.model, "auto", show.steps, show.gen_size, seed, None, None, show.tiny_vae, show.input,
                          show.stream_batch, show.deep_cache, show.scheduler, show.negative, show.loras)
    return RemoteGenerator.from_settings(show.remote, pair_keys(show.remote, show.remote_keys, show.where()), cfg,
                                         journal=journal)


def make_compositor(ctx, show: ShowSet, live: bool = False):
    """The compositor for a set: its layer stack and its master effect chain."""
    return comp.Compositor(ctx, show.size, effects=list(show.effects), layers=show.layers or DEFAULT_STACK, live=live,
                           precision=show.precision, shader_dirs=show.shader_dirs)


def make_engine(controls: Controls, compositor, generator, *, clock, audio, outputs, on_frame=(), status=(),
                render_rate=None, warnings=(), show_clock=None):
    from vj.engine import Engine

    return Engine(clock=clock, audio=audio, controls=controls, generator=generator, compositor=compositor,
                  outputs=outputs, on_frame=on_frame, status=status, render_rate=render_rate, warnings=warnings,
                  show_clock=show_clock)


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
        journal.write("start", seed=seed, seed_drawn=drawn, model=show.model, set=show.where(),
                      size=list(show.size), fps=show.fps, mode="live" if live else "render")
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
    from vj.show.resume import load, state_path

    saved = load(state_path(opts.state, show.name))
    if saved is not None and saved.get("set") != show.where():
        log.warning(f"--resume: the saved state is of {saved.get('set')}; what fits {show.where()} is restored")
    return saved


def _resumed(controls: Controls, saved: dict, journal) -> None:
    from vj.show.resume import restore

    for line in restore(saved, controls):
        log.warning(f"--resume: {line} (not restored)")
    log.info(f"resumed where the show was at {saved.get('wall', '?')}: scene {controls.scene or '-'}, "
             f"{len(controls.moved)} parameters moved by hand, {len(controls.live_routes)} live routes")
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
    window = _window(surface, audio, opts)
    generator = _generator(show, opts, seed, live, compositor, controls, window, journal)
    try:
        control, status, hooks, stoppers, rate = (_listeners(opts, controls, clock, generator) if live
                                                  else (None, [], [], [], None))
        show_clock, clock_stoppers = _show_clock(opts, live, controls)
        stoppers += clock_stoppers
    except BaseException:  # a MIDI port that isn't there: nothing left running behind the message
        generator.stop()
        compositor.close()
        raise
    warnings = []
    if live and opts.state is not None:  # saved once a second, for --resume
        from vj.show.resume import StateSaver, state_path

        saver = StateSaver(state_path(opts.state, show.name), controls, show.where(), seed)
        hooks, stoppers = hooks + [saver.frame], [saver.close] + stoppers
    if live and opts.reread is not None and show.path is not None:  # a set saved while it plays
        from vj.show.hot_edit import SetWatcher

        watcher = SetWatcher(show, opts.reread, controls, journal)
        hooks, status, warnings = hooks + [watcher.frame], status + [watcher.status], [watcher.warnings]
        stoppers = stoppers + [watcher.close]
    engine = make_engine(controls, compositor, generator, clock=clock, audio=audio,
                         outputs=([window] if window else []) + outputs_for(surface), on_frame=hooks, status=status,
                         render_rate=rate, warnings=warnings, show_clock=show_clock)
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


def _window(surface, audio, opts: Options):
    """The window's output, when there is a window (keys: T taps the tempo)."""
    if surface.window is None:
        if opts.split:
            log.warning("--split: no window here (headless); the split view is for the window only")
        return None
    from vj.output.window import WindowOutput

    return WindowOutput(surface, on_tap=audio.tap, overlay=opts.overlay if opts.overlay is not None else opts.fullscreen is None,
                        split=opts.split)


def _generator(show: ShowSet, opts: Options, seed: int, live: bool, compositor, controls, window, journal=None):
    """Live: the generator's own process, or the boxes of [generator] remote, started (its model's
    errors, a box's refusal end the show before it starts; meanwhile the compositor compiles every
    variant and the window shows its warm-up image). Offline: the model in this process, in step
    with the renderer."""
    from vj.generate import device as torch_device
    from vj.generate import registry

    warmed = []

    def on_wait() -> None:
        if not warmed:
            compositor.warm_up()
            warmed.append(True)
        if window:
            _show_warm_up(compositor, controls, window)

    if live and show.remote:  # the model is the box's: nothing of it is loaded here
        generator = remote_generator(show, seed, journal)
        generator.start(wait_ready=True, on_wait=on_wait)
        if not warmed:
            compositor.warm_up()
        return generator
    if show.remote:
        log.info(f"render: every frame is made here, with {show.model} ([generator] remote is for live shows)")
    spec = registry.resolve(show.model)
    if spec.fixture:
        log.warning(f"model {spec.label}")
    if live and opts.generator == "process":
        generator = process_generator(show, seed, opts.device, opts.threads)
        generator.start(wait_ready=True, on_wait=on_wait)
        return generator
    if live:  # no first-use compile in the middle of the show
        compositor.warm_up()
    dev, dtype = torch_device.pick(opts.device)
    torch_device.configure_threads(dev, opts.threads)
    model = registry.load(spec, dev, dtype, progress=log.info, tiny_vae=show.tiny_vae, scheduler=show.scheduler,
                          loras=show.loras)
    return local_generator(show, model, seed)


def _show_warm_up(compositor, controls, window) -> None:
    """One frame of the compositor alone (the warm-up image through feedback and effect), shown."""
    from types import MappingProxyType

    from vj.core.snapshot import Snapshot
    from vj.output.base import ProgramFrame

    t = time.monotonic()
    snap = Snapshot(0, t, MappingProxyType(dict(controls.params.values())), (), 0)
    compositor.render(snap)
    window.present(ProgramFrame(compositor, t, 0))


def _listeners(opts: Options, controls: Controls, clock, generator=None):
    """OSC in and MIDI in a control process of their own, OSC out and MIDI clock out here. Returns
    (the control process, status sources, per-frame hooks, what stops them, the render rate meter
    OSC out reports)."""
    from vj.control.osc import OscOut
    from vj.control.process import ControlProcess
    from vj.meter import RateMeter

    control, status, hooks, stoppers, rate = None, [], [], [], RateMeter()
    if opts.osc_in or opts.midi_in:
        control = ControlProcess(controls, opts.osc_in, opts.midi_in)
        control.start()
        controls.listen_to(control)
        status.append(control.status)
        stoppers.append(control.stop)
        if control.info.osc is not None:
            host, port = control.info.osc
            allow = opts.osc_in[2] if opts.osc_in else ()
            log.info(f"OSC: listening on {host}:{port}" + (f", from {', '.join(allow)} only" if allow else ""))
        log.info(f"control process priority: {control.info.priority}")
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
