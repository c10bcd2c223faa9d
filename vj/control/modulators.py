"""Modulation sources that are not the audio: LFOs on the beat, envelopes, MIDI and OSC values.

- LFO: a shape over the beat position (sine, triangle, saw, square, random-per-cycle), one cycle
  every `beats` beats (0.25 = a sixteenth note .. 64 = sixteen bars), 0..1. It runs on the beat
  tracker's clock (or MIDI clock), and at 120 BPM when there is no tempo yet.
- Envelope: triggered by an event (an onset, a beat, a band hit, a MIDI note), rises to 1 over
  `attack` seconds and falls back with the `decay` time constant.
- Control values: every MIDI CC/note/pitch bend that arrives (midi.<ch>.cc.<n>, midi.<ch>.note.<n>,
  midi.<ch>.pitchbend) and every /vj/source/<name> OSC value (osc.<name>), 0..1, for routes.
"""

from __future__ import annotations

import math
import threading
from typing import Mapping

from vj.core.spec import EnvelopeSpec, LfoSpec


class ControlValues:
    """MIDI and OSC values as modulation sources (written by their threads, read by the render thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = {}
        self._events: set[str] = set()  # notes that went on since the last read (envelope triggers)

    def set(self, name: str, value: float, event: bool = False) -> None:
        with self._lock:
            self._values[name] = value
            if event:
                self._events.add(name)

    def read(self) -> tuple[dict[str, float], set[str]]:
        with self._lock:
            values, events = dict(self._values), self._events
            self._events = set()
        return values, events


class Modulators:
    def __init__(self, lfos: tuple[LfoSpec, ...] = (), envelopes: tuple[EnvelopeSpec, ...] = (), seed: int = 0) -> None:
        self.lfos = lfos
        self.envelopes = envelopes
        self.seed = seed
        self.controls = ControlValues()
        self.external = None  # the control process (process.py): MIDI values and note-ons from its store
        self.watch: set[str] = {e.trigger for e in envelopes if e.trigger.startswith("midi.")}  # midi names in use
        self._env_since: dict[str, float] = {}  # name -> seconds since its trigger (None: idle)
        self.triggers: set[str] = {e.trigger for e in envelopes}  # events read each frame (prompt fields add theirs)
        self.fired: set[str] = set()  # the triggers that fired this frame

    def names(self) -> list[str]:
        return [f"lfo.{l.name}" for l in self.lfos] + [f"env.{e.name}" for e in self.envelopes]

    def values(self, beat_pos: float, dt: float, audio_events: Mapping[str, float]) -> dict[str, float]:
        """Every LFO, envelope and control value for this frame."""
        out = {f"lfo.{l.name}": l.value(beat_pos, self.seed) for l in self.lfos}
        controls, note_events = self.controls.read()
        ext = self.external
        if ext is not None:
            for name in self.watch:
                v = ext.midi_value(name)
                if v is not None:
                    controls[name] = v
        # each trigger is read once a frame (a note-on is consumed by reading it), then shared by
        # the envelopes and the prompt templates that listen to it
        self.fired = {t for t in self.triggers if audio_events.get(t, 0.0) > 0.5 or t in note_events
                      or (ext is not None and t.startswith("midi.") and ext.note_fired(t))}
        for e in self.envelopes:
            if e.trigger in self.fired:
                self._env_since[e.name] = 0.0
            elif e.name in self._env_since:
                self._env_since[e.name] += dt
            t = self._env_since.get(e.name)
            if t is None:
                v = 0.0
            elif t < e.attack:  # the frame that fires counts its own duration: a short attack is 1 at once
                v = min(1.0, (t + dt) / e.attack)
            else:
                v = math.exp(-(t - e.attack) / e.decay) if e.decay > 0 else 0.0
                if v < 1e-4:
                    v = 0.0
                    del self._env_since[e.name]
            out[f"env.{e.name}"] = v
        out.update(controls)
        return out
