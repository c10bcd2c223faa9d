"""One namespace of named parameters: everything that can move has a name here.

A parameter has a range, a default, a unit and a smoothing time. Its value each frame is

    smoothed(base) + route modulation * priority, clamped to the range

`base` is what a performer (set file, scene, MIDI, OSC) last asked for; the routes are the
automatic modulation (audio, LFOs, envelopes).

Priority, the rule a performer can count on: a move by hand (MIDI or OSC) wins. For
HOLD seconds after the last touch of a parameter, routes do not move it at all; then they fade
back in over FADE seconds. (Scenes and set files set the base without holding it; a scene
also ends any hold on the parameters it sets.)

Thread safety: a show's OSC and MIDI live in the control process; the render thread pulls their
values from the shared store into set() at the start of each frame, so the next snapshot has them
(measured in BENCHMARKS.md), and calls tick(), modulate() and values(). Listeners in this process
(tests, `vj learn`) may call set() from their own threads: one short lock guards it all.
"""

from __future__ import annotations

import math
import threading
import time
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from vj.core.errors import ConfigError
from vj.core.params import Listener, ParamSpec, SpecTable

HOLD = 0.5  # seconds a touched parameter stays out of the routes' reach
FADE = 0.5  # seconds over which the routes come back afterwards
BY_HAND = ("midi", "osc", "web")  # sources whose moves hold a parameter (web: the browser remote, vj/web/)


class ParamSpace(SpecTable):
    def __init__(self, specs: Iterable[ParamSpec] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._specs: dict[str, ParamSpec] = {}
        self._target: dict[str, float] = {}
        self._base: dict[str, float] = {}
        self._mod: dict[str, float] = {}
        self._touched: dict[str, float] = {}  # name -> when a hand last moved it
        self._listeners: list[Listener] = []
        self._now = clock
        for s in specs:
            self.declare(s)

    def declare(self, spec: ParamSpec) -> None:
        with self._lock:
            if spec.name in self._specs:
                raise ValueError(f"parameter {spec.name!r} declared twice")
            self._specs[spec.name] = spec
            self._target[spec.name] = spec.default
            self._base[spec.name] = spec.default

    def on_change(self, listener: Listener) -> None:
        """Call `listener(name, value, source)` after every set() (on the caller's thread)."""
        self._listeners.append(listener)

    def set(self, name: str, value: float, *, immediate: bool = False, source: str = "set",
            where: str = "parameter") -> float:
        """Ask for a new base value (clamped; returns it). With `immediate`, skip the slew (set files,
        scenes). `source` "midi" or "osc" is a hand: it holds the parameter against the routes."""
        spec = self.spec(name, where)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {name} = {value} is not a finite number")
        v = min(spec.hi, max(spec.lo, float(value)))
        with self._lock:
            self._target[name] = v
            if immediate or spec.smooth <= 0:
                self._base[name] = v
            if source in BY_HAND:
                self._touched[name] = self._now()
            elif source == "scene":
                self._touched.pop(name, None)  # a new scene is a new start: its routes act at once
        for listener in self._listeners:
            listener(name, v, source)
        return v

    def target(self, name: str) -> float:
        """The base value last asked for (before the slew and the routes)."""
        return self._target[name]

    def modulate(self, name: str, delta: float) -> None:
        """Add a route's contribution for the current frame (cleared by tick())."""
        with self._lock:
            self._mod[name] = self._mod.get(name, 0.0) + delta

    def tick(self, dt: float) -> None:
        """Advance the slew of every base value by `dt` seconds and clear last frame's modulation."""
        with self._lock:
            for name, target in self._target.items():
                base = self._base[name]
                if base != target:
                    tau = self._specs[name].smooth
                    k = 1.0 - math.exp(-max(dt, 0.0) / tau) if tau > 0 else 1.0
                    nb = base + (target - base) * k
                    self._base[name] = target if abs(target - nb) < 1e-6 * (1 + abs(target)) else nb
            self._mod.clear()

    def _priority(self, name: str, now: float) -> float:
        """1: routes act fully; 0: a hand holds the parameter (see HOLD and FADE)."""
        t = self._touched.get(name)
        if t is None:
            return 1.0
        since = now - t - HOLD
        if since >= FADE:
            del self._touched[name]
            return 1.0
        return 0.0 if since <= 0 else since / FADE

    def _value(self, name: str, now: float) -> float:
        spec = self._specs[name]
        mod = self._mod.get(name, 0.0)
        if mod and name in self._touched:
            mod *= self._priority(name, now)
        return min(spec.hi, max(spec.lo, self._base[name] + mod))

    def value(self, name: str) -> float:
        with self._lock:
            return self._value(name, self._now())

    def held(self, name: str) -> bool:
        """Is a hand holding it right now (routes suspended or fading back)?"""
        with self._lock:
            return name in self._touched and self._priority(name, self._now()) < 1.0

    def values(self) -> Mapping[str, float]:
        """An immutable view of every parameter's current value."""
        with self._lock:
            now = self._now()
            return MappingProxyType({n: self._value(n, now) for n in self._specs})
