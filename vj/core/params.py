"""A parameter's description (name, range, default, unit, smoothing) and a table of them: what every
part that declares parameters (the generator, the compositor, the layers) and every part that moves
them (OSC, MIDI, routes, scenes) agree on. The store that holds their values is control/params.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vj.core.errors import ConfigError
from vj.core.validate import suggest


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

    def norm(self, value: float) -> float:
        """value -> 0..1 over the range."""
        return (value - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0

    def denorm(self, x: float) -> float:
        """0..1 -> value over the range."""
        return self.lo + min(1.0, max(0.0, x)) * (self.hi - self.lo)


Listener = Callable[[str, float, str], None]  # (name, new base value, source)


class SpecTable:
    """Names and specs of declared parameters (here, and the control process's view of them)."""

    _specs: dict[str, ParamSpec]

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)

    def spec(self, name: str, where: str = "parameter") -> ParamSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ConfigError(f"{where}: no parameter named {name!r}{suggest(name, self._specs)}") from None
