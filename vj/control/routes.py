"""Routes: the modulation matrix. A source (an audio feature, 0..1) moves a parameter.

Each frame: target += amount * source, on top of the performer's base value, then clamped to the
target's range. Curves, attack/release and LFO sources extend this (see the control issue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from vj.config import RouteSpec, suggest
from vj.control.params import ParamSpace
from vj.errors import ConfigError


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    amount: float


class Routes:
    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self.routes = tuple(routes)

    @classmethod
    def from_specs(cls, specs: Iterable[RouteSpec], params: ParamSpace, sources: Iterable[str], where: str) -> "Routes":
        """Check every route against the namespace now, so a typo fails at load and not mid-show."""
        sources = set(sources)
        out = []
        for i, s in enumerate(specs, 1):
            w = f"{where} [[route]] #{i}"
            if s.source not in sources:
                raise ConfigError(f"{w}: unknown source {s.source!r}{suggest(s.source, sources)}; sources: {', '.join(sorted(sources))}")
            params.spec(s.target, w)
            out.append(Route(s.source, s.target, s.amount))
        return cls(out)

    def apply(self, params: ParamSpace, sources: Mapping[str, float]) -> None:
        for r in self.routes:
            params.modulate(r.target, r.amount * sources.get(r.source, 0.0))
