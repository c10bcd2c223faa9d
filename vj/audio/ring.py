"""A preallocated single-producer / single-consumer ring of audio frames.

The writer is the sound card's callback: it only copies into the preallocated array and then
publishes the new write count with one integer assignment (atomic under the GIL): no
allocation, no lock, no printing. If the reader falls more than a ring behind, the oldest
audio is skipped (counted in `overruns`): latency never grows.
"""

from __future__ import annotations

import numpy as np


class AudioRing:
    def __init__(self, frames: int, channels: int) -> None:
        self.buf = np.zeros((frames, channels), np.float32)
        self.capacity = frames
        self.written = 0  # frames ever written (only the writer assigns it)
        self.read_pos = 0  # frames ever read (only the reader assigns it)
        self.overruns = 0

    def write(self, block: np.ndarray) -> None:
        """Real-time safe: called from the audio callback."""
        n = len(block)
        cap = self.capacity
        if n > cap:
            block = block[n - cap :]
            n = cap
        i = self.written % cap
        first = min(n, cap - i)
        self.buf[i : i + first] = block[:first]
        if n > first:
            self.buf[: n - first] = block[first:]
        self.written += n

    def available(self) -> int:
        return min(self.written - self.read_pos, self.capacity)

    def read(self, out: np.ndarray) -> None:
        """Copy the oldest len(out) unread frames into `out` (caller checks available() first)."""
        n = len(out)
        behind = self.written - self.read_pos
        if behind > self.capacity:
            self.overruns += 1
            self.read_pos = self.written - self.capacity
        cap = self.capacity
        i = self.read_pos % cap
        first = min(n, cap - i)
        out[:first] = self.buf[i : i + first]
        if n > first:
            out[first:] = self.buf[: n - first]
        self.read_pos += n
