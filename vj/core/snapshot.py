"""The immutable state of the show at one render frame: what the generator and shaders read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from vj.core.features import Features


@dataclass(frozen=True)
class ClockState:
    """The show clock at one frame (vj/sync/showclock.py): one tempo and one beat position for
    everything, from one source at a time."""

    bpm: float = 120.0
    beat: float = 0.0  # beats since the clock began, with the phase: 0, 1, 2... on the beats
    source: str = "free"  # link | midi | held | tracker | free (the last tempo, carried on)
    quantum: int = 4  # beats a bar
    peers: int = 0  # Link peers (0 when not in a session)
    note: str = ""  # why it is free running, when a source went away ("midi clock stopped")

    @property
    def phase(self) -> float:
        return self.beat % 1.0

    @property
    def bar_phase(self) -> float:
        return (self.beat % self.quantum) / self.quantum

    @property
    def bar(self) -> int:
        return int(self.beat // self.quantum)

    def describe(self) -> str:
        """For the status line and the overlay: which source drives, at what tempo."""
        what = {"link": f"Link, {self.peers} peer{'s' if self.peers != 1 else ''}", "midi": "MIDI clock",
                "held": "held", "tracker": "tracker", "free": "free"}.get(self.source, self.source)
        return f"{self.bpm:.1f} BPM ({what}{': ' + self.note if self.note else ''})"


@dataclass(frozen=True)
class TransitionState:
    """A scene transition under way, as the generator and the compositor see it."""

    serial: int  # which scene change (a new one starts a new blend)
    progress: float  # 0 at the change .. 1 when the new scene is whole


@dataclass(frozen=True)
class Snapshot:
    index: int  # render frame number
    t: float  # clock time when it was taken, seconds
    values: Mapping[str, float]  # every parameter and every modulation source, by name
    prompts: tuple[str, ...]  # prompt texts; `prompt.<n>.weight` in values weighs prompts[n-1]
    seed: int  # noise seed (the first of the noise field's seeds)
    audio: Features = field(default_factory=Features)
    seeds: tuple[int, ...] = ()  # more noise seeds, blended by `noise.seed.<n>.weight` (n from 2)
    transition: TransitionState | None = None  # a scene transition under way
    clock: ClockState = field(default_factory=ClockState)  # tempo and beat, whatever drives them
