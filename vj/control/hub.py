"""The controls of a show: parameters, routes, modulators, scenes, prompts and seed, in one place.

Who touches what:
- OSC and MIDI are received in the control process (process.py): a parameter goes into the
  shared store (shared.py), everything else (prompt text, scenes, seed, tempo, learn, routes)
  comes back through its pipe as an action;
- the render thread, at the start of each frame (apply_pending), pulls the store's changed
  parameters into the ParamSpace, applies the posted actions, then reads everything to build the
  snapshot. (Tests and `vj learn` drive an OscRouter or MidiControl against these Controls in
  one process: then their threads set and post here directly, under params.py's lock and the
  bounded inbox.)
"""

from __future__ import annotations

import collections
import dataclasses
import random
import threading
import time
from typing import Any, Callable

from vj.core.spec import SceneSpec
from vj.core.validate import suggest
from vj.control.modulators import Modulators
from vj.control.params import BY_HAND, ParamSpace
from vj.core.params import ParamSpec
from vj.control.routes import Route, Routes
from vj.core.templates import Template, TemplateError, parse as parse_template
from vj.log import log
from vj.core.messages import Action
from vj.mailbox import BoundedInbox
from vj.core.protocols import Journal
from vj.show.graph import Moment, SceneGraph
from vj.show.log import NoJournal
from vj.show.transition import CUT, Transitions, describe
from vj.core.snapshot import TransitionState
from vj.control.hand import HandTempo


PICKUP_SHOWN = 4.0  # seconds a control soft takeover ignores stays on the overlay after its last move


