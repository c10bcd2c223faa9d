"""A scene's transition: from the scene before to the next over N beats, bars or seconds.

While one runs, each frame:
    parameters   glide in a straight line from where they were to the scene's values (those with
                 a slew; stepped ones, a layer's blend mode, change at once under the crossfade)
    prompts      the generator blends each changed prompt's embedding from the old text to the new
                 (it reads the progress in Snapshot.transition)
    compositor   dissolves from the image held at the change to the live one
A hand on a gliding parameter takes it out of the glide: the performer wins, as everywhere.
Progress counts beats for beats and bars, so a transition in bars follows the tempo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vj.core.protocols import ParamTable
from vj.core.snapshot import TransitionState
from vj.core.spec import SceneSpec
from vj.core.spec import say_length
from vj.show.graph import BEATS_PER_BAR, Moment

CUT = (0.0, "s")  # no transition: the scene lands whole at once


def describe(length: tuple[float, str]) -> str:
    n, unit = length
    return "cut" if n <= 0 else say_length(n, unit)


@dataclass
class Transition:
    serial: int  # one per scene change (the compositor holds its image once per serial)
    length: tuple[float, str]  # (N, "beats" | "bars" | "s"), N > 0
    start: Moment  # where it began
    glides: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (from, to)

    def progress(self, m: Moment) -> float:
        n, unit = self.length
        if unit == "s":
            done = m.t - self.start.t
        else:
            done = (m.beat - self.start.beat) / (BEATS_PER_BAR if unit == "bars" else 1)
        return min(1.0, max(0.0, done / n))

    def values(self, p: float) -> dict[str, float]:
        """Where each gliding parameter stands at progress p."""
        return {name: a + (b - a) * p for name, (a, b) in self.glides.items()}

    def state(self, p: float) -> TransitionState:
        return TransitionState(self.serial, p)


class Transitions:
    """The scene changes of a show (render thread): each one a cut or a Transition under way."""

    def __init__(self, default: tuple[float, str] = CUT) -> None:
        self.default = default  # the set's ([show] transition)
        self.current: Transition | None = None
        self._serial = 0

    def begin(self, scene: SceneSpec, m: Moment, params: ParamTable, cut: bool = False) -> tuple[float, str]:
        """The scene lands now: its parameters jump (a cut) or start to glide. Returns its length."""
        length = scene.transition if scene.transition is not None else self.default
        if cut:
            length = CUT
        if self.current is not None:  # one under way: what glides in it and not in this one lands now
            for name, (_, to) in self.current.glides.items():
                if name not in scene.params:
                    params.set(name, to, immediate=True, source="scene")
            self.current = None
        glides = {}
        for name, value in scene.params.items():
            if length[0] > 0 and params.spec(name).smooth > 0:
                glides[name] = (params.target(name), value)
            else:
                params.set(name, value, immediate=True, source="scene")
        if length[0] > 0:
            self._serial += 1
            self.current = Transition(self._serial, length, m, glides)
        return length

    def step(self, m: Moment, params: ParamTable) -> TransitionState | None:
        """Each frame: the gliding parameters move on; the state the generator and compositor read."""
        t = self.current
        if t is None:
            return None
        p = t.progress(m)
        for name, value in t.values(p).items():
            params.set(name, value, immediate=True, source="scene")
        if p >= 1.0:
            self.current = None
            return None
        return t.state(p)

    def release(self, name: str) -> None:
        """A hand moved `name`: it leaves the glide where the hand put it."""
        if self.current is not None:
            self.current.glides.pop(name, None)
