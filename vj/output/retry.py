"""Outputs that can come back: a stream whose receiver went away (a mixer rebooting, a server
restarted) is tried again with back-off (supervisor.Backoff), 2 s, 4 s ... 30 s, for as long as
the show runs.

A fresh output is made on a thread of its own (starting ffmpeg is a fork and an exec: not on the
render thread); the engine takes it in at its next frame. A stream cannot know it reached its
receiver until frames flow, so one that has run STEADY seconds is called back (and its back-off
starts again from the first step); one that fails sooner waits twice as long next time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from vj.output.base import Output
from vj.supervisor import Backoff

FIRST = 2.0  # seconds before the first new try
MOST = 30.0  # the longest wait between tries
STEADY = 10.0  # running this long after a try: it is back


@dataclass
class _Try:
    name: str
    lost: Output
    due: float  # time.monotonic() of the try
    thread: threading.Thread | None = None
    fresh: Output | None = None
    error: str = ""


@dataclass
class Retries:
    waits: dict[str, Backoff] = field(default_factory=dict)  # name -> its back-off (while it is being tried)
    pending: list[_Try] = field(default_factory=list)
    trying: dict[str, float] = field(default_factory=dict)  # name -> when its fresh output went in

    def lost(self, out: Output, now: float | None = None) -> float:
        """Note a lost output that reopens; returns the seconds until it is tried again."""
        now = time.monotonic() if now is None else now
        started = self.trying.pop(out.name, None)
        if started is not None and now - started >= STEADY:
            self.waits.pop(out.name, None)  # it had come back: start the back-off again
        return self._schedule(out.name, out, now)

    def _schedule(self, name: str, lost: Output, now: float, error: str = "") -> float:
        """The next try after the current wait, which doubles for the one after (up to MOST)."""
        wait = self.waits.setdefault(name, Backoff(FIRST, MOST)).next()
        self.pending.append(_Try(name, lost, now + wait, error=error))
        return wait

    def due(self, now: float | None = None) -> list[Output]:
        """Fresh outputs ready to go in (call once a frame; never blocks). A try that could not
        even start is scheduled again."""
        now = time.monotonic() if now is None else now
        ready = []
        for t in list(self.pending):
            if t.thread is None:
                if now >= t.due:
                    t.thread = threading.Thread(target=self._open, args=(t,), name="vj-output-retry", daemon=True)
                    t.thread.start()
            elif not t.thread.is_alive():
                self.pending.remove(t)
                if t.fresh is not None:
                    self.trying[t.name] = now
                    ready.append(t.fresh)
                else:
                    self._schedule(t.name, t.lost, now, t.error)
        return ready

    def back(self, now: float | None = None) -> list[str]:
        """Names whose fresh output has now run STEADY seconds (said once)."""
        now = time.monotonic() if now is None else now
        names = [n for n, t0 in self.trying.items() if now - t0 >= STEADY]
        for n in names:
            del self.trying[n]
            self.waits.pop(n, None)
        return names

    @staticmethod
    def _open(t: _Try) -> None:
        try:
            t.fresh = t.lost.reopen()
        except Exception as e:  # the place is still not there: counted as a failed try
            t.error = f"{type(e).__name__}: {e}"

    def close(self) -> None:
        """At the end of the show: fresh outputs made too late are closed, never left running."""
        for t in self.pending:
            if t.thread is not None:
                t.thread.join(5.0)
            if t.fresh is not None:
                try:
                    t.fresh.close()
                except Exception:
                    pass
        self.pending.clear()