class Counters:
    """What came in and what was wrong with it, for the status line and /vj/status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c: collections.Counter[str] = collections.Counter()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._c[key] += n

    def get(self, key: str) -> int:
        with self._lock:
            return self._c[key]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._c)


def find_scene(scenes, which: str | int, name: Callable[[Any], str] = lambda s: s.name):
    """A scene by index (from 0, also as digits) or by name; ValueError says what there is."""
    if isinstance(which, int) or (isinstance(which, str) and which.isdigit()):
        i = int(which)
        if not 0 <= i < len(scenes):
            raise ValueError(f"scene {i}: there are {len(scenes)} (0..{len(scenes) - 1})")
        return scenes[i]
    for s in scenes:
        if name(s) == which:
            return s
    raise ValueError(f"no scene {which!r}{suggest(str(which), [name(s) for s in scenes])}")


def said(a: Action) -> str:
    """An action as a performer would say it: `prompt 5 "blue dots"`, `route_add audio.bass -> noise.kick`
    (never a Python tuple or a dataclass's repr)."""
    def word(x: Any) -> str:
        if isinstance(x, str):
            return f'"{x}"' if " " in x or not x else x
        if isinstance(x, Route):
            return f"{x.source} -> {x.target}"
        return f"{x:g}" if isinstance(x, float) else str(x)

    return " ".join([a.kind.replace("_", " ")] + [word(x) for x in a.args])


class Controls:
    def __init__(self, params: ParamSpace, routes: Routes, modulators: Modulators, scenes: tuple[SceneSpec, ...],
                 prompts: list[str], seed: int, sources: tuple[str, ...],
                 resample_on: list[tuple[str, ...]] | None = None, more_seeds: tuple[int, ...] = (),
                 graph: SceneGraph | None = None, journal: Journal | None = None,
                 transition: tuple[float, str] = CUT) -> None:
        self.params = params
        self.routes = routes
        self.modulators = modulators
        self.scenes = scenes
        # The prompt field: what the performer wrote (templates) and what is sung now (samples).
        # Sampling is seeded by the show's seed, so `vj render` repeats itself.
        self._rng = random.Random(seed)
        self.templates: list[Template] = [self._template(t) for t in prompts]
        self.prompts: list[str] = [t.sample(self._rng) for t in self.templates]
        self.journal: Journal = journal or NoJournal()  # the show log
        for i, (t, text) in enumerate(zip(self.templates, self.prompts), 1):
            if not t.fixed:
                self.journal.write("prompt", slot=i, text=text, why="start")
        params.on_change(self._witness)
        self.resample_on: list[tuple[str, ...]] = list(resample_on or [()] * len(prompts))  # triggers per slot
        self.modulators.triggers |= {t for ts in self.resample_on for t in ts}
        self.seed = seed
        self.more_seeds = tuple(more_seeds)  # the noise field's other seeds (noise.seed.<n>.weight, n from 2)
        self.sources = sources  # every declared modulation source name (audio, lfo, env)
        self.scene: str | None = None
        self.graph = graph  # the set's scene graph: moves land quantised (None: a scene asked for comes at once)
        self.moment = Moment(0.0, 0.0)  # what the graph read last (for /vj/scene/next between frames)
        self.transitions = Transitions(transition)  # how scenes land: cut, or glide and crossfade
        self.transition: TransitionState | None = None  # this frame's, for the snapshot
        self.inbox: BoundedInbox[Action] = BoundedInbox(256)
        self.counters = Counters()
        self.learn_handler: Callable[[str], str | None] | None = None  # set by the MIDI side
        self.before_frame: list[Callable[[], None]] = []  # the control process's poll
        self.outside_tempo: Callable[[], tuple[float, float] | None] | None = None  # MIDI clock in: (beats, bpm)
        self.changed_by: Callable[[str, float, str], None] | None = None  # feedback (OSC out, LEDs)
        # what the live state keeps (vj/show/resume.py) beside the prompts, scene and seed
        self.moved: set[str] = set()  # parameters a hand moved
        self.live_routes: dict[tuple[str, str], tuple] = {}  # (source, target) -> its last change live:
        # ("add", the route's fields) or ("remove", source, target), in the order they came
        self.hand = HandTempo()  # the tempo set by hand (--bpm, /vj/bpm, taps, a MIDI control)
        self.bpm = 0.0  # the tempo in force, whatever drives the show clock (the engine sets it each frame)
        self.pickups: dict[str, tuple[float, float]] = {}  # parameter -> (where its waiting MIDI control
        # is, in the parameter's units; time.monotonic() it last moved): soft takeover ignores it

    def _witness(self, name: str, value: float, source: str) -> None:
        if source in BY_HAND:
            self.transitions.release(name)
            self.moved.add(name)
            self.journal.move(name, value, source)

    def listen_to(self, remote) -> None:
        """Take the control process's moves in at every frame: its parameters and actions (poll),
        its MIDI values and notes (for routes and envelopes) and, with MIDI, its clock."""
        self.before_frame.append(remote.poll)
        self.modulators.external = remote
        if remote.midi is not None:
            self.outside_tempo = remote.tempo

    def post(self, kind: str, *args: Any, origin: str = "") -> None:
        self.inbox.put(Action(kind, args, origin))

    def set_source(self, name: str, value: float, event: bool = False) -> None:
        """A MIDI or OSC value as a modulation source (midi.<ch>.cc.<n>, osc.<name>...)."""
        self.modulators.controls.set(name, value, event)

    # -- on the render thread ------------------------------------------------------------------
    def apply_pending(self, audio=None) -> None:
        for hook in self.before_frame:
            hook()
        for a in self.inbox.drain():
            try:
                self._apply(a, audio)
            except Exception as e:  # one bad action never stops the frame
                self.counters.add("bad_actions")
                log.warning(f"{a.origin or 'control'}: {said(a)} refused: {e}")

    def _apply(self, a: Action, audio) -> None:
        if a.kind == "prompt":
            slot, text = a.args
            self.set_prompt(slot, text)
        elif a.kind == "resample":
            self.resample(a.args[0] if a.args else None)
        elif a.kind == "scene":
            self.jump(a.args[0], a.origin, *a.args[1:])
        elif a.kind == "scene_next":
            self.follow_next(a.origin)
        elif a.kind == "seed":
            self.seed = int(a.args[0])
        elif a.kind == "grab":  # the [ipadapter] takes a new reference frame when ipadapter.grab moves
            if "ipadapter.grab" not in self.params:
                raise ValueError("the set has no [ipadapter]: nothing takes a reference frame")
            self.params.set("ipadapter.grab", self.params.value("ipadapter.grab") + 1, immediate=True, source="set")
        elif a.kind == "tap":  # with a sound input its tracker takes it, else the show's own tap tempo
            self.hand.tap(float(a.args[0]) if a.args else time.monotonic(), audio)
        elif a.kind == "bpm":
            self.hand.hold(float(a.args[0]) if a.args[0] else None, audio)
        elif a.kind == "pickup":  # a MIDI control soft takeover ignores (None: it met the value)
            name, where = a.args
            if where is None:
                self.pickups.pop(name, None)
            elif name in self.params:
                self.pickups[name] = (float(where), time.monotonic())
        elif a.kind == "learn":
            if self.learn_handler is None:
                raise ValueError("learn needs a MIDI input: start with --midi NAME")
            self.learn_handler(a.args[0])
        elif a.kind == "route_add":
            route: Route = a.args[0]
            self.routes.add(route)
            if route.source.startswith("midi."):
                self.modulators.watch.add(route.source)
            self._feedback(route.target, "route")
            self.live_routes.pop((route.source, route.target), None)  # the last change of a pair is what counts
            self.live_routes[(route.source, route.target)] = ("add", dataclasses.asdict(route))
        elif a.kind == "route_remove":
            src, tgt = a.args
            if self.routes.remove(src, tgt):
                self._feedback(tgt, "route")
                self.live_routes.pop((src, tgt), None)
                self.live_routes[(src, tgt)] = ("remove", src, tgt)
        else:
            raise ValueError(f"unknown action {a.kind!r}")

    def waiting_controls(self, now: float | None = None) -> list[str]:
        """A line per MIDI control that soft takeover ignores: where it is against the value, for
        the overlay and the status line, until it meets the value (or is left alone for a while)."""
        now = time.monotonic() if now is None else now
        for name in [n for n, (_, t) in self.pickups.items() if now - t > PICKUP_SHOWN]:
            del self.pickups[name]
        lines = []
        for name, (where, _) in sorted(self.pickups.items()):
            value = self.params.target(name)
            lines.append(f"{name}: MIDI control at {where:.3g}, value {value:.3g}; "
                         f"turn it {'up' if where < value else 'down'} to pick it up")
        return lines

    def _feedback(self, name: str, source: str) -> None:
        if self.changed_by is not None:
            self.changed_by(name, self.params.value(name), source)

    def set_prompt(self, slot: int, text: str) -> None:
        """Prompt `slot` (1-based) gets `text`; one past the end adds a prompt (weight 0: fade it in)."""
        if not text.strip():
            raise ValueError("an empty prompt")
        template = self._template(text)
        if 1 <= slot <= len(self.prompts):
            self.templates[slot - 1] = template
            self.prompts[slot - 1] = template.sample(self._rng)
            self.journal.write("prompt", slot=slot, text=self.prompts[slot - 1], why="set")
        elif slot == len(self.prompts) + 1:
            self.templates.append(template)
            self.prompts.append(template.sample(self._rng))
            self.journal.write("prompt", slot=slot, text=self.prompts[-1], why="added")
            self.resample_on.append(())
            name = f"prompt.{slot}.weight"
            if name not in self.params:
                self.params.declare(ParamSpec(name, -4.0, 4.0, 0.0, "", 0.1, "weight of a prompt added live"))
        else:
            raise ValueError(f"prompt slot {slot}: there are {len(self.prompts)} (add one at {len(self.prompts) + 1})")

    @staticmethod
    def _template(text: str) -> Template:
        try:
            return parse_template(text)
        except TemplateError as e:
            raise ValueError(f"prompt {text!r}: {e}") from None

    def resample(self, slot: int | None = None) -> None:
        """Draw new choices for one prompt (1-based) or for all; a fixed text stays as it is."""
        if slot is not None and not 1 <= slot <= len(self.templates):
            raise ValueError(f"prompt slot {slot}: there are {len(self.templates)}")
        for i in ([slot - 1] if slot is not None else range(len(self.templates))):
            t = self.templates[i]
            if not t.fixed:
                self.prompts[i] = t.resample(self._rng, self.prompts[i])
                self.counters.add("resampled")
                self.journal.write("prompt", slot=i + 1, text=self.prompts[i], why="resampled")

    def on_triggers(self, fired: set[str]) -> None:
        """Re-sample the prompts whose triggers fired this frame (render thread, after the modulators)."""
        if not fired:
            return
        for i, triggers in enumerate(self.resample_on):
            if fired.intersection(triggers):
                self.resample(i + 1)

    def scene_names(self) -> list[str]:
        return [s.name for s in self.scenes]

    def find_scene(self, which: str | int) -> SceneSpec:
        return find_scene(self.scenes, which)

    def jump(self, which: str | int, origin: str = "", quantize: str | None = None) -> None:
        """A performer's jump to any scene: through the graph (at its next bar or beat as the set
        says, or as `quantize` says for this move), or, in a set without a graph, at once."""
        scene = self.find_scene(which)
        if self.graph is None:
            self.recall(scene.name, f"jump ({origin or 'performer'})")
        else:
            self.graph.jump(scene.name, quantize, why=f"jump ({origin or 'performer'})")

    def follow_next(self, origin: str = "") -> None:
        """/vj/scene/next, a pad, a key: a way out chosen by the graph (without one: the next scene listed)."""
        if self.graph is not None:
            self.graph.next(self.moment)
        elif self.scenes:
            names = self.scene_names()
            i = names.index(self.scene) + 1 if self.scene in names else 0
            self.recall(names[i % len(names)], f"next ({origin or 'performer'})")

    def step_graph(self, m: Moment) -> None:
        """Each frame, before the parameters tick: a move of the graph that lands now is recalled,
        and a transition under way moves on."""
        self.moment = m
        if self.graph is not None:
            move = self.graph.step(m)
            if move is not None:
                self.recall(move.target, move.why)
        self.transition = self.transitions.step(m, self.params)

    def recall(self, which: str | int, why: str = "") -> None:
        """Go to a scene now: its parameter values (without holding them) and its prompts, at once or
        over its transition (the generator blends the prompts, the compositor crossfades)."""
        scene = self.find_scene(which)
        length = self.transitions.begin(scene, self.moment, self.params, cut=self.scene is None)  # the first: whole
        if scene.prompts is not None:
            for i, text in enumerate(scene.prompts, 1):
                self.set_prompt(i, text)
        self.scene = scene.name
        log.info(f"scene {scene.name}" + (f" ({why})" if why else ""))
        self.journal.write("scene", scene=scene.name, why=why or "asked", transition=describe(length))
