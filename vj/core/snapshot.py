"""The immutable state of the show at one render frame: what the generator and shaders read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from vj.core.features import Features


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
