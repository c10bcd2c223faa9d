"""Ableton Link (--link, or [tempo] link = true): the show joins the session on the local network
and follows its tempo and phase; a tempo set on the show is proposed to it.

Through the PyPI package `aalink` (its wheel carries Link). aalink is GPL-3.0-or-later while
démontage is MIT: it is an optional extra (`pip install 'demontage[link]'`), imported only here and
only when Link is asked for. Link wants an asyncio loop for its callbacks: it gets one on a thread
of its own; the show only reads Link's state (tempo, beat at the quantum, peers), which Link
captures thread-safely, and never waits on it.
"""

from __future__ import annotations

import asyncio
import threading

from vj.core.errors import DeviceError
from vj.log import log


class LinkSession:
    def __init__(self, bpm: float = 120.0, quantum: int = 4) -> None:
        try:
            import aalink
        except ImportError:
            raise DeviceError("--link needs the optional package aalink (GPL-3.0-or-later): "
                              "pip install 'demontage[link]'") from None
        self.quantum = quantum
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vj-link", daemon=True)
        self._thread.start()

        async def make():
            link = aalink.Link(float(bpm))
            link.quantum = float(quantum)
            link.enabled = True
            return link

        self.link = asyncio.run_coroutine_threadsafe(make(), self._loop).result(10)
        log.info(f"Link: joined the session (quantum {quantum}); it drives the show while it has other peers")

    def reading(self) -> tuple[float, float, int] | None:
        """(beat at the quantum, tempo, other peers), read now."""
        link = self.link
        return float(link.beat), float(link.tempo), int(link.num_peers)

    def peers(self) -> int:
        return int(self.link.num_peers)

    def propose(self, bpm: float) -> None:
        """A tempo set on the show: the whole session takes it."""
        self.link.tempo = float(bpm)
        log.info(f"Link: proposed {bpm:.1f} BPM to the session")

    def close(self) -> None:
        try:
            self.link.enabled = False
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(2.0)
