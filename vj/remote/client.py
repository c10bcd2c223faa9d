"""The show's side of a remote generator: core.protocols.FrameGenerator over the network.

    render thread                          network thread (one per generator)
    submit(snapshot) -> newest in a box -> encoded once, sent whole on each box's next connection
                        + a wake-up        credits kept out (1-2 per box), pings, hellos, back-off
    latest()  <------- newest frame ------ decoded (JPEG or raw), in snapshot order (alternate.InOrder)

Neither side waits for the other: the render thread only puts and takes latest values; the
network thread owns every socket. A box that goes quiet is said lost once (the show keeps its last
good frame) and taken up again when it answers, by itself; a restarted `vj serve` (same key) needs
nothing done here. With two or more boxes they alternate frames (alternate.Stagger).
"""

from __future__ import annotations

import collections
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vj.core.errors import VJError
from vj.core.protocols import GenFrame, LinkFigures
from vj.core.snapshot import Snapshot
from vj.log import Throttled, log
from vj.mailbox import Mailbox
from vj.meter import RateMeter
from vj.remote import wire
from vj.remote.alternate import InOrder, Stagger
from vj.remote.link import CONNECTIONS, BoxLink
from vj.remote.strikes import Strikes

START_WAIT = 15.0  # s a show waits at its start for a box's welcome; then it starts and takes the box up later
STALL = 0.25  # s without a new frame (and over twice the usual gap) while snapshots go up: a stall (counted, said)
TICK = 0.01  # s: the network thread's longest sleep (pings, credits, hellos are timed by it)
INPUT_QUALITY = 85  # JPEG quality of the camera/video images sent up
INPUTS_KEPT = 8  # images sent up kept here for the preview's feed (the frame names the one it was made from)
FIGURES_EVERY = 30.0  # s between the link's figures in the show log
# s: the longest the render thread waits in submit() for the network thread to send the snapshot.
# Why: the two share the GIL, and right after submit() the render thread holds it in the compositor's
# and outputs' C calls (OpenGL: 5-14 ms at a time on llvmpipe, measured). Left to wait for it, a
# snapshot went out 10-15 ms late and its frame missed the render frame it could have made (+28 ms
# at p50 on loopback). Waiting here hands the GIL over for the send itself (0.2-0.5 ms on loopback);
# it is bounded, and skipped while no box plays.
HANDOFF = 0.003


@dataclass(frozen=True)
class Figures:
    """What the network thread measured (for the status line, OSC out and `vj bench remote`)."""

    frames: int  # frames shown-worthy (admitted in order)
    stale: int  # frames dropped for coming after a newer one
    stalls: int  # gaps over STALL while the box was there
    longest_stall_ms: float
    bytes_per_frame: float
    decode_ms_per_frame: float  # this machine's CPU per frame, decoding
    round_trip_ms: float | None
    frame_age_ms: float | None  # snapshot submitted -> its frame decoded here, median of recent frames
    late_credits: int
    boxes: tuple[tuple[str, str, int], ...] = ()  # (HOST:PORT, its state, frames it made), each box
    codec: str = ""  # how the frames come: jpeg | raw (as the boxes said in their welcome)


