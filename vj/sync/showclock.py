"""The show clock: one tempo and one beat position for everything, from one source at a time.

The first source that has something to say drives:

    link     an Ableton Link session with at least one other peer (sync/link.py): its tempo, and
             its beat, in phase with the session's quantum
    midi     MIDI clock in, running (24 ticks a beat, counted from Start)
    held     a tempo set by hand (--bpm, /vj/bpm, taps, a MIDI control; control/hand.py): on the beat
             tracker's phase when there is sound, else on a phase of its own that carries on from
             where the clock was, with a beat put on each tap
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
import time
from typing import Callable

from vj.core.features import Features
from vj.core.snapshot import ClockState
from vj.control.hand import HandTempo

# a reading: (beat position, bpm, peers) from one source, or None when it has nothing
Reading = tuple[float, float, int]


class ShowClock:
    def __init__(self, quantum: int = 4, link=None, midi: Callable[[], tuple[float, float] | None] | None = None,
                 bpm: float = 120.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.quantum = quantum
        self.link = link  # sync/link.LinkSession, or None
        self.midi = midi  # () -> (beats, bpm) while MIDI clock runs, else None
        self.monotonic = monotonic  # the clock taps are stamped with (control/hand.py)
        self.bpm = bpm
        self.beat = 0.0
        self.source = "free"  # as ClockState says, but "hand" for a held tempo on its own phase
        self.note = ""
        self._offset = 0.0  # show beat - source beat: whole bars
        self._proposed: float | None = None  # the tempo by hand last proposed to Link
        self._peers = 0  # Link peers at the last frame
        self._t: float | None = None
        self.state = ClockState(bpm, 0.0, "free", quantum)

    def _read(self, feats: Features, hand: HandTempo | None) -> tuple[str, Reading | None] | None:
        if self.link is not None:
            r = self.link.reading()
            if r is not None and r[2] > 0:
                return "link", r
        if self.midi is not None:
            r = self.midi()
            if r is not None and r[1] > 0:
                return "midi", (r[0], r[1], 0)
        if feats.bpm > 0:
            return ("held" if hand is not None and hand.holds else "tracker"), (feats.beats, feats.bpm, 0)
        if hand is not None and hand.bpm:
            return "hand", None  # no tracker to hold it: a phase of its own
        return None

    def tick(self, t: float, feats: Features, hand: HandTempo | None = None) -> ClockState:
        """Once a frame, on the render thread: the clock at show time `t`; `hand`: the tempo set by
        hand (Controls.hand), if any."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        carried = self.beat + dt * self.bpm / 60.0  # where it would be running free
        tap = hand.take_beat() if hand is not None else None
        self._propose_by_hand(feats, hand)
        got = self._read(feats, hand)
        if got is not None and got[0] == "hand":
            self.source, self.note = "hand", ""
            self.bpm = hand.bpm
            self.beat = self._on_the_tap(self.beat + dt * self.bpm / 60.0, tap)  # on from where it was
        elif got is None:
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
        shown = "held" if self.source == "hand" else self.source
        self.state = ClockState(self.bpm, self.beat, shown, self.quantum, peers, self.note)
        return self.state

    def _on_the_tap(self, beat: float, tap: float | None) -> float:
        """A tap is on a beat: the beat nearest to it moves onto it, but never back past a whole beat
        already counted (its beat event has fired: the count only moves on)."""
        if tap is None:
            return beat
        since = max(0.0, self.monotonic() - tap) * self.bpm / 60.0  # beats since the tap
        return max(round(beat - since) + since, math.floor(beat))

    def _propose_by_hand(self, feats: Features, hand: HandTempo | None) -> None:
        """A tempo set by hand (held, or tapped into the tracker) goes to Link's session when it is
        set, and again when the show finds the session's other peers (a tempo proposed before they
        were found is lost in the merge)."""
        wanted = None
        if hand is not None:
            wanted = hand.bpm or (feats.bpm if hand.by_tracker and feats.bpm > 0 else None)
        peers = self.link.peers() if self.link is not None else 0
        if wanted is not None and (wanted != self._proposed or (peers and not self._peers)):
            self.propose(wanted)
        self._proposed, self._peers = wanted, peers

    def propose(self, bpm: float) -> None:
        """A tempo set on the show (by hand): Link's session hears it (the tracker already has it)."""
        if self.link is not None and bpm > 0:
            self.link.propose(bpm)


_NAMES = {"link": "Link session", "midi": "MIDI clock", "held": "held tempo", "hand": "held tempo",
          "tracker": "beat tracker"}
