"""Frames from several places made into one stream: in the order of their snapshots, and, when
boxes alternate frames of one generator, spread evenly between them.

InOrder is the gate every frame passes (one box over several connections needs it as much as two
boxes do): a frame made from a snapshot older than the last one shown is dropped, never shown.

Stagger keeps alternating boxes out of step. Each box makes frames back to back against its
credits; if two boxes run in step their frames land together and one of each pair is thrown away
(same snapshot, or older). So when a box's frame lands too soon after another box's, that box is
asked to pause, once, by the shortfall: its next credit carries the pause (the box waits that long
before the frame it makes against it), which moves its phase for good. With N boxes the frames
settle 1/N of a frame time apart: N times the frames of one box.
"""

from __future__ import annotations

MAX_PAUSE = 1.0  # s: the most a box is asked to pause at once


class InOrder:
    """Admits snapshot indices in increasing order only."""

    def __init__(self) -> None:
        self.last = -1  # index of the last frame admitted
        self.dropped = 0  # frames that came after a newer one (counted, never shown)

    def admit(self, index: int) -> bool:
        if index <= self.last:
            self.dropped += 1
            return False
        self.last = index
        return True

    def reset(self) -> None:
        """The snapshot numbering starts again (a new show): anything goes next."""
        self.last = -1


class Stagger:
    """The pause each alternating box's next credit should carry (0 with one box)."""

    def __init__(self, settle_frames: int = 3) -> None:
        self.settle_frames = settle_frames  # frames a box makes after a pause before it may be asked again
        self._arrived: dict[str, float] = {}  # box -> when its last frame landed (s, monotonic)
        self._settling: dict[str, int] = {}  # box -> frames still to come before the next correction

    def arrived(self, box: str, t: float, others: list[str], frame_time: float) -> float:
        """A frame of `box` landed at `t` (s); `others`: the other boxes making frames now;
        `frame_time`: the box's time to make a frame (s, as it said). -> the pause (s) to put on
        its next credit: the shortfall to 1/N of a frame time after the nearest other box's frame."""
        self._arrived[box] = t
        settling = self._settling.get(box, 0)
        if settling > 0:
            self._settling[box] = settling - 1
            return 0.0
        landed = [self._arrived[o] for o in others if o in self._arrived]
        if frame_time <= 0 or not landed:
            return 0.0
        gap = t - max(landed)  # since the nearest other box's frame
        want = frame_time / (len(landed) + 1)
        if gap >= want * 0.8:  # near enough: leave it
            return 0.0
        self._settling[box] = self.settle_frames
        return min(MAX_PAUSE, want - gap)

    def forget(self, box: str) -> None:
        """A box lost: the others spread without it."""
        for d in (self._arrived, self._settling):
            d.pop(box, None)