class _Network:
    """Everything that touches a socket, on one thread."""

    def __init__(self, boxes: Sequence[str], keys: Sequence[bytes], settings: wire.Settings, codec: str,
                 input_source: str | None, journal, connections: int) -> None:
        import zmq

        self.zmq = zmq
        self.ctx = zmq.Context()
        self.session = secrets.token_hex(8)
        hello = wire.hello(self.session, settings, codec, wire.this_machine())
        self.links = [BoxLink(self.ctx, b, k, self.session, hello, journal, connections) for b, k in zip(boxes, keys)]
        self.journal = journal
        self.input_source = input_source
        self.snaps: Mailbox[Snapshot] = Mailbox()
        self.sent = threading.Event()  # the newest snapshot is on its way (submit's hand-off)
        self.out: Mailbox[GenFrame] = Mailbox()
        self.wake_address = f"inproc://vj-remote-wake-{self.session}"
        self.wake = self.ctx.socket(zmq.PAIR)
        self.wake.rcvhwm = 2
        self.wake.bind(self.wake_address)
        self.stop = threading.Event()
        self.clock_offset = 0.0  # perf_counter() - snapshot.t, for frame ages
        self.want_input = True
        self.strikes = Strikes(f"generator {', '.join(boxes)}")
        self.order, self.stagger = InOrder(), Stagger()
        self._decoder = wire.Decoder()
        self._encoder = wire.SnapEncoder()
        self._seq = 0
        self._feed = None  # the camera or video whose images go up (opened at the first welcome)
        self._feed_serial = -1
        self._sent_inputs: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self._ages: collections.deque[float] = collections.deque(maxlen=64)
        self._gaps: collections.deque[float] = collections.deque(maxlen=32)  # s between frames admitted
        self._decode_s = 0.0
        self._last_frame = 0.0  # monotonic time of the last frame admitted
        self.last_submit = 0.0  # monotonic time of the last snapshot submitted (the render thread's)
        self.stalls, self.longest_stall = 0, 0.0
        self.admitted = 0  # frames in order, handed on
        self.superseded = 0  # frames in order but overtaken in the same round by a newer one (not decoded)
        self._decoded = 0
        self._said_stall = Throttled(10.0)
        self._next_figures = time.monotonic() + FIGURES_EVERY
        self._sockets: dict = {}
        for link in self.links:
            for c in link.conns:
                self._sockets[c.sock] = (link, c, False)
                self._sockets[c.monitor] = (link, c, True)

    # -- the thread ---------------------------------------------------------------------------------
    def run(self) -> None:
        zmq = self.zmq
        poller = zmq.Poller()
        poller.register(self.wake, zmq.POLLIN)
        for s in self._sockets:
            poller.register(s, zmq.POLLIN)
        failed = Throttled(30.0)
        try:
            while not self.stop.is_set():
                try:
                    self._round(poller)
                except Exception as e:  # a bug here must not leave the show without its generator: said, and on
                    failed(40, f"generator: the network thread hit {type(e).__name__}: {e} (a bug; it goes on)")
        finally:
            self._close()

    def _round(self, poller) -> None:
        ready = dict(poller.poll(TICK * 1000))
        now = time.monotonic()
        arrived: list = []  # frames of this round, from every connection
        for sock in ready:
            if sock is self.wake:
                self._drain(sock, lambda parts: None)
            else:
                self._from_box(sock, now, arrived)
        self._newest(arrived, now)
        self._send_snapshot()
        self._send_input()
        for link in self.links:
            link.tick(now)
        self._figures(now)

    def _drain(self, sock, handle, most: int = 64) -> None:
        for _ in range(most):
            try:
                handle(sock.recv_multipart(self.zmq.NOBLOCK, copy=False))
            except self.zmq.Again:
                return

    def _from_box(self, sock, now: float, arrived: list) -> None:
        link, conn, is_monitor = self._sockets[sock]
        if is_monitor:
            from zmq.utils.monitor import parse_monitor_message

            succeeded = self.zmq.EVENT_HANDSHAKE_SUCCEEDED
            self._drain(sock, lambda parts: link.handshake(
                parse_monitor_message([p.bytes for p in parts])["event"] == succeeded))
            return

        def one(parts) -> None:
            try:
                msg = self._decoder.decode([p.buffer for p in parts])
            except wire.BadMessage as e:
                self.strikes.add(e.kind, e.detail, link.endpoint)
                return
            frame = link.handle(conn, msg, now)
            if frame is not None:
                arrived.append((frame.index, link, frame))

        self._drain(sock, one)

    def _send_snapshot(self) -> None:
        snap = self.snaps.take()
        if snap is None:
            return
        try:
            parts = self._encoder.encode(self.session, self._seq, snap)
            self._seq += 1
            for link in self.links:
                link.send_snapshot(parts)
        finally:
            self.sent.set()

    def _close(self) -> None:
        for link in self.links:
            link.close()
        if self._feed is not None:
            self._feed.close()
        self.wake.close(0)
        self.ctx.term()

    # -- frames -------------------------------------------------------------------------------------
    def _newest(self, arrived: list, now: float) -> None:
        """The frames that came in one round, in snapshot order: only the newest is decoded and
        handed on (the render thread would take only it); the others were superseded, not late."""
        if not arrived:
            return
        arrived.sort(key=lambda a: a[0])
        for index, link, f in arrived:  # every landing counts for the stagger, in order or not
            self._stagger(link, now, f.gen_ms / 1e3)
        for index, link, f in arrived[:-1]:
            if self.order.admit(index):
                self.superseded += 1
        self._frame(*arrived[-1][1:], now)

    def _stagger(self, link: BoxLink, now: float, frame_time: float) -> None:
        playing = [x.endpoint for x in self.links if x.state == "playing" and x is not link]
        if playing:
            link.pause_next = max(link.pause_next, self.stagger.arrived(link.endpoint, now, playing, frame_time))

    def _frame(self, link: BoxLink, f: wire.Frame, now: float) -> None:
        if not self.order.admit(f.index):
            return
        self.admitted += 1
        t0 = time.thread_time()
        try:
            pixels = _decoded(f)
        except ValueError as e:
            self.strikes.add("bad picture", str(e).splitlines()[0][:120] or "not a JPEG", link.endpoint)
            return
        self._decode_s += time.thread_time() - t0
        self._decoded += 1
        self._ages.append(time.perf_counter() - self.clock_offset - f.t)
        self._stall(now)
        inp = self._sent_inputs.get(f.input) if f.input is not None and self.want_input else None
        self.out.put(GenFrame(pixels, f.index, f.t, f.gen_ms, inp))

    def _stall(self, now: float) -> None:
        """A gap between frames longer than STALL and than twice the usual one, while snapshots kept
        going up (a frozen show sends none): counted and said."""
        gap = now - self._last_frame
        self._last_frame = now
        usual = statistics.median(self._gaps) if self._gaps else 0.0
        if gap < 10.0:
            self._gaps.append(gap)
        if gap > max(STALL, 2 * usual) and self.last_submit > now - gap + STALL and gap < 10.0:
            self.stalls += 1
            self.longest_stall = max(self.longest_stall, gap)
            self._said_stall(30, f"generator: no new frame for {gap * 1e3:.0f} ms although the box is there "
                                 f"(a stall, {self.stalls} so far: lost packets on the way?)")

    # -- images going up (image-to-image from the show's camera or video) ------------------------------
    def _send_input(self) -> None:
        if self.input_source is None:
            return
        if self._feed is None:
            size = next((x.size for x in self.links if x.size), None)
            if size is None:
                return  # opened at the size the box makes its frames at, once it says
            try:
                self._feed = _open_feed(self.input_source, size)
            except VJError as e:  # a camera that will not open: said once; the box makes frames without it
                log.error(f"generator input: {e}; the box makes its frames from noise")
                self.input_source = None
                return
        serial = self._feed.serial
        if serial == self._feed_serial:
            return
        self._feed_serial = serial
        px = self._feed.frame(0.0)
        if px is None:
            return
        import simplejpeg

        image_id = serial
        jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(px), quality=INPUT_QUALITY, colorspace="RGB", fastdct=True)
        self._sent_inputs[image_id] = px
        while len(self._sent_inputs) > INPUTS_KEPT:
            self._sent_inputs.popitem(last=False)
        parts = wire.input_image(self.session, image_id, px.shape[1], px.shape[0], jpeg)
        for link in self.links:
            link.send_input(parts)

    # -- figures ---------------------------------------------------------------------------------------
    def figures(self) -> Figures:
        frames = sum(x.frames for x in self.links)
        rtts = [r for r in (x.round_trip_ms() for x in self.links) if r is not None]
        ages = list(self._ages)
        return Figures(self.admitted, self.order.dropped, self.stalls, self.longest_stall * 1e3,
                       sum(x.bytes for x in self.links) / frames if frames else 0.0,
                       1e3 * self._decode_s / self._decoded if self._decoded else 0.0,
                       min(rtts) if rtts else None, 1e3 * statistics.median(ages) if ages else None,
                       sum(x.late for x in self.links), tuple((x.endpoint, x.state, x.frames) for x in self.links),
                       "+".join(sorted({x.codec for x in self.links if x.ever_played})))

    def _figures(self, now: float) -> None:
        if self.journal is None or now < self._next_figures:
            return
        self._next_figures = now + FIGURES_EVERY
        f = self.figures()
        self.journal.write("generator", event="figures", boxes=[x.endpoint for x in self.links],
                           playing=[x.endpoint for x in self.links if x.state == "playing"],
                           round_trip_ms=_r(f.round_trip_ms), frame_age_ms=_r(f.frame_age_ms), frames=f.frames,
                           stalls=f.stalls, stale=f.stale)


