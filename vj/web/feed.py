"""The show's side of the remote: what the render thread hands the web server, through the view
(view.py), never waiting for it.

WebFeed is an output (each program frame: the preview, the overlay's lines and warnings) and a
per-frame hook (each snapshot: clock, meters, spectrum, the parameters' modulated values). On the
render thread, per frame: a few dozen stores into shared memory; a few times a second: the state's
JSON (a few kilobytes) and, while a page wants it, a picture for the preview, handed over as it
is into a latest-value mailbox. The picture is one an output has read back already this frame
(a recording, a stream), or else a small copy drawn on the GPU and read back through a pixel buffer,
collected at the next frame (render/thumbnail.py); a thread of the feed's own scales it and writes
it into the view, and the server makes the JPEG.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from vj.log import log
from vj.mailbox import Mailbox
from vj.meter import RateMeter
from vj.output.base import Output, ProgramFrame
from vj.show.graph import describe
from vj.web.view import PREVIEW_MAX, ViewStore

STATE_EVERY = 0.25  # seconds between writes of the state when nothing in it changed but the lines


@dataclass(frozen=True)
class Picture:
    """A program frame's pixels on their way to the preview."""

    pixels: bytes  # RGBA, 4 bytes a pixel
    size: tuple[int, int]  # (w, h)
    top_first: bool  # rows top first (a thumbnail) or bottom first (GL's order, a full read-back)
    index: int
    t: float
    wall: float  # time.time() when its frame was presented (its read-back was asked for)
    mono: float  # time.perf_counter() then (one clock for every process of this machine)


def preview_size(size: tuple[int, int], width: int) -> tuple[int, int]:
    """The preview's (w, h): `width` wide at most (and no wider than the program), its aspect kept."""
    w, h = size
    pw = max(16, min(width, w, PREVIEW_MAX[0]))
    ph = max(2, min(PREVIEW_MAX[1], round(pw * h / w)))
    return pw, ph


