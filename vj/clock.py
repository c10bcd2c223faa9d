"""Clocks: time is injected, so a live show and an offline render run the same code.

- RealClock: seconds since start, from the monotonic clock (live shows).
- ManualClock: advanced by the caller (offline render and tests: frame-exact, deterministic).
- FramePacer: waits until the next frame deadline when nothing else (vsync) paces the loop.
"""

from __future__ import annotations

import time


class RealClock:
    live = True

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def reset(self) -> None:
        """Show time 0 is now (called when the show starts, after models have loaded)."""
        self._t0 = time.perf_counter()


class ManualClock:
    live = False

    def __init__(self, t: float = 0.0) -> None:
        self._t = float(t)

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        self._t = float(t)

    def advance(self, dt: float) -> None:
        self._t += float(dt)


class FramePacer:
    """Keeps a loop at `fps` against a real clock without drifting.

    The deadline advances by whole periods, so a slow frame is followed by an immediate one
    (catching up) and a frame later than a whole period skips ahead instead of bursting.
    This wait is the loop's only wait: it stands in for vsync when no display paces us.
    """

    def __init__(self, fps: float, clock: RealClock) -> None:
        self.period = 1.0 / float(fps)
        self.clock = clock
        self._next = clock.now() + self.period

    def wait(self) -> None:
        now = self.clock.now()
        delay = self._next - now
        if delay > 0:
            time.sleep(delay)
            self._next += self.period
        elif -delay > self.period:  # fell behind by more than a frame: resync, don't burst
            self._next = now + self.period
        else:
            self._next += self.period
