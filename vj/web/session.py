"""One page's socket: what it sends is checked and routed as OSC is, and it is sent what changed.

Reading: each message is held to the protocol's limits (protocol.py), then to a budget of messages
and bytes a second (a page gone wild, or a hostile one, is cut to the budget; the rest is dropped
and counted), then routed by the same router as OSC, with "web" as its origin: the same checks, a
move by hand (held against the routes, in the show log, kept for --resume).

Writing: the server's ticker reads the show once a tick (Now) and wakes every page; each page sends
what changed since what *it* was last sent, so a page on a slow phone skips ticks instead of
queueing them, and the preview is the newest picture or none. Nothing waits for a page but its own
task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from vj.log import Throttled
from vj.web import protocol
from vj.web.protocol import Osc, Ping, Preview, ProtocolError, short

FRAME_EVERY = 1.0 / 30  # seconds between a page's clock, meters and modulated values
ERROR_EVERY = 1.0  # seconds between error replies to one page
MESSAGES_A_SECOND = 2000  # a page's budget (a fader dragged sends about 60)
BYTES_A_SECOND = 1 << 20


@dataclass
class Now:
    """The show as the server's ticker read it last, shared by every page (the ticker and the pages'
    tasks run on the one loop thread: it changes between the pages' wake-ups, never during one)."""

    specs: list[dict] = field(default_factory=list)  # protocol.spec_json of every parameter
    specs_version: int = 0
    values: dict[str, float] = field(default_factory=dict)  # what a hand last asked of each parameter
    live: dict[str, float] = field(default_factory=dict)  # each one's value in the last snapshot
    frame: dict[str, Any] | None = None  # view.FRAME's fields, for the clock and meters
    spectrum: list[float] = field(default_factory=list)
    state: str | None = None  # the show's state, its JSON as the show wrote it
    state_version: int = 0
    jpeg: bytes | None = None  # the newest preview frame (protocol.preview_frame)
    jpeg_version: int = 0


