"""A rate meter: events per second over the last few dozen events (render fps, generator fps)."""

from __future__ import annotations

import collections
import time


class RateMeter:
    def __init__(self, window: int = 32, stale_after: float = 2.0) -> None:
        self._times: collections.deque[float] = collections.deque(maxlen=window)
        self.stale_after = stale_after  # seconds without an event: the rate reads 0

    def tick(self) -> None:
        self._times.append(time.perf_counter())

    def fps(self) -> float:
        ts = self._times
        if len(ts) < 2 or ts[-1] <= ts[0] or time.perf_counter() - ts[-1] > self.stale_after:
            return 0.0
        return (len(ts) - 1) / (ts[-1] - ts[0])
