"""A tempo set by hand: held (`--bpm`, `/vj/bpm`, a MIDI control mapped to `bpm`) or tapped (`/vj/tap`,
a pad mapped to `tap`, the window's T or space).

With a sound input the beat tracker takes the taps and the held tempo (its phase follows the
music); without one, this is the show's own tap tempo, and the show clock (showclock.py) runs the
held tempo on its own phase, with a beat put on each tap. Either way the tempo in force is what a
Link session is proposed and what `--resume` brings back.

Taps are stamped when they arrive (time.monotonic(), the clock the control process and the render
thread share), not when a frame gets round to them: a tap's place is its own, whatever the frame
rate.
"""

from __future__ import annotations

import statistics

from vj.core.protocols import AudioInput

TAP_GAP = 2.0  # seconds: a longer pause between two taps starts a new run
TAPS_KEPT = 8  # the tempo is the median interval of the last taps of a run
LOWEST, HIGHEST = 20.0, 400.0  # BPM a hand may set


class HandTempo:
    """What the performer's hand said of the tempo (Controls keeps one; the render thread uses it)."""

    def __init__(self) -> None:
        self.bpm: float | None = None  # held by hand (20..400), or counted from taps here; None: none
        self.by_tracker = False  # the taps went to the beat tracker (a sound input): its tempo is the hand's
        self._taps: list[float] = []  # time.monotonic() of the taps of the current run
        self._beat_at: float | None = None  # a tap the show clock has not yet put a beat on

    @property
    def holds(self) -> bool:
        """A hand holds the tempo (the clock says `held`)."""
        return self.bpm is not None or self.by_tracker

    def hold(self, bpm: float | None, audio: AudioInput | None = None) -> None:
        """Hold `bpm` (None: let it go: back to the beat tracker, or running free), in the sound
        input's beat tracker too when there is one (`audio`)."""
        if bpm is not None and not LOWEST <= bpm <= HIGHEST:
            raise ValueError(f"BPM {bpm:g} is outside {LOWEST:g}..{HIGHEST:g}")
        self.bpm = float(bpm) if bpm is not None else None
        self.by_tracker = False
        self._taps.clear()
        self._beat_at = None
        if audio is not None and audio.analyzer is not None:
            audio.analyzer.set_bpm(self.bpm)

    def tap(self, when: float, audio: AudioInput | None = None) -> None:
        """A tap on the beat at `when` (time.monotonic() as it arrived): with a sound input
        (`audio`) its beat tracker takes it (the phase follows the music); without one, two or more
        taps in a run set the tempo here and the show clock puts a beat on the last."""
        if audio is not None and audio.analyzer is not None:
            audio.tap(when)
            self.bpm, self.by_tracker = None, True
            self._taps.clear()
            return
        if self._taps and not 0.0 < when - self._taps[-1] < TAP_GAP:
            self._taps = []  # a pause (or a tap out of order): a new run
        self._taps = (self._taps + [when])[-TAPS_KEPT:]
        if len(self._taps) >= 2:
            intervals = [b - a for a, b in zip(self._taps, self._taps[1:])]
            self.bpm = min(max(60.0 / statistics.median(intervals), LOWEST), HIGHEST)
        self.by_tracker = False
        self._beat_at = when

    def take_beat(self) -> float | None:
        """The last tap not yet placed on the beat (time.monotonic()), once."""
        at, self._beat_at = self._beat_at, None
        return at