def _decoded(f: wire.Frame) -> np.ndarray:
    if f.codec == "raw":
        return np.frombuffer(f.data, np.uint8).reshape(f.height, f.width, 3)  # a view of the message: no copy
    import simplejpeg

    h, w, _, _ = simplejpeg.decode_jpeg_header(f.data)
    if (w, h) != (f.width, f.height):
        raise ValueError(f"a {w}x{h} JPEG said to be {f.width}x{f.height}")
    return simplejpeg.decode_jpeg(f.data, colorspace="RGB", fastdct=True)


def _open_feed(source: str, size: tuple[int, int]):
    """The show's camera or video, read here at the box's frame size, newest frame wins."""
    from pathlib import Path

    from vj.media import Camera, VideoFile

    if source.startswith("camera:"):
        idx = source.split(":", 1)[1]
        return Camera(int(idx) if idx.isdigit() else idx, size)
    return VideoFile(Path(source).expanduser(), size, live=True)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


# -- the face the engine sees ---------------------------------------------------------------------------
class RemoteGenerator:
    """core.protocols.FrameGenerator whose frames are made by `vj serve` on one box, or by several
    boxes alternating frames. submit and latest never block."""

    def __init__(self, boxes: Sequence[str], keys: Sequence[str], settings: wire.Settings, *,
                 input_source: str | None = None, codec: str = "auto", journal=None,
                 connections: int = CONNECTIONS) -> None:
        """boxes: "HOST:PORT" each; keys: each box's public key (Z85), one per box; settings: how
        frames are made (the model is the box's); input_source: the camera ("camera:N") or video
        file whose images go up for image-to-image (settings.input "pushed"); codec: "jpeg", "raw"
        or "auto" (the box sends raw frames to a show on its own machine, JPEG to any other);
        connections: TCP connections to each box (link.py says why four; one for the benchmark's
        comparison)."""
        from vj.remote import require
        from vj.remote.keys import check_key

        require()
        if not boxes or len(keys) != len(boxes):
            raise VJError("remote generator: one key per box")
        self.boxes = tuple(boxes)
        self._keys = tuple(check_key(k) for k in keys)
        self.settings = settings
        self.codec = codec
        self.connections = connections
        self.input_source = input_source
        self.journal = journal
        self.link = " + ".join(self.boxes)
        self.program_picture = None  # guidance is made on this machine: a box is sent no program picture
        self.size: tuple[int, int] | None = settings.size
        self.frames = 0
        self.last_index = -1
        self._rate = RateMeter()
        self._net: _Network | None = None
        self._thread: threading.Thread | None = None
        self._wake = None
        self._stopped = False
        self.want_input = True
        self.want_map = False  # a control map is made where the model is guided (here, never: see _remote_generator)

    @classmethod
    def from_settings(cls, boxes: Sequence[str], keys: Sequence[str], cfg, *, journal=None, codec: str = "auto",
                      connections: int = CONNECTIONS) -> "RemoteGenerator":
        """The one way in from a show's generator settings.

        boxes: "HOST:PORT" each (two or more alternate frames); keys: one per box, Z85 as `vj serve`
        prints them; cfg: a generate.process.GeneratorConfig (or anything with its fields steps,
        size, seed, input, stream_batch, deep_cache, scheduler, negative, loras): what travels to
        the box at hello (cfg.model, device and threads are the box's own); journal: the show log
        (core.protocols.Journal) for the link's events, or None. Not started: call start()."""
        src = cfg.input
        kind = None if src is None else "feedback" if src == "feedback" else "pushed"
        settings = wire.Settings(steps=cfg.steps, size=cfg.size, seed=cfg.seed, scheduler=cfg.scheduler,
                                 negative=cfg.negative, input=kind, deep_cache=cfg.deep_cache,
                                 stream_batch=cfg.stream_batch, loras=tuple(lo.name for lo in cfg.loras))
        return cls(boxes, keys, settings, input_source=src if kind == "pushed" else None, journal=journal,
                   codec=codec, connections=connections)

    # -- start and stop ---------------------------------------------------------------------------------
    def start(self, wait_ready: bool = False, timeout: float | None = None, on_wait=None) -> None:
        """Connect (the network thread starts); with wait_ready, wait until a box has said welcome,
        calling on_wait() about ten times a second. A wrong key or settings a box refuses end the
        wait with VJError; a box that does not answer within `timeout` (START_WAIT) is said, and
        the show starts without it (it is taken up when it answers)."""
        if self._thread is not None:
            return
        net = self._net = _Network(self.boxes, self._keys, self.settings, self.codec, self.input_source, self.journal,
                                   self.connections)
        net.want_input = self.want_input
        self._wake = net.ctx.socket(net.zmq.PAIR)
        self._wake.sndhwm = 2
        self._wake.linger = 0
        self._wake.connect(net.wake_address)
        self._thread = threading.Thread(target=net.run, name="vj-remote-generator", daemon=True)
        self._thread.start()
        if wait_ready:
            self._wait_ready(START_WAIT if timeout is None else timeout, on_wait)
        else:
            self._started(net.links)

    def _wait_ready(self, timeout: float, on_wait) -> None:
        links = self._net.links
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                states = [x.state for x in links]
                if "playing" in states:
                    return
                if all(s in ("refused", "failed") for s in states):
                    errors = "; ".join(x.last_error for x in links)
                    for x in links:
                        x.starting = False  # said once, by the error below
                    self.stop()
                    raise VJError(f"generator {errors}")
                if on_wait is not None:
                    on_wait()
                time.sleep(0.1)
            log.warning(f"generator: no answer from {self.link} in {timeout:g} s; the show starts without it and "
                        f"takes it up when it answers (is `vj serve` running there, and the port open?)")
        finally:
            self._started(links)

    @staticmethod
    def _started(links) -> None:
        """The show plays: from now on each link says its own refusals (one refused while another
        played is said now)."""
        for x in links:
            if x.starting and x.state in ("refused", "failed"):
                log.error(f"generator {x.last_error}; the show goes on with the other box" if len(links) > 1
                          else f"generator {x.last_error}")
            x.starting = False

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._net.stop.set()
            self._wake.close(0)  # before the join: the network thread's context ends once every socket is closed
            self._thread.join(timeout)
            self._thread = None
        self._stopped = True

    # -- the render thread's side: never blocks --------------------------------------------------------
    def submit(self, snap: Snapshot) -> None:
        net = self._net
        if net is None:
            return
        net.clock_offset = time.perf_counter() - snap.t
        net.last_submit = time.monotonic()
        net.sent.clear()
        net.snaps.put(snap)
        try:
            self._wake.send(b"", self._net.zmq.NOBLOCK)
        except self._net.zmq.Again:
            pass  # a wake-up is already waiting
        if any(x.state == "playing" for x in net.links):
            net.sent.wait(HANDOFF)  # the GIL handed over for the send (see HANDOFF)

    def latest(self) -> GenFrame | None:
        if self._net is None:
            return None
        self._net.want_input = self.want_input
        frame = self._net.out.take()
        if frame is None:
            return None
        self.frames += 1
        self.last_index = frame.index
        self.size = (frame.pixels.shape[1], frame.pixels.shape[0])
        self._rate.tick()
        return frame

    def fps(self) -> float:
        return self._rate.fps()

    # -- what the show says about it ---------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self._stopped:
            return "stopped"
        links = self._net.links if self._net is not None else []
        states = [x.state for x in links]
        if "playing" in states:
            return "running"
        if states and all(s in ("refused", "failed") for s in states):
            return "failed"
        if any(x.ever_played for x in links):
            return "lost"
        return "starting"

    @property
    def errors(self) -> int:
        return sum(x.errors for x in self._net.links) if self._net is not None else 0

    @property
    def last_error(self) -> str:
        links = self._net.links if self._net is not None else []
        return next((x.last_error for x in links if x.last_error), "")

    def figures(self) -> Figures | None:
        return self._net.figures() if self._net is not None else None

    def link_status(self) -> str:
        """'frames from HOST:PORT, round trip X ms, frame age Y ms', or what is wrong with a box."""
        net = self._net
        if net is None:
            return f"frames from {self.link}: not started"
        f = net.figures()
        parts = []
        for x in net.links:
            if x.state == "playing":
                parts.append(x.endpoint)
            elif x.state == "lost":
                parts.append(f"{x.endpoint} LOST {time.monotonic() - x.lost_at:.0f} s (trying again)")
            else:
                parts.append(f"{x.endpoint} {x.state}")
        line = "frames from " + " + ".join(parts)
        if f.round_trip_ms is not None:
            line += f", round trip {f.round_trip_ms:.0f} ms"
        if f.frame_age_ms is not None:
            line += f", frame age {f.frame_age_ms:.0f} ms"
        if f.stalls:
            line += f", {f.stalls} stalls (longest {f.longest_stall_ms:.0f} ms)"
        return line

    def link_figures(self) -> LinkFigures:
        f = self.figures()
        if f is None:
            return LinkFigures(lost=False)
        return LinkFigures(f.round_trip_ms, f.frame_age_ms, self.state == "lost")
