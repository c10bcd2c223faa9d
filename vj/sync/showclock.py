"""The show clock: one tempo and one beat position for everything, from one source at a time.

The first source that has something to say drives:

    link     an Ableton Link session with at least one other peer (sync/link.py): its tempo, and
             its beat, in phase with the session's quantum
    midi     MIDI clock in, running (24 ticks a beat, counted from Start)
    held     a tempo set by hand (/vj/bpm, tap, a MIDI control), on the beat tracker's phase
    tracker  the audio beat tracker, once it has a tempo (its bars start on its downbeat)
    free     none of them: the last tempo carried on from where the last source left it (120 BPM
             before any source spoke)

A source that takes over brings its phase within the bar (what being in time with it means); the
show's count moves forward to it by less than a bar, never back, so bar numbers keep counting up.
A source that goes away (Link peers leave, the clock stops, the music stops) leaves the clock
running free at its last tempo from where it was, with no jump in phase, and the status says so.

Everything reads the ClockState (core/snapshot.py) the engine puts in each snapshot: LFOs,
audio.beat / audio.bar and the phases as sources, template re-sampling, quantised scene changes,
the shaders' u_bpm / u_beat_phase / u_bar_phase, OSC out and MIDI clock out.
"""

from __future__ import annotations

import math
from typing import Callable

from vj.core.features import Features
from vj.core.snapshot import ClockState

# a reading: (beat position, bpm, peers) from one source, or None when it has nothing
Reading = tuple[float, float, int]


class ShowClock:
    def __init__(self, quantum: int = 4, link=None, midi: Callable[[], tuple[float, float] | None] | None = None,
                 bpm: float = 120.0) -> None:
        self.quantum = quantum
        self.link = link  # sync/link.LinkSession, or None
        self.midi = midi  # () -> (beats, bpm) while MIDI clock runs, else None
        self.bpm = bpm
        self.beat = 0.0
        self.source = "free"
        self.note = ""
        self._offset = 0.0  # show beat - source beat: whole bars
        self._t: float | None = None
        self.state = ClockState(bpm, 0.0, "free", quantum)

    def _read(self, feats: Features, held: bool) -> tuple[str, Reading] | None:
        if self.link is not None:
            r = self.link.reading()
            if r is not None and r[2] > 0:
                return "link", r
        if self.midi is not None:
            r = self.midi()
            if r is not None and r[1] > 0:
                return "midi", (r[0], r[1], 0)
        if feats.bpm > 0:
            return ("held" if held else "tracker"), (feats.beats, feats.bpm, 0)
        return None

    def tick(self, t: float, feats: Features, held: bool = False) -> ClockState:
        """Once a frame, on the render thread: the clock at show time `t`."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        carried = self.beat + dt * self.bpm / 60.0  # where it would be running free
        got = self._read(feats, held)
        if got is None:
            if self.source != "free":
                self.note = f"{_NAMES[self.source]} went away, carrying on at {self.bpm:.1f}"
                self.source = "free"
            self.beat = carried
        else:
            source, (beat, bpm, _) = got
            q = self.quantum
            # a new source, or the same one jumping (a MIDI Start, the tracker moving its downbeat):
            # its phase in the bar, and whole bars that move the show's count forward to it (less
            # than a bar), never back: bar and beat numbers keep counting up
            if source != self.source or abs(beat + self._offset - carried) > q / 2:
                self._offset = q * math.ceil((carried - beat) / q)
            self.source, self.note = source, ""
            self.beat, self.bpm = beat + self._offset, bpm
        peers = self.link.peers() if self.link is not None else 0
        self.state = ClockState(self.bpm, self.beat, self.source, self.quantum, peers, self.note)
        return self.state

    def propose(self, bpm: float) -> None:
        """A tempo set on the show (by hand): Link's session hears it (the tracker already has it)."""
        if self.link is not None and bpm > 0:
            self.link.propose(bpm)


_NAMES = {"link": "Link session", "midi": "MIDI clock", "held": "held tempo", "tracker": "beat tracker"}
