"""One namespace of named parameters: everything that can move has a name here.

A parameter has a range, a default, a unit and a smoothing time. Its value each frame is

    smoothed(base) + sum(route contributions), clamped to the range

where `base` is what a performer (set file, later MIDI/OSC) last asked for and the routes are
the automatic modulation (audio, LFOs). Only the render thread touches a ParamSpace; other
threads see immutable snapshots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping

from vj.config import suggest
from vj.errors import ConfigError


@dataclass(frozen=True)
class ParamSpec:
    name: str  # dotted, e.g. "feedback.amount", "fx.kaleido.sides", "prompt.1.weight"
    lo: float  # range, inclusive
    hi: float
    default: float
    unit: str = ""  # for people: "", "turns/min", "deg/frame", ...
    smooth: float = 0.05  # seconds: time constant of the slew toward a new base value (0: jump)
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.lo <= self.default <= self.hi:
            raise ValueError(f"{self.name}: default {self.default} outside [{self.lo}, {self.hi}]")


class ParamSpace:
    def __init__(self, specs: Iterable[ParamSpec] = ()) -> None:
        self._specs: dict[str, ParamSpec] = {}
        self._target: dict[str, float] = {}
        self._base: dict[str, float] = {}
        self._mod: dict[str, float] = {}
        for s in specs:
            self.declare(s)

    def declare(self, spec: ParamSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"parameter {spec.name!r} declared twice")
        self._specs[spec.name] = spec
        self._target[spec.name] = spec.default
        self._base[spec.name] = spec.default

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)

    def spec(self, name: str, where: str = "parameter") -> ParamSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ConfigError(f"{where}: no parameter named {name!r}{suggest(name, self._specs)}") from None

    def set(self, name: str, value: float, *, immediate: bool = False, where: str = "parameter") -> float:
        """Ask for a new base value (clamped). With `immediate`, skip the slew (set files, scene loads)."""
        spec = self.spec(name, where)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {name} = {value} is not a finite number")
        v = min(spec.hi, max(spec.lo, float(value)))
        self._target[name] = v
        if immediate or spec.smooth <= 0:
            self._base[name] = v
        return v

    def modulate(self, name: str, delta: float) -> None:
        """Add a route's contribution for the current frame (cleared by tick())."""
        self._mod[name] = self._mod.get(name, 0.0) + delta

    def tick(self, dt: float) -> None:
        """Advance the slew of every base value by `dt` seconds and clear last frame's modulation."""
        for name, target in self._target.items():
            base = self._base[name]
            if base != target:
                tau = self._specs[name].smooth
                k = 1.0 - math.exp(-max(dt, 0.0) / tau) if tau > 0 else 1.0
                nb = base + (target - base) * k
                self._base[name] = target if abs(target - nb) < 1e-6 * (1 + abs(target)) else nb
        self._mod.clear()

    def value(self, name: str) -> float:
        spec = self._specs[name]
        return min(spec.hi, max(spec.lo, self._base[name] + self._mod.get(name, 0.0)))

    def values(self) -> Mapping[str, float]:
        """An immutable view of every parameter's current value."""
        return MappingProxyType({n: self.value(n) for n in self._specs})