class WebFeed(Output):
    name = "web"

    def __init__(self, controls, show_name: str, preview_fps: float, preview_width: int,
                 view: ViewStore | None = None) -> None:
        self.controls = controls
        self.show_name = show_name
        self.view = view or ViewStore()
        self.preview_every = 1.0 / preview_fps if preview_fps > 0 else math.inf
        self.preview_width = preview_width
        self._overlay = None  # the engine's overlay_info, from the last frame
        self._next_preview = 0.0
        self._next_state = 0.0
        self._state_key = None
        self._names: tuple[str, ...] = ()
        self._names_version = 0
        self._graph = (None, None)  # (the graph's spec, its JSON): a hot edit brings a new spec
        self._rate = RateMeter()
        self._thumb = None
        self._asked: Picture | None = None  # a small copy on its way back from the GPU (its pixels to come)
        self.previews = 0  # pictures handed over
        self.from_outputs = 0  # of which an output had read back already
        self._box: Mailbox[Picture] = Mailbox()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scale_pictures, name="vj-web-preview", daemon=True)
        self._thread.start()

    # -- render thread --------------------------------------------------------------------------------------
    def present(self, frame: ProgramFrame) -> None:
        self._overlay = frame.overlay
        if self._asked is not None:  # the small copy asked for on an earlier frame: read back by now
            pic, self._asked = self._asked, None
            self._hand_over(dataclasses.replace(pic, pixels=self._thumb.collect()))
        now = time.perf_counter()
        if now < self._next_preview or not self.view.preview_wanted():
            return
        self._next_preview = max(now, self._next_preview + self.preview_every)  # no catching up after a pause
        stamp = (frame.index, frame.t, time.time(), now)
        if frame.read_back:  # a recording or a stream read it: hand those bytes over as they are
            self.from_outputs += 1
            self._hand_over(Picture(frame.rgba(), frame.size, False, *stamp))
            return
        if self._thumb is None:
            from vj.render.thumbnail import Thumbnail

            self._thumb = Thumbnail(frame.compositor.ctx)
        size = preview_size(frame.size, self.preview_width)
        self._thumb.request(frame.texture, frame.size, size)  # collected at the next frame
        self._asked = Picture(b"", size, True, *stamp)

    def _hand_over(self, pic: Picture) -> None:
        self._box.put(pic)
        self.previews += 1

    def frame(self, snap) -> None:
        """The engine's per-frame hook, after the outputs: the numbers of this frame, and the state
        when it changed (or a few times a second)."""
        self._rate.tick()
        c, clock, a = self.controls, snap.clock, snap.audio
        now = time.perf_counter()
        key = (c.scene, c.graph.pending if c.graph is not None else None, tuple(c.prompts), len(c.templates), c.seed,
               clock.source, clock.note)
        if key != self._state_key or now >= self._next_state:
            self._write_state(snap, key, now)
        values = snap.values
        live = np.fromiter((values.get(n, 0.0) for n in self._names), np.float64, len(self._names))
        self.view.write_frame({"index": snap.index, "t": snap.t, "bpm": clock.bpm, "beat": clock.beat,
                               "quantum": clock.quantum, "level": a.level, "bass": a.bass, "mid": a.mid,
                               "high": a.high, "onset": 1.0 if a.onset else 0.0, "render_fps": self._rate.fps(),
                               "names_version": self._names_version, "wall": time.time()}, live, a.spectrum)

    def _write_state(self, snap, key, now: float) -> None:
        names = tuple(self.controls.params.names())
        if names != self._names:
            self._names, self._names_version = names, self._names_version + 1
        self._state_key, self._next_state = key, now + STATE_EVERY
        payload = json.dumps(self.state(snap), separators=(",", ":"), ensure_ascii=False).encode()
        if not self.view.write_state(payload):
            log.warning(f"web: the show's state ({len(payload)} bytes) does not fit the view; the pages keep the last")

    def state(self, snap) -> dict:
        """What the pages show besides the numbers (JSON)."""
        c, clock = self.controls, snap.clock
        info = self._overlay() if self._overlay is not None else None
        pending = c.graph.pending if c.graph is not None else None
        return {"show": self.show_name, "scene": c.scene, "scenes": c.scene_names(),
                "pending": {"scene": pending[0], "lands": pending[1], "why": pending[2]} if pending else None,
                "graph": self._graph_json(), "seed": c.seed,
                "prompts": [{"slot": i, "template": t.text, "text": text, "fixed": t.fixed,
                             "weight": f"prompt.{i}.weight"}
                            for i, (t, text) in enumerate(zip(c.templates, c.prompts), 1)],
                "clock": {"source": clock.source, "says": clock.describe(), "quantum": clock.quantum,
                          "peers": clock.peers, "note": clock.note},
                "lines": list(info.lines) if info else [], "warnings": list(info.warnings) if info else [],
                "names": list(self._names), "names_version": self._names_version}

    def _graph_json(self) -> dict | None:
        g = self.controls.graph
        if g is None:
            return None
        if self._graph[0] is not g.spec:
            s = g.spec
            self._graph = (s, {"start": s.start or g.scenes[0], "quantize": s.quantize, "drift": s.drift,
                               "edges": [{"from": e.source, "to": e.target, "when": describe(e),
                                          "lands": e.quantize or s.quantize} for e in s.edges]})
        return self._graph[1]

    def status(self) -> str:
        pages = self.view.pages()
        return f"web {pages} page{'s' if pages != 1 else ''}" if pages else ""

    # -- the feed's thread ----------------------------------------------------------------------------------
    def _scale_pictures(self) -> None:
        """Pictures from the mailbox, scaled to the preview's size, into the view."""
        while not self._stop.is_set():
            pic = self._box.wait(0.25)
            if pic is None:
                continue
            try:
                self.view.write_preview(self._scaled(pic), pic.index, pic.t, pic.wall, pic.mono)
            except Exception as e:  # the preview is not the show: said, and the next picture tried
                log.warning(f"web: a preview picture failed ({type(e).__name__}: {e})")

    def _scaled(self, pic: Picture) -> np.ndarray:
        w, h = pic.size
        img = np.frombuffer(pic.pixels, np.uint8).reshape(h, w, 4)
        if not pic.top_first:
            img = img[::-1]
        pw, ph = preview_size(pic.size, self.preview_width)
        if (pw, ph) != (w, h):  # nearest pixels: a preview, not a picture to keep
            img = img[(np.arange(ph) * h // ph)[:, None], (np.arange(pw) * w // pw)[None, :]]
        return np.ascontiguousarray(img[..., :3])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        if self._thumb is not None:
            self._thumb.close()
            self._thumb = None
        self.view.close()
