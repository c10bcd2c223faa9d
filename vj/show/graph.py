"""The scene graph: scenes and the ways between them, so that a set plays with no timeline.

An edge leads from a scene (or from any, "*") to another when all its conditions hold:

    after    N beats, bars or seconds in the scene          (a state: true from then on; counted from
                                                             the bar or beat it landed on, its
                                                             transition or not)
    time     show time within [t0, t1] seconds               (a state)
    energy   the sound's presence within [lo, hi]            (a state: mean of the bands' presence)
    onset    an onset at least this strong (flux 0..1)       (an event: the frame it happens)
    note     a MIDI note goes on (midi.<ch>.note.<n>)        (an event)
    chance   this probability, drawn once a bar              (an event: each bar's draw)

An edge with an event fires on the event, its states holding; one with states only fires as
soon as they hold. Of the edges that fire together one is chosen, by weight. The move then
lands on the next bar (or beat, or at once: `quantize`, per edge, else the set's), a move asked
on the boundary itself landing there. `drift` (0..1) is the chance, once a bar when nothing
else moves, of following a random way out regardless of conditions; a scene with no way out
drifts to any other: drift never sticks. The performer can jump anywhere (`jump`) or follow a
way the graph chooses (`next`: /vj/scene/next, a pad, a key).

Every draw comes from one random.Random seeded by the show's seed, in a fixed order, so that a
rehearsal with --seed takes the same path frame for frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from vj.core.spec import EdgeSpec, GraphSpec, say_length

QUANTIZE = ("bar", "beat", "now")
BEATS_PER_BAR = 4


@dataclass(frozen=True)
class Moment:
    """What the graph reads each frame."""

    t: float  # show time, seconds
    beat: float  # beat position (the show clock's)
    onset: float = 0.0  # this frame's onset strength (0: none)
    notes: frozenset[str] = frozenset()  # MIDI notes that went on this frame
    energy: float = 0.0  # the sound's presence, 0..1


@dataclass(frozen=True)
class Move:
    target: str
    why: str  # "edge calm->storm (after 8 bars)", "drift", "jump (performer)", "next"


class SceneGraph:
    def __init__(self, scenes: tuple[str, ...], spec: GraphSpec, seed: int) -> None:
        if not scenes:
            raise ValueError("a scene graph needs scenes")
        self.scenes = scenes
        self.spec = spec
        self.rng = random.Random(seed ^ 0x5CE7E)  # its own stream: other draws don't move its path
        self.current: str | None = None
        self._entered: tuple[float, float] = (0.0, 0.0)  # (beat, t) when the scene began
        # (move, quantize: "bar", "beat", "now", or "bar now"/"beat now" when asked on that boundary, beat when asked)
        self._pending: tuple[Move, str, float] | None = None
        self._last_beat: float | None = None
        self._start = spec.start or scenes[0]

    # -- the performer ----------------------------------------------------------------------------
    def jump(self, target: str, quantize: str | None = None, why: str = "jump") -> None:
        """Go to `target` at the next boundary (the set's quantize unless given)."""
        if target not in self.scenes:
            raise ValueError(f"no scene {target!r}")
        self._ask(Move(target, why), quantize or self.spec.quantize)

    def next(self, m: Moment) -> str:
        """Follow a way out chosen by the graph: one whose states hold, else any way out, else any
        other scene. Returns the scene it will go to."""
        ways = self._ways_out()
        ready = [e for e in ways if self._states_hold(e, m)]
        pool = ready or ways
        if pool:
            e = self._choose(pool)
            self._ask(Move(e.target, f"next ({e.source}->{e.target})"), e.quantize or self.spec.quantize)
            return e.target
        target = self._any_other()
        self._ask(Move(target, "next (no way out: any scene)"), self.spec.quantize)
        return target

    @property
    def pending(self) -> tuple[str, str, str] | None:
        """The move waiting for its boundary, as (target, where it lands: bar | beat | now, why), or None."""
        if self._pending is None:
            return None
        move, quantize, _ = self._pending
        return move.target, quantize, move.why

    def place(self, scene: str) -> None:
        """The show resumes in `scene` (already recalled): the walk goes on from there, no start move."""
        if scene not in self.scenes:
            raise ValueError(f"no scene {scene!r}")
        self.current, self._pending = scene, None

    # -- each frame ---------------------------------------------------------------------------------
    def step(self, m: Moment) -> Move | None:
        """The move that lands on this frame, if one does (the caller recalls the scene)."""
        last, self._last_beat = self._last_beat, m.beat
        bar_now = last is not None and int(m.beat // BEATS_PER_BAR) > int(last // BEATS_PER_BAR)
        beat_now = last is not None and int(m.beat) > int(last)
        if self.current is None:  # the first frame: the start scene, at once
            return self._land(Move(self._start, "start"), m)
        if self._pending is None:
            fired = [e for e in self._ways_out() if self._fires(e, m, bar_now)]
            if fired:
                e = self._choose(fired)
                self._ask(Move(e.target, f"edge {e.source}->{e.target} ({describe(e)})"),
                          e.quantize or self.spec.quantize, at_boundary=(bar_now, beat_now), beat=m.beat)
            elif bar_now and self.spec.drift > 0 and self.rng.random() < self.spec.drift:
                ways = self._ways_out()
                target = self._choose(ways).target if ways else self._any_other()
                self._ask(Move(target, "drift"), self.spec.quantize, at_boundary=(bar_now, beat_now), beat=m.beat)
        return self._due(m, bar_now, beat_now)

    # -- inside -------------------------------------------------------------------------------------
    def _ask(self, move: Move, quantize: str, at_boundary: tuple[bool, bool] = (False, False),
             beat: float | None = None) -> None:
        if (quantize == "bar" and at_boundary[0]) or (quantize == "beat" and at_boundary[1]):
            quantize += " now"  # asked on the boundary itself: it lands there, on this frame
        asked = beat if beat is not None else (self._last_beat if self._last_beat is not None else 0.0)
        self._pending = (move, quantize, asked)

    def _due(self, m: Moment, bar_now: bool, beat_now: bool) -> Move | None:
        if self._pending is None:
            return None
        move, quantize, asked = self._pending
        if quantize == "now":
            return self._land(move, m)
        unit = BEATS_PER_BAR if quantize.startswith("bar") else 1
        if quantize.endswith(" now") or int(m.beat // unit) > int(asked // unit):
            return self._land(move, m, unit)
        return None

    def _land(self, move: Move, m: Moment, unit: int = 0) -> Move:
        """The move lands on this frame. Its scene's time (what `after` counts) starts at the bar or
        beat it was quantised to, not at this frame, a little past it: after = "2 bars" then holds on
        the frame that crosses the bar two bars on, and the next move lands there (not a bar later).
        Its transition does not change that: it begins as the scene lands."""
        self.current, self._pending = move.target, None
        self._entered = (m.beat // unit * unit if unit else m.beat, m.t)
        return move

    def _ways_out(self) -> list[EdgeSpec]:
        return [e for e in self.spec.edges if e.source in (self.current, "*") and e.target != self.current]

    def _any_other(self) -> str:
        others = [s for s in self.scenes if s != self.current]
        return self.rng.choice(others) if others else self.current

    def _choose(self, edges: list[EdgeSpec]) -> EdgeSpec:
        if len(edges) == 1:
            return edges[0]
        return self.rng.choices(edges, weights=[e.weight for e in edges])[0]

    def _states_hold(self, e: EdgeSpec, m: Moment) -> bool:
        if e.after is not None:
            n, unit = e.after
            beats_in, seconds_in = m.beat - self._entered[0], m.t - self._entered[1]
            if (seconds_in if unit == "s" else beats_in / (BEATS_PER_BAR if unit == "bars" else 1)) < n:
                return False
        if e.time is not None and not e.time[0] <= m.t <= e.time[1]:
            return False
        return e.energy is None or e.energy[0] <= m.energy <= e.energy[1]

    def _fires(self, e: EdgeSpec, m: Moment, bar_now: bool) -> bool:
        if not (e.after or e.time or e.energy or e.onset is not None or e.note or e.chance is not None):
            return False  # no condition: a way for `next` and drift only
        if not self._states_hold(e, m):
            return False
        if e.chance is not None:  # drawn on each bar its states hold
            if not bar_now or self.rng.random() >= e.chance:
                return False
        if e.onset is not None and (m.onset <= 0 or m.onset < e.onset):
            return False
        return e.note is None or e.note in m.notes


def describe(e: EdgeSpec) -> str:
    """The conditions of an edge in a few words (for the show log)."""
    parts = []
    if e.after is not None:
        parts.append(f"after {say_length(*e.after)}")
    if e.time is not None:
        parts.append(f"time {e.time[0]:g}-{e.time[1]:g} s")
    if e.energy is not None:
        parts.append(f"energy {e.energy[0]:g}-{e.energy[1]:g}")
    if e.onset is not None:
        parts.append(f"onset >= {e.onset:g}")
    if e.note:
        parts.append(e.note)
    if e.chance is not None:
        parts.append(f"chance {e.chance:g}/bar")
    return ", ".join(parts) or "no condition"
