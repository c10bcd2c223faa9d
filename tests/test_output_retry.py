"""A lost stream is tried again with back-off, off the render thread, and said back once it runs."""

import time

from vj.output.base import Output
from vj.output.retry import FIRST, MOST, STEADY, Retries


class Stream(Output):
    """A stand-in for a stream output: reopen() makes a fresh one (or fails, as a server still
    down would refuse it)."""

    reopens = True

    def __init__(self, name="stream rtmp://mixer/live", fail=0):
        self.name, self.fail, self.closed, self.made = name, fail, False, 0

    def present(self, frame) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def reopen(self):
        self.made += 1
        if self.fail:
            self.fail -= 1
            raise ConnectionRefusedError("nobody listens")
        return Stream(self.name)


def settle(r: Retries, now: float) -> list:
    """due() at `now`, once its tries (each on a thread of its own) have finished."""
    ready = r.due(now)
    deadline = time.monotonic() + 5
    while any(t.thread is not None and t.thread.is_alive() for t in r.pending) and time.monotonic() < deadline:
        time.sleep(0.005)
    return ready + r.due(now)


def test_a_lost_stream_is_tried_again_later_and_later_then_said_back():
    r = Retries()
    s = Stream()
    assert r.lost(s, now=0.0) == FIRST
    assert r.due(now=FIRST - 0.1) == []  # not before its time
    fresh = settle(r, FIRST)
    assert len(fresh) == 1 and fresh[0] is not s and fresh[0].name == s.name
    assert r.lost(fresh[0], now=FIRST + 1.0) == 2 * FIRST  # failed at once: it waits twice as long
    settle(r, 3 * FIRST + 1.0)
    waits = [r.lost(Stream(), now=100.0 + k) for k in range(6)]  # still gone, again and again
    assert waits[-1] == MOST and waits == sorted(waits)
    r2 = Retries()
    r2.lost(s, now=0.0)
    fresh = settle(r2, FIRST)
    assert r2.back(now=FIRST + STEADY - 0.1) == []
    assert r2.back(now=FIRST + STEADY) == [s.name] and r2.back(now=FIRST + 2 * STEADY) == []  # said once
    assert r2.lost(fresh[0], now=100.0) == FIRST  # it had come back: the back-off starts again


def test_a_try_that_fails_is_scheduled_again_and_late_outputs_are_closed():
    r = Retries()
    s = Stream(fail=1)
    r.lost(s, now=0.0)
    assert settle(r, FIRST) == [] and s.made == 1  # refused: tried again later
    assert len(r.pending) == 1 and r.pending[0].due == FIRST + 2 * FIRST and "nobody listens" in r.pending[0].error
    r.due(now=10.0)  # the second try starts...
    late = r.pending[0]
    r.close()  # ...and the show ends before it is taken in
    assert s.made == 2 and r.pending == [] and late.fresh is not None and late.fresh.closed
