"""The control sink inside the control process (process.py): what OSC and MIDI write goes into the
shared store (parameters, MIDI values, counters) or, for the rest, back to the show through the
pipe (actions, OSC sources). It implements core.protocols.ControlSink, as the show's Controls do,
so OscRouter and MidiControl are the same code in either process."""

from __future__ import annotations

import time
from typing import Any, Callable

from vj.control.hub import find_scene
from vj.control.shared import SharedStore
from vj.core.messages import Action, SourceValue
from vj.core.params import Listener, ParamSpec, SpecTable


class StoreCounters:
    """Counters kept in the shared store: the show reads them for its status line."""

    def __init__(self, store: SharedStore) -> None:
        self.store = store

    def add(self, key: str, n: int = 1) -> None:
        self.store.count(key, n)

    def get(self, key: str) -> int:
        return self.store.counter_dict().get(key, 0)

    def snapshot(self) -> dict[str, int]:
        return self.store.counter_dict()


class StoreParams(SpecTable):
    """The show's parameters as the control process sees them: their specs (told at start, and as
    they are declared live) and their targets in the shared store. Routes live in the show: here a
    parameter's value is what a hand asked for."""

    def __init__(self, store: SharedStore, specs, trace: list | None = None) -> None:
        self.store = store
        self.trace = trace  # (name, value, time) of every write, when measuring
        self._index: dict[str, int] = {}
        self._specs: dict[str, ParamSpec] = {}
        self._listeners: list[Listener] = []
        for i, spec in specs:
            self.declare(i, spec)

    def declare(self, i: int, spec: ParamSpec) -> None:
        self._index[spec.name] = i
        self._specs[spec.name] = spec

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set(self, name: str, value: float, *, immediate: bool = False, source: str = "set",
            where: str = "parameter") -> float:
        spec = self.spec(name, where)
        v = min(spec.hi, max(spec.lo, float(value)))
        self.store.write(self._index[name], v, source)
        if self.trace is not None:
            self.trace.append((name, v, time.perf_counter_ns()))
        for listener in self._listeners:
            listener(name, v, source)
        return v

    def target(self, name: str) -> float:
        return float(self.store.target[self._index[name]])

    def values(self) -> dict[str, float]:
        return {n: float(self.store.target[i]) for n, i in self._index.items()}


class StoreSink:
    """ControlSink over the shared store and the pipe to the show (`send`)."""

    def __init__(self, store: SharedStore, send: Callable[[Any], None], specs, sources: tuple[str, ...],
                 scenes: tuple[str, ...], prompts: tuple[str, ...], seed: int, trace: bool = False) -> None:
        self.store = store
        self.trace: list | None = [] if trace else None
        self.params = StoreParams(store, specs, self.trace)
        self.counters = StoreCounters(store)
        self.sources = sources
        self._scenes = scenes
        self.prompts = list(prompts)
        self.seed = seed
        self.scene: str | None = None
        self.bpm = 0.0  # the show's tempo in force, as it last said
        self.learn_handler: Callable[[str], str | None] | None = None
        self._send = send

    def post(self, kind: str, *args: Any, origin: str = "") -> None:
        if kind == "learn" and self.learn_handler is not None:
            self.learn_handler(args[0])  # MIDI lives here: learn here
            return
        self._send(Action(kind, args, origin))

    def set_source(self, name: str, value: float, event: bool = False) -> None:
        """MIDI values go to the shared store (the show reads those its routes and envelopes use);
        OSC sources (rare, by name) through the pipe."""
        parts = name.split(".")
        if parts[0] != "midi":
            self._send(SourceValue(name, value))
            return
        ch = int(parts[1])
        if parts[2] == "pitchbend":
            self.store.midi[SharedStore.midi_index("pitchbend", ch)] = value
            return
        i = SharedStore.midi_index(parts[2], ch, int(parts[3]))
        self.store.midi[i] = value
        if event:
            self.store.notes[i - 16 * 128] += 1

    def scene_names(self) -> list[str]:
        return list(self._scenes)

    def find_scene(self, which: str | int) -> str:
        return find_scene(self._scenes, which, name=str)

    def show_state(self, prompts: tuple[str, ...], scene: str | None, seed: int, bpm: float = 0.0) -> None:
        """What the show told of itself (for /vj/list, /vj/status, the pads' lights, a tempo encoder)."""
        self.prompts, self.scene, self.seed, self.bpm = list(prompts), scene, seed, bpm