class Budget:
    """A token bucket: `rate` a second, up to `rate` at once."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.level, self._clock = rate, rate, clock
        self._last = clock()

    def take(self, n: float = 1.0) -> bool:
        now = self._clock()
        self.level = min(self.rate, self.level + (now - self._last) * self.rate)
        self._last = now
        if self.level < n:
            return False
        self.level -= n
        return True


class Page:
    def __init__(self, ws, peer: str, route: Callable, counters, said: dict[str, Throttled]) -> None:
        self.ws = ws
        self.peer = peer  # "host:port", for the lines said
        self.route = route  # OscRouter.handle
        self.counters = counters
        self.said = said  # the server's: one line per kind of fault per 5 s, for every page together
        self.wants_preview = True
        self.woken = asyncio.Event()
        self._messages = Budget(MESSAGES_A_SECOND)
        self._bytes = Budget(BYTES_A_SECOND)
        self._next_error = 0.0
        self._sent_values: dict[str, float] = {}
        self._sent_live: dict[str, float] = {}
        self._specs_version = -1
        self._state_version = -1
        self._jpeg_version = 0
        self._next_frame = 0.0

    # -- reading ------------------------------------------------------------------------------------------
    def take(self, text: str) -> str | None:
        """One text message from the page; returns a reply for it, if any."""
        if not self._messages.take() or not self._bytes.take(len(text)):
            self.counters.add("web_flood")
            self._say("flood", f"web: {self.peer} sends more than {MESSAGES_A_SECOND} messages or "
                               f"{BYTES_A_SECOND >> 10} KB a second; the rest is dropped")
            return None
        try:
            msg = protocol.parse(text)
        except ProtocolError as e:
            self.counters.add(f"web_{e.kind}")
            self._say(e.kind, f"web: a message from {self.peer} dropped: {e}")
            return self._error(str(e))
        if isinstance(msg, Osc):
            self.counters.add("web_messages")
            replies = self.route(msg.address, list(msg.args), "web", _sender(self.peer))
            return protocol.encode("reply", items=replies) if replies else None
        if isinstance(msg, Preview):
            self.wants_preview = msg.on
            return None
        if isinstance(msg, Ping):
            return protocol.encode("pong", id=msg.id, t=time.time())
        return None

    def refused(self, kind: str, why: str) -> None:
        """A message the socket itself refused (binary, too big)."""
        self.counters.add(f"web_{kind}")
        self._say(kind, f"web: a message from {self.peer} dropped: {why}")

    def _say(self, kind: str, line: str) -> None:
        self.said.setdefault(kind, Throttled(5.0))(logging.WARNING, line)

    def _error(self, message: str) -> str | None:
        now = time.monotonic()
        if now < self._next_error:
            return None
        self._next_error = now + ERROR_EVERY
        return protocol.encode("error", message=message)

    # -- writing --------------------------------------------------------------------------------------------
    def due(self, now: Now, hello: bool = False) -> list[str | bytes]:
        """The messages that bring this page up to `now` (everything, the first time)."""
        out: list[str | bytes] = []
        if hello:
            out.append(protocol.encode("hello", protocol=protocol.VERSION, params=now.specs, values=now.values))
            self._specs_version, self._sent_values = now.specs_version, dict(now.values)
        if now.specs_version != self._specs_version:
            out.append(protocol.encode("params", params=now.specs))
            self._specs_version = now.specs_version
        if now.state is not None and now.state_version != self._state_version:
            out.append(f'{{"type":"state","state":{now.state}}}')
            self._state_version = now.state_version
        tick = self._tick(now)
        if tick:
            out.append(protocol.encode("tick", **tick))
        if self.wants_preview and now.jpeg is not None and now.jpeg_version != self._jpeg_version:
            out.append(now.jpeg)
            self._jpeg_version = now.jpeg_version
        return out

    def _tick(self, now: Now) -> dict[str, Any]:
        tick: dict[str, Any] = {}
        sent = self._sent_values
        moved = {n: v for n, v in now.values.items() if sent.get(n) != v}
        if moved:
            sent.update(moved)
            tick["values"] = {n: short(v) for n, v in moved.items()}
        t = time.monotonic()
        if now.frame is not None and t >= self._next_frame:
            self._next_frame = t + FRAME_EVERY
            tick["frame"] = now.frame
            tick["spectrum"] = now.spectrum
            live = {n: v for n, v in now.live.items() if self._sent_live.get(n) != v}
            if live:
                self._sent_live.update(live)
                tick["live"] = live
        return tick

    async def write_forever(self, now: Callable[[], Now]) -> None:
        """Wake, send what is due, sleep; until the socket closes."""
        first = True
        while not self.ws.closed:
            for msg in self.due(now(), hello=first):
                if isinstance(msg, bytes):
                    await self.ws.send_bytes(msg)
                else:
                    await self.ws.send_str(msg)
            first = False
            await self.woken.wait()
            self.woken.clear()


def _sender(peer: str) -> tuple[str, int] | None:
    host, _, port = peer.rpartition(":")
    return (host, int(port)) if port.isdigit() else None


def frame_fields(frame: dict[str, float]) -> dict[str, Any]:
    """view.FRAME's fields as the page reads them."""
    return {"index": int(frame["index"]), "t": short(frame["t"]), "bpm": short(frame["bpm"]),
            "beat": short(frame["beat"]), "quantum": int(frame["quantum"]) or 4, "level": short(frame["level"]),
            "bass": short(frame["bass"]), "mid": short(frame["mid"]), "high": short(frame["high"]),
            "onset": frame["onset"] > 0, "fps": round(frame["render_fps"], 1), "wall": frame["wall"]}


def spectrum_list(spectrum: np.ndarray) -> list[float]:
    return [round(float(x), 3) for x in np.clip(spectrum, 0.0, 1.0)]
