"""The loop: clock -> audio -> parameters -> snapshot -> generator -> compositor -> outputs.

One render frame (main thread, owns GL):
  1. t = clock.now(); audio.poll(t) analyses the sound up to t
  2. parameters slew, routes add the modulation, the noise walk advances: an immutable Snapshot
  3. live: the snapshot goes to the generator's mailbox and the newest finished frame (if any)
     is taken; offline: the generator makes this frame's image right here (frame-exact). The same
     for each layer generator ([generators.NAME]), whose frames go to textures of their own
  4. the compositor draws; every output takes the program image

Live, nothing here waits for the generator, and the only wait is the frame pacer (vsync's
stand-in). An output that fails is dropped; a generator frame that fails keeps the last one.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Sequence

from vj.core.features import Features
from vj.core.protocols import AudioInput, Clock, FrameGenerator, GenFrame, OfflineGenerator, Output
from vj.control.hub import Controls
from vj.log import log
from vj.meter import RateMeter
from vj.output.base import ProgramFrame
from vj.output.retry import Retries
from vj.core.snapshot import ClockState, Snapshot
from vj.show.graph import Moment
from vj.sync.showclock import ShowClock

if TYPE_CHECKING:
    from vj.render.compositor import Compositor


@dataclass(frozen=True)
class LayerGenerator:
    """A generator that layers name ([generators.NAME], layer source "generator:NAME"): it is sent
    every snapshot the main one is, and its frames go to a texture of their own, paced on their own."""

    name: str
    generator: FrameGenerator | OfflineGenerator
    seed: int | None = None  # its own noise seed (None: the show's, and the show's seed list)

    def snapshot(self, snap: Snapshot) -> Snapshot:
        """The snapshot as this generator reads it: the show's, with its own noise seed if it has one."""
        return snap if self.seed is None else dataclasses.replace(snap, seed=self.seed, seeds=())

    def frozen(self, snap: Snapshot) -> bool:
        return snap.values.get(f"gen.{self.name}.freeze", 0.0) >= 0.5


@dataclass(frozen=True)
class Summary:
    frames: int  # render frames
    seconds: float  # wall time
    gen_frames: int
    gen_errors: int
    latency_ms_p50: float | None  # snapshot -> first shown (live only)
    latency_ms_p95: float | None


