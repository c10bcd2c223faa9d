"""Routes: the modulation matrix. A source moves a parameter, every frame.

    s = source value, clamped to 0..1     (audio features, LFOs, envelopes, MIDI and OSC values)
    c = curve(s)                          linear | exp (slow start) | log (fast start) | step (a gate)
    v = offset + amount * c               or, with range = [lo, hi]:  v = lo + (hi - lo) * c
    v follows with attack / release       (seconds: how fast the contribution may rise / fall)
    target value = performer's base + v   (clamped to the target's range; see params.py for who wins)

Routes are declared in set files and can be added or removed live (OSC /vj/route...); both happen
on the render thread (OSC posts them), so Routes itself needs no lock.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Iterable, Mapping

from vj.core.spec import CURVES, Route, RouteSpec
from vj.core.validate import suggest
from vj.control.params import ParamSpace
from vj.core.errors import ConfigError

_K = 4.0  # steepness of exp/log: exp(0.5) = 0.2, log(0.5) = 0.8


def curve(name: str, s: float) -> float:
    if name == "linear":
        return s
    if name == "exp":
        return (2.0 ** (_K * s) - 1.0) / (2.0 ** _K - 1.0)
    if name == "log":
        return 1.0 - (2.0 ** (_K * (1.0 - s)) - 1.0) / (2.0 ** _K - 1.0)
    if name == "step":
        return 1.0 if s >= 0.5 else 0.0
    raise ValueError(f"unknown curve {name!r}")


def source_known(name: str, known: Iterable[str]) -> bool:
    """Audio/LFO/envelope sources are declared names; MIDI and OSC values are open families."""
    if name in known:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in ("midi.*", "osc.*"))


class Routes:
    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self.routes: list[Route] = list(routes)
        self._out: dict[tuple[str, str], float] = {}  # each route's contribution last frame

    @classmethod
    def from_specs(cls, specs: Iterable[RouteSpec], params: ParamSpace, sources: Iterable[str], where: str) -> "Routes":
        """Check every route against the namespace now, so a typo fails at load and not mid-show."""
        known = set(sources)
        out = []
        for i, s in enumerate(specs, 1):
            w = f"{where} [[route]] #{i}"
            out.append(make_route(s, params, known, w))
        return cls(out)

    def add(self, route: Route) -> None:
        """Add a route, or replace the one with the same source and target."""
        self.remove(route.source, route.target)
        self.routes.append(route)

    def remove(self, source: str, target: str) -> bool:
        before = len(self.routes)
        self.routes = [r for r in self.routes if not (r.source == source and r.target == target)]
        self._out.pop((source, target), None)
        return len(self.routes) < before

    def apply(self, params: ParamSpace, sources: Mapping[str, float], dt: float = 0.0) -> None:
        for r in self.routes:
            s = sources.get(r.source, 0.0)
            s = 0.0 if not math.isfinite(s) else min(1.0, max(0.0, s))
            v = r.offset + r.amount * curve(r.curve, s)
            if r.attack > 0 or r.release > 0:
                key = (r.source, r.target)
                prev = self._out.get(key, v if dt <= 0 else 0.0)
                tau = r.attack if v > prev else r.release
                if tau > 0 and dt > 0:
                    v = prev + (v - prev) * (1.0 - math.exp(-dt / tau))
                self._out[key] = v
            params.modulate(r.target, v)


def make_route(s: RouteSpec, params: ParamSpace, known: set[str], where: str) -> Route:
    if not source_known(s.source, known):
        raise ConfigError(f"{where}: unknown source {s.source!r}{suggest(s.source, known)}; sources: "
                          f"{', '.join(sorted(known))}, midi.<channel>.cc.<n>, midi.<channel>.note.<n>, osc.<name>")
    params.spec(s.target, where)
    amount, offset = s.amount, s.offset
    if s.range is not None:
        lo, hi = s.range
        amount, offset = hi - lo, lo
    if s.curve not in CURVES:
        raise ConfigError(f"{where}: curve {s.curve!r}{suggest(s.curve, CURVES)}; curves: {', '.join(CURVES)}")
    return Route(s.source, s.target, amount, offset, s.curve, s.attack, s.release)
