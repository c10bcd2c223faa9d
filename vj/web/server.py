"""The remote's web server: aiohttp on an asyncio loop of its own thread, in the control process.

Why there: the control process already parses and checks every hand's move (OSC, MIDI) and writes
it into the shared parameter store that the next snapshot reads; a page's move takes the very same
path (its router, its store, "web" as the source), and the server reads the show back from that store
(what a hand asked of each parameter, whoever moved it: MIDI, OSC, a scene) and from the view the
show writes (view.py: the clock, meters, scene, graph, prompts, warnings, the preview). The render
thread never waits on it; a page that stalls stalls only its own task. Its thread runs at the normal
priority (the control process's OSC and MIDI threads keep their higher one).

    GET /            the page (static files in static/, served from memory; no CDN, no build step)
    GET /static/...  its script and style
    GET /ws          the socket (protocol.py)

Beyond loopback every request needs the token (access.py); the page's address carries it and the
server hands it back as a cookie, so the page's files and socket carry it too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vj.core.errors import VJError
from vj.log import Throttled, log
from vj.web import access, protocol
from vj.web.session import Now, Page, frame_fields, spectrum_list
from vj.web.view import ViewStore

TICK = 1.0 / 60  # seconds between reads of the show (a move made elsewhere reaches the pages within one)
MAX_PAGES = 16
HEARTBEAT = 10.0  # seconds between pings: a page (a phone gone to sleep) that leaves one unanswered 5 s is let go
JPEG_QUALITY = 70
STALE = 1.0  # seconds: an older preview picture (made while the last page was leaving) is not sent
STATIC = Path(__file__).resolve().parent / "static"
FILES = {"/": ("index.html", "text/html"), "/static/app.js": ("app.js", "text/javascript"),
         "/static/graph.js": ("graph.js", "text/javascript"), "/static/style.css": ("style.css", "text/css")}
POLICY = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; "
          "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class WebConfig:
    """What the control process is told to serve (crosses the pipe)."""

    host: str
    port: int  # 0: any free one (the one taken comes back in ControlReady.web)
    token: str | None  # None: loopback only, no token
    view: str  # the view's shared memory (view.py), written by the show


class WebServer:
    def __init__(self, cfg: WebConfig, controls, route: Callable) -> None:
        """`controls`: the control process's ControlSink (its params are the store's); `route`:
        an OscRouter's handle, for the pages' messages."""
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            raise VJError("--web needs aiohttp: pip install 'demontage[web]'") from None
        self.cfg = cfg
        self.controls = controls
        self.counters = controls.counters
        self.route = route
        self.view = ViewStore(cfg.view)
        self.address: tuple[str, int] | None = None
        self.pages: set[Page] = set()
        self.now = Now()
        self.said: dict[str, Throttled] = {}
        self._files = {path: ((STATIC / name).read_bytes(), kind) for path, (name, kind) in FILES.items()}
        self._names: tuple[list[str], int] = ([], -1)  # the state's parameter names and their version
        self._jpeg = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="vj-web-jpeg")  # its thread inherits
        self._encoding = False
        self._seen_preview = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    # -- the thread -------------------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._run, name="vj-web", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise VJError("web: the server did not start")
        if self._error:
            raise VJError(self._error)

    def _run(self) -> None:
        _normal_priority()
        self._loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            runner = loop.run_until_complete(self._open())
        except OSError as e:
            self._error = (f"web: can't listen on {self.cfg.host}:{self.cfg.port} ({e.strerror or e}); choose another "
                           f"with --web [HOST:]PORT")
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.run_until_complete(self._close_pages())
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _open(self):
        from aiohttp import web

        @web.middleware
        async def guard(request, handler):
            return await self._guard(request, handler)

        app = web.Application(middlewares=[guard], client_max_size=protocol.MAX_MESSAGE)
        app.router.add_get("/ws", self._socket)
        for path in self._files:
            app.router.add_get(path, self._file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.cfg.host, self.cfg.port, shutdown_timeout=1.0)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.address = tuple(runner.addresses[0][:2])  # the port taken, when 0 asked for any
        self._stopping = asyncio.Event()
        return runner

    async def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                self._read_show()
            except Exception as e:  # a bug here must not end the server: said (throttled), the next tick tried
                self.counters.add("web_errors")
                self.said.setdefault("tick", Throttled(5.0))(logging.ERROR, f"web: reading the show failed: "
                                                                              f"{type(e).__name__}: {e}")
            for page in self.pages:
                page.woken.set()
            try:
                await asyncio.wait_for(self._stopping.wait(), TICK)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(5.0)
        self._jpeg.shutdown(wait=False)
        self.view.close()

    # -- reading the show, once a tick ----------------------------------------------------------------------------
    def _read_show(self) -> None:
        now, params = self.now, self.controls.params
        names = params.names()
        if len(names) != len(now.specs):  # a parameter declared live (a prompt slot added)
            now.specs = [protocol.spec_json(params.spec(n)) for n in names]
            now.specs_version += 1
        try:
            now.values = dict(params.values())
        except RuntimeError:  # declared while read (another thread): the next tick reads it
            pass
        if self.view.state_version() != now.state_version:
            self._read_state()
        got = self.view.read_frame(len(self._names[0]))
        if got is not None:
            frame, live, spectrum = got
            if int(frame["names_version"]) == self._names[1]:
                now.live = {n: protocol.short(v) for n, v in zip(self._names[0], live.tolist())}
            if frame["wall"] > 0:
                now.frame = frame_fields(frame)
                now.spectrum = spectrum_list(spectrum)
        wanted = any(p.wants_preview for p in self.pages)
        self.view.set_server(len(self.pages), wanted)
        if not wanted:
            now.jpeg = None  # the show stops making pictures: a page that comes later waits for a fresh one
        if wanted and not self._encoding and self.view.preview_version() != self._seen_preview:
            self._encoding = True
            self._seen_preview = self.view.preview_version()
            self._jpeg.submit(self._encode).add_done_callback(self._hand_back)

    def _read_state(self) -> None:
        version = self.view.state_version()
        text = self.view.read_state()
        if text is None:
            return
        try:
            state = json.loads(text)
        except ValueError:
            return
        self._names = (list(state.get("names", [])), int(state.get("names_version", -1)))
        self.now.state, self.now.state_version = text.decode(), version

    def _encode(self) -> bytes | None:
        """The newest preview picture as a JPEG frame (a thread of its own: Pillow lets go of the GIL)."""
        from PIL import Image

        got = self.view.read_preview()
        if got is None:
            return None
        rgb, meta = got
        if time.perf_counter() - meta["mono"] > STALE:  # one clock for every process of the machine
            return None
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=JPEG_QUALITY)
        return protocol.preview_frame(buf.getvalue(), int(meta["index"]), meta["t"], meta["wall"], meta["mono"])

    def _hand_back(self, future) -> None:
        """The encoder's thread: the frame goes back to the loop (unless the server has stopped)."""
        try:
            self._loop.call_soon_threadsafe(self._encoded, future)
        except RuntimeError:  # the loop is closed
            pass

    def _encoded(self, future) -> None:
        self._encoding = False
        try:
            jpeg = future.result()
        except Exception as e:
            self.said.setdefault("jpeg", Throttled(5.0))(logging.WARNING, f"web: a preview frame failed: {e}")
            return
        if jpeg is not None and any(p.wants_preview for p in self.pages):  # not one for pages long gone
            self.now.jpeg, self.now.jpeg_version = jpeg, self.now.jpeg_version + 1

    # -- requests ---------------------------------------------------------------------------------------------
    async def _guard(self, request, handler):
        """Host and token before anything is served; the token back as a cookie; a strict policy."""
        from aiohttp import web

        token = self.cfg.token
        if not access.host_ok(request.host, self.cfg.host, token):
            return self._refuse(request, 421, "this page answers to a loopback name only (127.0.0.1, localhost)")
        given = request.query.get("token") or request.cookies.get(access.COOKIE) or _bearer(request.headers)
        if not access.token_ok(given, token):
            return self._refuse(request, 401, "this show's remote needs its token: open the address printed when the "
                                              "show started (.../?token=...)")
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        except Exception as e:  # a bug: counted and said (throttled), the server goes on
            self.counters.add("web_errors")
            self.said.setdefault("error", Throttled(5.0))(logging.ERROR, f"web: {request.path} failed: "
                                                                           f"{type(e).__name__}: {e} (a bug: please report it)")
            return web.Response(status=500, text="démontage: the remote failed on that request (the show goes on)\n")
        if isinstance(response, web.StreamResponse) and not response.prepared:
            if token is not None and request.query.get("token"):
                response.set_cookie(access.COOKIE, token, httponly=True, samesite="Strict", path="/")
            response.headers.update({"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
                                     "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
        return response

    def _refuse(self, request, status: int, why: str):
        from aiohttp import web

        self.counters.add("web_refused")
        self.said.setdefault(f"refused{status}", Throttled(5.0))(
            logging.WARNING, f"web: a request from {request.remote} refused: {why.split(':')[0]}")
        return web.Response(status=status, text=f"démontage: {why}\n")

    async def _file(self, request):
        from aiohttp import web

        body, kind = self._files[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8" if kind.startswith("text") else None)

    async def _socket(self, request):
        from aiohttp import WSMsgType, web

        if not access.origin_ok(request.headers.get("Origin"), request.host):
            return self._refuse(request, 403, "a socket opened from another site's page")
        if len(self.pages) >= MAX_PAGES:
            return self._refuse(request, 503, f"{MAX_PAGES} pages are open already")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=protocol.MAX_MESSAGE, compress=False)
        await ws.prepare(request)
        page = Page(ws, f"{request.remote}:{_port(request)}", self.route, self.counters, self.said)
        self.pages.add(page)
        self.counters.add("web_pages_opened")
        self._read_show()  # its first message has the show as it is now, not as the last tick read it
        log.info(f"web: a page opened from {request.remote} ({len(self.pages)} open)")
        writer = asyncio.ensure_future(self._write(page))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = page.take(msg.data)
                    if reply is not None:
                        await ws.send_str(reply)
                elif msg.type == WSMsgType.BINARY:
                    page.refused("malformed", "binary (the socket takes JSON text)")
                elif msg.type == WSMsgType.ERROR:
                    page.refused("too_big" if "size" in str(msg.data).lower() else "malformed",
                                 f"{msg.data} (the socket is closed; the page opens it again)")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.pages.discard(page)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            log.info(f"web: a page from {request.remote} closed ({len(self.pages)} open)")
        return ws

    async def _write(self, page: Page) -> None:
        try:
            await page.write_forever(lambda: self.now)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as e:  # a bug: this page is let go (it opens its socket again), the others go on
            self.counters.add("web_errors")
            self.said.setdefault("writer", Throttled(5.0))(logging.ERROR, f"web: sending to a page failed: "
                                                                            f"{type(e).__name__}: {e} (a bug: please report it)")
            await page.ws.close()

    async def _close_pages(self) -> None:
        from aiohttp import WSCloseCode

        for page in list(self.pages):
            await page.ws.close(code=WSCloseCode.GOING_AWAY, message=b"the show ended")


def _bearer(headers) -> str | None:
    auth = headers.get("Authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _port(request) -> int:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return int(peer[1]) if peer else 0


def _normal_priority() -> None:
    """The server's thread (and the JPEG encoder's, started from it) at the normal priority: the
    control process asks a higher one for OSC and MIDI, which a page flooding its budget must not
    borrow against the render loop. (Measured: a page's move reaches the snapshot no sooner at the
    higher one, BENCHMARKS.md.)"""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 0)
    except (AttributeError, OSError):
        pass
