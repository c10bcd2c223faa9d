"""A page as a script sees it: the remote's socket from Python (aiohttp's client, on a thread of its
own), for scripts, the tests and `vj bench web`. It keeps what the page would show: the parameter
table, each parameter's value, the show's state, the last frame's numbers, the preview frames.

    page = PageClient("http://127.0.0.1:8080/", token=None)
    page.wait(lambda p: p.state is not None)
    page.osc("/vj/param/feedback.amount", 0.7)
    page.close()
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Callable

from vj.web import protocol


class PageClient:
    def __init__(self, url: str, token: str | None = None, preview: bool = True, keep_previews: int = 64,
                 on_preview: Callable[[bytes, float], None] | None = None, timeout: float = 15.0) -> None:
        base = url.split("?")[0].rstrip("/")
        self.url = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/ws" + (
            f"?token={token}" if token else "")
        self.preview = preview
        self.specs: dict[str, dict] = {}
        self.values: dict[str, float] = {}
        self.live: dict[str, float] = {}
        self.state: dict | None = None
        self.frame: dict | None = None
        self.replies: list = []
        self.errors: list[str] = []
        self.previews: list[tuple[bytes, float]] = []  # (binary frame, time.time() when it came)
        self.received = 0  # messages of any kind
        self.keep_previews = keep_previews
        self.on_preview = on_preview  # (binary frame, perf_counter when it came), on the client's thread
        self.closed = threading.Event()
        self.close_code: int | None = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="vj-page-client", daemon=True)
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"{self.url}: no socket within {timeout:g} s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._talk())
        finally:
            self.closed.set()
            self._opened.set()
            self._loop.close()

    async def _talk(self) -> None:
        import aiohttp

        try:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(self.url, max_msg_size=0, autoping=True) as ws:
                    self._ws = ws
                    await ws.send_str(json.dumps({"preview": self.preview}))
                    self._opened.set()
                    async for msg in ws:
                        self._take(msg)
                    self.close_code = ws.close_code
        except BaseException as e:  # refused, reset: said by the constructor or seen as closed
            self._error = e

    def _take(self, msg) -> None:
        import aiohttp

        self.received += 1
        if msg.type == aiohttp.WSMsgType.BINARY:
            now = time.perf_counter()
            if self.on_preview is not None:
                self.on_preview(msg.data, now)
            with self._lock:
                self.previews.append((msg.data, time.time()))
                del self.previews[:-self.keep_previews]
            return
        if msg.type != aiohttp.WSMsgType.TEXT:
            return
        m = json.loads(msg.data)
        with self._lock:
            kind = m.get("type")
            if kind in ("hello", "params"):
                self.specs = {s["name"]: s for s in m["params"]}
                self.values.update(m.get("values", {}))
            elif kind == "state":
                self.state = m["state"]
            elif kind == "tick":
                self.values.update(m.get("values", {}))
                self.live.update(m.get("live", {}))
                self.frame = m.get("frame", self.frame)
            elif kind == "reply":
                self.replies.append(m["items"])
            elif kind == "error":
                self.errors.append(m["message"])

    # -- what a script does ------------------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        """Anything, as it is (the fuzz tests send what no page would)."""
        asyncio.run_coroutine_threadsafe(self._ws.send_str(text), self._loop).result(10)

    def send_many(self, texts: list[str]) -> None:
        """Texts back to back, as fast as the socket takes them (a flood)."""
        async def burst():
            for text in texts:
                await self._ws.send_str(text)
        asyncio.run_coroutine_threadsafe(burst(), self._loop).result(60)

    def send(self, obj: Any) -> None:
        self.send_text(json.dumps(obj))

    def osc(self, address: str, *args: Any) -> None:
        self.send({"osc": address, "args": list(args)})

    def wait(self, ok: Callable[["PageClient"], bool], timeout: float = 30.0, what: str = "it") -> None:
        """Until ok(self) (an event, not a time); AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if ok(self):
                    return
            if self.closed.is_set():
                raise AssertionError(f"the socket closed (code {self.close_code}) before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:g} s")
            time.sleep(0.01)

    def preview_frames(self) -> list[tuple[int, float, float, float, bytes]]:
        with self._lock:
            return [protocol.read_preview_frame(data) for data, _ in self.previews]

    def close(self) -> None:
        if self._ws is not None and not self.closed.is_set():
            try:
                asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(5)
            except Exception:
                pass
        self._thread.join(5)
