"""Bad messages from the network, counted by kind and said in one line per kind (rate-limited):
a flood of garbage is a few lines in the log and a number, never a crash or a stalled socket."""

from __future__ import annotations

import logging

from vj.log import Throttled

KINDS_SAID_APART = 32  # kinds with a line of their own; beyond, they share one


class Strikes:
    def __init__(self, who: str, interval: float = 5.0) -> None:
        self.who = who  # "vj serve" or "generator HOST:PORT": the start of each line
        self.interval = interval
        self.counts: dict[str, int] = {}
        self._said: dict[str, Throttled] = {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, kind: str, detail: str, sender: str = "") -> None:
        """One more of `kind`: counted, and said unless the same kind was said in the last interval."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        key = kind if kind in self._said or len(self._said) < KINDS_SAID_APART else "*"
        say = self._said.setdefault(key, Throttled(self.interval))
        where = f" from {sender}" if sender else ""
        say(logging.WARNING, f"{self.who}: dropped a bad message{where} ({kind}: {detail}); the rest is served")