class Engine:
    def __init__(self, *, clock: Clock, audio: AudioInput, controls: Controls,
                 generator: FrameGenerator | OfflineGenerator, compositor: Compositor, outputs: list[Output],
                 on_frame: Sequence[Callable[[Snapshot], None]] = (), status: Sequence[Callable[[], str]] = (),
                 render_rate: RateMeter | None = None, warnings: Sequence[Callable[[], list[str]]] = (),
                 show_clock: ShowClock | None = None, layer_generators: Sequence[LayerGenerator] = ()) -> None:
        self.clock = clock
        self.audio = audio
        self.controls = controls
        self.params = controls.params
        self.generator = generator
        self.layer_generators = tuple(layer_generators)  # more generators, each on the layers that name it
        self._layers_frozen = {lg.name: False for lg in self.layer_generators}
        self.compositor = compositor
        self.outputs = list(outputs)
        self._had_outputs = bool(self.outputs)  # headless with no output is allowed (a rig check)
        self.index = 0  # snapshots taken
        self.rendered = 0  # frames composited and handed to the outputs
        self.stop_requested = False
        self.on_frame = tuple(on_frame)  # per-frame hooks (OSC out)
        self.status_parts = tuple(status)  # more for the status line (OSC, MIDI)
        self.warning_parts = tuple(warnings)  # more for the overlay's red lines (a refused set edit)
        self._phase = 0.0
        self._was_frozen = False
        # tempo and beat for everything (sync/showclock.py); MIDI clock in, when the controls listen to it
        self.show_clock = show_clock or ShowClock(midi=controls.outside_tempo)
        self._beat: int | None = None  # the beat we are in (audio.beat fires when it changes)
        self._bar: int | None = None  # the bar we are in (audio.bar fires when it changes)
        self._audio = Features()
        self._last_t: float | None = None
        self._latency = collections.deque(maxlen=1024)  # seconds, snapshot -> shown
        self._render_rate = render_rate or RateMeter()  # shared with OSC out, which reports it
        self.lost_outputs: list[str] = []  # names of outputs dropped after a failure (for the overlay)
        self.retries = Retries()  # lost streams, tried again with back-off (live only)

    # -- one frame ---------------------------------------------------------------------------
    def tick_clock(self, t: float, feats: Features, sources: dict[str, float]) -> ClockState:
        """The show clock for this frame (sync/showclock.py); its beats and bars are the sources
        audio.beat and audio.bar, its phases audio.beat_phase and audio.bar_phase. A tempo set on the
        show by hand is proposed to a Link session (by the show clock)."""
        c = self.controls
        clock = self.show_clock.tick(t, feats, c.hand)
        c.bpm = clock.bpm  # the tempo in force, for /vj/list
        beat, bar = math.floor(clock.beat), clock.bar
        sources["audio.beat"] = 1.0 if self._beat is not None and beat > self._beat else 0.0
        sources["audio.bar"] = 1.0 if self._bar is not None and bar > self._bar else 0.0
        sources["audio.beat_phase"], sources["audio.bar_phase"] = clock.phase, clock.bar_phase
        self._beat, self._bar = beat, bar
        return clock

    def snapshot(self) -> Snapshot:
        t = self.clock.now()
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        c = self.controls
        c.apply_pending(self.audio)  # prompts, scenes, seed, tempo, routes posted by OSC/MIDI
        feats = self.audio.poll(t)
        self._audio = feats
        sources = feats.as_sources()
        clock = self.tick_clock(t, feats, sources)
        beat = clock.beat
        sources.update(c.modulators.values(beat, dt, sources))
        c.on_triggers(c.modulators.fired)  # prompt templates re-sampled on their triggers
        c.step_graph(Moment(t, beat, feats.flux if feats.onset else 0.0,
                            frozenset(n for n in c.modulators.fired if n.startswith("midi.")),
                            (feats.bass_presence + feats.mid_presence + feats.high_presence) / 3.0))
        self.params.tick(dt)
        c.routes.apply(self.params, sources, dt)
        values = dict(self.params.values())
        # the walk: its own speed, plus `motion` turns/min more at full loudness (sustained energy moves it)
        speed = values.get("noise.walk", 0.0) + values.get("noise.motion", 0.0) * feats.level
        self._phase = (self._phase + speed / 60.0 * dt) % 1.0
        values["noise.phase"] = self._phase
        values.update(sources)
        snap = Snapshot(self.index, t, MappingProxyType(values), tuple(c.prompts), c.seed, feats, c.more_seeds,
                        c.transition, clock)
        self.index += 1
        return snap

    def present(self, snap: Snapshot, gen: GenFrame | None, more: Sequence[GenFrame | None] = ()) -> None:
        """One frame composited and handed to the outputs: `gen` the main generator's newest frame (None:
        none new), `more` each layer generator's, in their order."""
        for lg, frame in zip(self.layer_generators, more):
            if frame is not None:
                self.compositor.upload(frame.pixels, lg.name)
                lg.generator.want_input = self.compositor.wants_input(lg.name)
                if frame.input is not None and lg.generator.want_input:
                    self.compositor.upload_input(frame.input, lg.name)
        if gen is not None:
            self.compositor.upload(gen.pixels)
            # only then is it copied out of the generator's shared memory and uploaded
            wanted = self.compositor.wants_input("") or any(o.wants_input for o in self.outputs)
            self.generator.want_input = wanted
            if gen.input is not None and wanted:
                self.compositor.upload_input(gen.input)  # only while a window shows it (split view)
            self.generator.want_map = self.compositor.map_wanted
            if gen.map is not None and self.compositor.map_wanted:
                self.compositor.upload_input(gen.map, what="control")  # a `control` layer: the twin's skeleton
        self.compositor.render(snap)
        frame = ProgramFrame(self.compositor, snap.t, snap.index, self.overlay_info)
        if self.clock.live:
            self._outputs_back()
        for out in list(self.outputs):
            try:
                out.present(frame)
            except Exception as e:  # one lost output must not stop the others
                self._lost(out, e)
            if out.wants_stop:
                self.stop_requested = True
        if gen is not None and self.clock.live:  # handed to the outputs (swapped, queued) now
            self._latency.append(self.clock.now() - gen.t_snapshot)
        for hook in self.on_frame:
            hook(snap)
        self.rendered += 1
        self._render_rate.tick()

    def _frozen(self, snap: Snapshot) -> bool:
        """gen.freeze: when it lets go, the compositor is told that the gap before the next
        generated frame was a pause, not the generator's pace (its dissolves keep their speed)."""
        frozen = snap.values.get("gen.freeze", 0.0) >= 0.5
        if self._was_frozen and not frozen:
            self.compositor.forget_pace()
        self._was_frozen = frozen
        return frozen

    def _layer_frames(self, snap: Snapshot, frozen: bool, live: bool) -> list[GenFrame | None]:
        """Each layer generator's frame for this render frame (live: sent the snapshot, its newest frame
        taken; offline: made here, in step), None while it is held (gen.freeze, or its own
        gen.<NAME>.freeze: sent nothing, what still arrives left unshown). When a hold lets go, its
        frames in the compositor are told the gap was a pause."""
        out = []
        for lg in self.layer_generators:
            held = frozen or lg.frozen(snap)
            if self._layers_frozen[lg.name] and not held:
                self.compositor.forget_pace(lg.name)
            self._layers_frozen[lg.name] = held
            mine = lg.snapshot(snap)
            if live:
                if not held:
                    lg.generator.submit(mine)
                frame = lg.generator.latest()
            else:
                frame = None if held else lg.generator.produce(mine)
            out.append(None if held else frame)
        return out

    def generators(self) -> list[tuple[str, FrameGenerator]]:
        """(name, generator) of every generator: "" the main one, then the layer generators."""
        return [("", self.generator)] + [(lg.name, lg.generator) for lg in self.layer_generators]

    def _gone(self) -> list[str]:
        """Lost outputs not running again (a stream being tried again is in self.outputs meanwhile)."""
        running = {o.name for o in self.outputs}
        return [n for n in self.lost_outputs if n not in running]

    def _lost(self, out: Output, e: Exception) -> None:
        self.outputs.remove(out)
        if out.name not in self.lost_outputs:
            self.lost_outputs.append(out.name)
        try:
            out.close()
        except Exception:
            pass
        why = f"{type(e).__name__}: {e}"
        if out.reopens and self.clock.live:
            again = out.name in self.retries.waits
            wait = self.retries.lost(out)
            log.error(f"{out.name}: {'still gone' if again else 'lost'} ({why}); trying again in {wait:g} s; "
                      f"the other outputs go on")
        else:
            log.error(f"{out.name}: lost ({why}); the other outputs go on")

    def _outputs_back(self) -> None:
        """Lost streams tried again: fresh ones go in (made off this thread), and those that have
        run steadily are said back."""
        for out in self.retries.due():
            self.outputs.append(out)
            log.info(f"{out.name}: trying again")
        for name in self.retries.back():
            if name in self.lost_outputs:
                self.lost_outputs.remove(name)
            log.info(f"{name}: back")

    # -- live ----------------------------------------------------------------------------------
    def run_live(self, duration: float | None = None, pacer=None, status_every: float = 5.0,
                 on_status: Callable[[str], None] | None = None) -> Summary:
        next_status = status_every
        t_end = 0.0
        for _, g in self.generators():
            g.start()
        t_start = t_stop = time.perf_counter()
        try:
            while not self.stop_requested:
                snap = self.snapshot()
                t_end = snap.t
                if duration is not None and snap.t >= duration:
                    t_end = duration
                    break
                frozen = self._frozen(snap)
                if not frozen:  # frozen: nothing asked, what still arrives is left unshown
                    self.generator.submit(snap)
                gen = self.generator.latest()
                more = self._layer_frames(snap, frozen, live=True)
                self.present(snap, None if frozen else gen, more)
                if self._had_outputs and not self.outputs and not self.retries.pending:
                    self._had_outputs = False  # said once; the show itself goes on
                    log.error("every output is gone: nothing is shown or recorded now; the show goes on")
                if on_status and snap.t >= next_status:
                    on_status(self.status_line())
                    next_status += status_every
                if pacer is not None:
                    pacer.wait()
        finally:
            t_stop = time.perf_counter()  # the show's length, not the time shutting down takes
            for _, g in self.generators():
                g.stop()
            self.retries.close()
            for out in self.outputs:
                out.finish(t_end)
        return self.summary(t_stop - t_start)

    # -- offline -------------------------------------------------------------------------------
    def render_offline(self, n_frames: int, fps: float, progress: Callable[[int, int], None] | None = None) -> Summary:
        """Frame-exact: frame i is made at t = i / fps, the generator runs in step with it."""
        t_start = time.perf_counter()
        for i in range(n_frames):
            if self.stop_requested:
                break
            self.clock.set(i / fps)
            snap = self.snapshot()
            frozen = self._frozen(snap)
            more = self._layer_frames(snap, frozen, live=False)
            self.present(snap, None if frozen else self.generator.produce(snap), more)
            if self._had_outputs and not self.outputs:
                log.error("every output is gone; stopping")
                break
            if progress:
                progress(i + 1, n_frames)
        return self.summary(time.perf_counter() - t_start)

    # -- figures -------------------------------------------------------------------------------
    def render_fps(self) -> float:
        return self._render_rate.fps()

    def latency_ms(self, q: float) -> float | None:
        if not self._latency:
            return None
        xs = sorted(self._latency)
        return 1e3 * xs[min(len(xs) - 1, int(q * len(xs)))]

    def status_line(self) -> str:
        parts = [f"t {self.clock.now():6.1f} s", f"render {self.render_fps():5.1f} fps"]
        for name, g in self.generators():  # gen 12.0 fps | gen faces 30.0 fps (restarting)
            state = g.state
            parts.append(f"gen {name + ' ' if name else ''}{g.fps():5.1f} fps"
                         + ("" if state in ("running", "ready") else f" ({state})"))
        p50, p95 = self.latency_ms(0.5), self.latency_ms(0.95)
        if p50 is not None:
            parts.append(f"latency {p50:.0f}/{p95:.0f} ms (p50/p95)")
        a = self._audio
        if self.controls.scene:
            parts.append(f"scene {self.controls.scene}")
        parts.append(f"clock {self.show_clock.state.describe()}")
        state = " LOST" if self.audio.lost else " ENDED (silence from here)" if self.audio.ended else ""
        parts.append(f"audio {a.level:.2f} {self.audio.name}{state}")
        analyzer = self.audio.analyzer
        if analyzer is not None and (analyzer.bad_samples or analyzer.clipped):
            parts.append(f"audio input: {analyzer.bad_samples} NaN/Inf samples ignored, {analyzer.clipped} clipped")
        for name, g in self.generators():
            if g.errors:
                parts.append(f"gen {name + ' ' if name else ''}errors {g.errors} (last: {g.last_error})")
            link = g.link_status()  # a box over the network: where, round trip, frame age
            if link:
                parts.append(f"{name}: {link}" if name else link)
        parts += self.held()
        parts += self.controls.waiting_controls()  # MIDI controls soft takeover ignores, against their values
        parts += [s for s in (o.status() for o in self.outputs) if s]
        parts += [f"{name} LOST" + (" (trying again)" if name in self.retries.waits else "") for name in self._gone()]
        parts += [s for s in (f() for f in self.status_parts) if s]
        return " | ".join(parts)

    def overlay_info(self):
        """What the status overlay shows (render thread)."""
        from vj.render.overlay import OverlayInfo

        p50, p95 = self.latency_ms(0.5), self.latency_ms(0.95)
        lat = f"   latency {p50:.0f}/{p95:.0f} ms" if p50 is not None else ""
        rates = "   ".join(f"gen {name + ' ' if name else ''}{g.fps():.1f} fps" for name, g in self.generators())
        lines = (f"render {self.render_fps():.0f} fps   {rates}{lat}",
                 f"scene {self.controls.scene or '-'}   {self.show_clock.state.describe()}   t {self.clock.now():.0f} s")
        for name, g in self.generators():  # a box over the network: where, round trip, frame age
            link = g.link_status()
            if link:
                lines += ((f"{name}: {link}" if name else link)[:90],)
        warnings = []
        for name, g in self.generators():
            label = f"generator {name}" if name else "generator"
            state = g.state
            if state not in ("running", "ready"):
                warnings.append(f"{label} {state}")
            if g.errors:
                warnings.append(f"{label} errors {g.errors}: {g.last_error[:60]}")
        if self.audio.lost:
            warnings.append(f"audio input lost ({self.audio.name})")
        if self.audio.ended:
            warnings.append(f"audio file ended ({self.audio.name}): silence")
        warnings += [f"shader {e[:70]}" for e in self.compositor.shader_errors()]
        warnings += [f"{name}: lost" for name in self._gone()]
        warnings += self.held()
        warnings += self.controls.waiting_controls()
        warnings += [w for f in self.warning_parts for w in f()]
        if self.show_clock.state.note:  # a clock source went away: the show runs free, and says so
            warnings.append(f"clock: {self.show_clock.state.note}")
        a = self._audio
        meters = (("lvl", a.level), ("bass", a.bass), ("mid", a.mid), ("high", a.high))
        return OverlayInfo(lines, meters, tuple(warnings))

    def held(self) -> list[str]:
        """What the performer is holding back: said on the preview and in the status line, so a
        black or still screen is never a mystery."""
        v = self.params.values()
        out = []
        if v.get("gen.freeze", 0.0) >= 0.5:
            out.append("FROZEN: the generated image holds (gen.freeze)")
        out += [f"FROZEN: generator {lg.name} holds its image (gen.{lg.name}.freeze)" for lg in self.layer_generators
                if v.get(f"gen.{lg.name}.freeze", 0.0) >= 0.5]
        level = v.get("master.level", 1.0)
        if level < 1.0:
            out.append(f"master fader at {level:.0%}" + (": every output is black" if level * 255 < 0.5 else ""))
        return out

    def summary(self, seconds: float) -> Summary:
        gens = [g for _, g in self.generators()]
        return Summary(self.rendered, seconds, sum(g.frames for g in gens), sum(g.errors for g in gens),
                       self.latency_ms(0.5), self.latency_ms(0.95))
