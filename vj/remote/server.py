"""`vj serve`: the generator on a GPU box, for shows played on other machines.

    show (laptop)                        vj serve (box)
    DEALER x N connections  --CURVE-->   ROUTER, socket thread: sessions, credits, pings, bad messages
      hello, snap, credit,                 Desk (newest snapshot, credits)  --> maker (main thread):
      input, ping, bye                                                         the loop, the codec
                            <--------    frame / noframe on the connection     <-- inproc
                                         that gave the credit; pong

One show at a time: the box has one model and one GPU. A second show that says hello while one
plays is refused with a line saying so ("busy") and tries again by itself; it is taken once the
first says goodbye or has been silent for SESSION_IDLE seconds (a show killed without a word).

Latest value throughout: the box keeps only the newest snapshot (by sequence number, across every
connection), makes a frame only against a credit (a show has at most MAX_CREDITS asked for), and
the frame goes back on the connection that gave the credit. A bad message is counted and dropped
(strikes.py); a connection that fails the CURVE handshake is said in a line and closed by ZeroMQ.
"""

from __future__ import annotations

import collections
import json
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from vj.core.boxes import DEFAULT_PORT
from vj.core.errors import VJError
from vj.log import Throttled, log
from vj.remote import wire
from vj.remote.wire import HEARTBEAT_MS, MAX_MESSAGE, tcp
from vj.remote.maker import Maker, MakerConfig
from vj.remote.strikes import Strikes

SESSION_IDLE = 2.5  # s without a word from the show playing: it is gone and the box is free again
MAX_CREDITS = 8  # frames a show may have asked for at once (it asks for 1-2 a connection)
FRAMES_INPROC = "inproc://vj-serve-frames"


def parse_bind(text: str) -> tuple[str, int]:
    """'HOST:PORT', ':PORT' or 'PORT' (this machine only) -> (host, port); '[::1]:PORT' for IPv6."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise VJError(f"--bind {text!r}: write HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT} (this machine) or "
                      f"0.0.0.0:{DEFAULT_PORT} (every network it is on)")
    return host, int(port)


# -- what the socket thread hands the maker --------------------------------------------------------
@dataclass(frozen=True)
class SessionJob:
    serial: int
    session: str | None  # None: the show ended, free the loop
    settings: wire.Settings | None
    codec: str


@dataclass(frozen=True)
class FrameJob:
    session: str
    seq: int
    snapshot: object  # core.snapshot.Snapshot
    identity: bytes  # the connection the credit came on


STOP = object()


class Desk:
    """The show playing, its newest snapshot and its credits, under one lock: the socket thread
    writes, the maker waits for work. Nothing queues: a newer snapshot replaces the older one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stopping = False
        self._serial = 0
        self._session: str | None = None
        self._settings: wire.Settings | None = None
        self._codec = "jpeg"
        self._snap = None
        self._seq = -1  # newest snapshot's
        self._used = -1  # the last one a frame was made from
        self._credits: collections.deque[tuple[bytes, float]] = collections.deque()  # (connection, pause s)
        self.feed = None  # maker.PushedInput of the show playing (image-to-image), set by the maker

    def begin(self, session: str | None, settings: wire.Settings | None = None, codec: str = "jpeg") -> None:
        with self._cond:
            self._serial += 1
            self._session, self._settings, self._codec = session, settings, codec
            self._snap, self._seq, self._used = None, -1, -1
            self._credits.clear()
            self.feed = None
            self._cond.notify()

    def snapshot(self, session: str, seq: int, snap) -> bool:
        """Kept if it is the newest of the show playing; False: an older one (dropped)."""
        with self._cond:
            if session != self._session or seq <= self._seq:
                return False
            self._snap, self._seq = snap, seq
            self._cond.notify()
            return True

    def credit(self, session: str, identity: bytes, pause: float = 0.0) -> bool:
        with self._cond:
            if session != self._session or len(self._credits) >= MAX_CREDITS:
                return False
            self._credits.append((identity, pause))
            self._cond.notify()
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def next_job(self, serial: int, timeout: float):
        """For the maker: STOP, a new session (its serial moved), a frame to make, or None."""
        with self._cond:
            def ready() -> bool:
                return (self._stopping or self._serial != serial
                        or (self._session is not None and bool(self._credits) and self._seq > self._used))

            if not self._cond.wait_for(ready, timeout):
                return None
            if self._stopping:
                return STOP
            if self._serial != serial:
                return SessionJob(self._serial, self._session, self._settings, self._codec)
            identity, pause = self._credits.popleft()
            if pause > 0:  # alternating boxes kept apart: wait, then take the newest snapshot there is then
                self._cond.wait_for(lambda: self._stopping or self._serial != serial, pause)
                if self._stopping or self._serial != serial:
                    return None
            self._used = self._seq
            return FrameJob(self._session, self._seq, self._snap, identity)


# -- the maker's side (main thread) ----------------------------------------------------------------
class Encoder:
    """Frames compressed on a thread of their own, so the model makes the next frame meanwhile (on a
    GPU box the GPU works while the CPU compresses), then handed to the socket thread. It holds at
    most one frame per credit: never more than MAX_CREDITS."""

    def __init__(self, ctx, quality: int) -> None:
        self.ctx, self.quality = ctx, quality
        self._cond = threading.Condition()
        self._jobs: collections.deque = collections.deque(maxlen=MAX_CREDITS)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="vj-serve-encoder", daemon=True)
        self._thread.start()

    def put(self, job: FrameJob, made, codec: str) -> None:
        with self._cond:
            self._jobs.append((job, made, codec))
            self._cond.notify()

    def _run(self) -> None:
        import zmq

        from vj.remote.maker import encode

        out = self.ctx.socket(zmq.PUSH)
        out.connect(FRAMES_INPROC)
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._jobs or self._stop)
                    if self._stop:
                        return
                    job, made, codec = self._jobs.popleft()
                s = job.snapshot
                try:
                    data = encode(made.data, codec, self.quality)
                except Exception as e:  # a picture the codec will not take: the credit goes back
                    out.send_multipart([b"noframe", job.identity] + wire.noframe(job.session, job.seq, f"JPEG: {e}"))
                    continue
                parts = wire.frame(job.session, job.seq, s.index, s.t, made.gen_ms, made.width, made.height, codec,
                                   made.input, data)
                out.send_multipart([b"frame", job.identity] + parts, copy=False)
        finally:
            out.close(0)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(5)


def make_frames(desk: Desk, maker: Maker, out, encoder: Encoder) -> None:
    """Work from the desk until it stops; results go to the socket thread through `out` (inproc
    PUSH), frames through the encoder."""
    serial = 0
    while True:
        job = desk.next_job(serial, 0.5)
        if job is None:
            continue
        if job is STOP:
            maker.end()
            return
        if isinstance(job, SessionJob):
            serial = job.serial
            _begin(maker, job, desk, out)
            continue
        made = maker.make(job.snapshot)
        if isinstance(made, str):
            out.send_multipart([b"noframe", job.identity] + wire.noframe(job.session, job.seq, made))
        elif maker.codec == "raw":  # nothing to compress: straight to the socket thread, no copy
            s = job.snapshot
            out.send_multipart([b"frame", job.identity] + wire.frame(job.session, job.seq, s.index, s.t, made.gen_ms,
                                                                      made.width, made.height, "raw", made.input,
                                                                      made.data), copy=False)
        else:
            encoder.put(job, made, maker.codec)


def _begin(maker: Maker, job: SessionJob, desk: Desk, out) -> None:
    if job.session is None:
        maker.end()
        return
    sid = job.session.encode()
    try:
        w, h = maker.begin(job.settings, job.codec)
    except VJError as e:
        out.send_multipart([b"failed", sid, str(e).encode()])
        return
    except Exception as e:  # anything the model's code raises: one line for the show, the box serves on
        out.send_multipart([b"failed", sid, f"{type(e).__name__}: {e}".splitlines()[0][:300].encode()])
        return
    desk.feed = maker.feed
    out.send_multipart([b"ready", sid, json.dumps([w, h]).encode()])


# -- the socket thread -------------------------------------------------------------------------------
@dataclass
class Session:
    id: str
    peer: str  # the show's address, as the connection says
    settings: wire.Settings
    codec: str
    since: str  # wall clock, for the busy line
    last_seen: float  # monotonic
    size: tuple[int, int] | None = None  # set when the maker is ready
    waiting: list[bytes] = field(default_factory=list)  # connections that said hello before it was ready
    frames: int = 0
    started: float = field(default_factory=time.monotonic)


class BoxServer:
    """The ROUTER socket and everything that happens on it, on a thread of its own."""

    def __init__(self, ctx, host: str, port: int, public: bytes, secret: bytes, desk: Desk, label: str) -> None:
        import zmq

        self.zmq = zmq
        self.desk, self.label = desk, label
        self.boot = secrets.token_hex(8)  # a new one each run: shows see a restarted box
        self.machine = wire.this_machine()  # a show on this machine gets raw frames when it leaves the codec to us
        self.router = r = ctx.socket(zmq.ROUTER)
        r.curve_server = True
        r.curve_secretkey = secret
        r.curve_publickey = public
        for opt, value in ((zmq.MAXMSGSIZE, MAX_MESSAGE), (zmq.LINGER, 0), (zmq.SNDHWM, 8), (zmq.RCVHWM, 256),
                           (zmq.HEARTBEAT_IVL, HEARTBEAT_MS[0]), (zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_MS[1]),
                           (zmq.HEARTBEAT_TTL, HEARTBEAT_MS[1])):
            r.setsockopt(opt, value)
        if ":" in host:
            r.ipv6 = True
        try:
            if port:
                r.bind(tcp(host, port))
            else:
                port = r.bind_to_random_port(tcp(host, "*").rsplit(":", 1)[0])
        except zmq.ZMQError as e:
            r.close()
            raise VJError(f"vj serve: can't listen on {host}:{port} ({e.strerror}); another vj serve there? "
                          f"choose another with --bind HOST:PORT") from None
        self.host, self.port = host, port
        # a wrong key shows as a protocol (cryptographic) failure; a show that left mid-handshake as "no detail"
        self.monitor = r.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.pull = ctx.socket(zmq.PULL)
        self.pull.bind(FRAMES_INPROC)
        self.session: Session | None = None
        self.strikes = Strikes("serve")
        self._refused_key = Throttled(10.0)
        self._decoder = wire.Decoder()
        self.stop = threading.Event()
        self.frames = 0
        self.refused_handshakes = 0

    def run(self) -> None:
        zmq = self.zmq
        poller = zmq.Poller()
        for s in (self.router, self.pull, self.monitor):
            poller.register(s, zmq.POLLIN)
        failed = Throttled(30.0)
        while not self.stop.is_set():
            try:
                ready = dict(poller.poll(100))
                if self.router in ready:
                    self._drain(self.router, self._from_show)
                if self.pull in ready:
                    self._drain(self.pull, self._from_maker)
                if self.monitor in ready:
                    self._drain(self.monitor, self._handshake)
                self._idle()
            except Exception as e:  # a bug must not leave the box deaf while its process lives: said, and on
                failed(40, f"serve: the socket thread hit {type(e).__name__}: {e} (a bug; it serves on)")

    def close(self) -> None:
        """Its sockets closed (after run() returned, or when it never ran)."""
        self.router.disable_monitor()
        for s in (self.router, self.pull, self.monitor):
            s.close(0)

    def _drain(self, sock, handle, most: int = 256) -> None:
        """Up to `most` messages waiting on `sock`, without waiting for more."""
        for _ in range(most):
            try:
                parts = sock.recv_multipart(self.zmq.NOBLOCK, copy=False)
            except self.zmq.Again:
                return
            handle(parts)

    # -- from the shows --------------------------------------------------------------------------
    def _from_show(self, frames) -> None:
        identity, parts = frames[0].bytes, frames[1:]
        try:
            msg = self._decoder.decode([f.buffer for f in parts])
        except wire.BadMessage as e:
            self.strikes.add(e.kind, e.detail, _peer(parts))
            return
        if isinstance(msg, wire.Hello):
            self._hello(identity, msg, _peer(parts))
            return
        if not isinstance(msg, (wire.Snap, wire.Credit, wire.Input, wire.Ping, wire.Bye)):
            self.strikes.add("wrong direction", f"a {type(msg).__name__.lower()} message is the box's to send",
                             _peer(parts))
            return
        s = self.session
        known = s is not None and msg.session == s.id
        if isinstance(msg, wire.Ping):
            self._send(identity, wire.pong(msg.t, self.boot, known))
        if not known:
            return  # an earlier show's or an unknown one's: its pong says so (it says hello again)
        s.last_seen = time.monotonic()
        if isinstance(msg, wire.Snap):
            self.desk.snapshot(s.id, msg.seq, msg.snapshot)
        elif isinstance(msg, wire.Credit):
            if not self.desk.credit(s.id, identity, msg.pause):
                self.strikes.add("too many credits", f"more than {MAX_CREDITS} frames asked for at once", s.peer)
        elif isinstance(msg, wire.Input):
            self._input(msg, s)
        elif isinstance(msg, wire.Bye):
            self._end(f"show from {s.peer} ended: {s.frames} frames")

    def _hello(self, identity: bytes, msg: wire.Hello, peer: str) -> None:
        s, now = self.session, time.monotonic()
        if s is not None and s.id != msg.session and now - s.last_seen < SESSION_IDLE:
            self._send(identity, wire.refused("busy", f"the box is playing a show from {s.peer} since {s.since}; one "
                                                      f"show at a time (it is free {SESSION_IDLE:g} s after that "
                                                      f"show stops)", True))
            return
        if s is None or s.id != msg.session:
            if s is not None:
                self._end(f"show from {s.peer} gone (no word for {SESSION_IDLE:g} s)")
            codec = msg.codec if msg.codec != "auto" else "raw" if msg.machine == self.machine else "jpeg"
            s = self.session = Session(msg.session, peer, msg.settings, codec, datetime.now().strftime("%H:%M:%S"), now)
            self.desk.begin(s.id, msg.settings, codec)
            log.info(f"serve: a show from {peer} said hello ({_described(msg.settings)}, frames as {codec})")
        s.last_seen = now
        if s.size is None:
            s.waiting.append(identity)
        else:
            self._send(identity, wire.welcome(wire.Welcome(s.id, self.boot, self.label, s.size, s.codec)))

    def _input(self, msg: wire.Input, s: Session) -> None:
        import simplejpeg

        feed = self.desk.feed
        if feed is None:
            return  # the show's loop takes no pushed images (or is not ready yet)
        try:
            h, w, _, _ = simplejpeg.decode_jpeg_header(msg.data)
            if (w, h) != (msg.width, msg.height):
                raise ValueError(f"a {w}x{h} JPEG said to be {msg.width}x{msg.height}")
            pixels = simplejpeg.decode_jpeg(msg.data, colorspace="RGB")
        except ValueError as e:
            self.strikes.add("bad image", str(e).splitlines()[0][:120] or "not a JPEG", s.peer)
            return
        feed.push(msg.id, pixels)

    def _end(self, why: str) -> None:
        if self.session is not None:
            log.info(f"serve: {why}; waiting for shows")
        self.session = None
        self.desk.begin(None)

    def _idle(self) -> None:
        s = self.session
        if s is not None and time.monotonic() - s.last_seen > SESSION_IDLE:
            self._end(f"show from {s.peer} gone (no word for {SESSION_IDLE:g} s): {s.frames} frames")

    # -- from the maker ---------------------------------------------------------------------------
    def _from_maker(self, frames) -> None:
        tag, rest = frames[0].bytes, frames[1:]
        s = self.session
        if tag in (b"frame", b"noframe"):
            identity = rest[0].bytes
            if s is not None and tag == b"frame":
                s.frames += 1
                self.frames += 1
            self._send(identity, rest[1:])
            return
        sid = rest[0].bytes.decode()
        if s is None or s.id != sid:
            return  # that show left while its loop was being made
        if tag == b"ready":
            s.size = tuple(json.loads(rest[1].bytes))
            log.info(f"serve: playing for {s.peer}: {s.size[0]}x{s.size[1]} frames")
            for identity in s.waiting:
                self._send(identity, wire.welcome(wire.Welcome(s.id, self.boot, self.label, s.size, s.codec)))
            s.waiting.clear()
        elif tag == b"failed":
            message = rest[1].bytes.decode()
            log.warning(f"serve: can't play for {s.peer}: {message}")
            for identity in s.waiting:
                self._send(identity, wire.refused("settings", message, False))
            self.session = None
            self.desk.begin(None)

    def _handshake(self, frames) -> None:
        from zmq.utils.monitor import parse_monitor_message

        parse_monitor_message([f.bytes for f in frames])  # a handshake that failed (the only events asked for)
        self.refused_handshakes += 1
        self._refused_key(30, "serve: refused a connection: it failed the CURVE handshake (a show with "
                              "another box's key, or not a vj show); a show needs the key this box printed")

    def _send(self, identity: bytes, parts: list) -> None:
        try:
            self.router.send_multipart([identity] + list(parts), self.zmq.NOBLOCK, copy=False)
        except self.zmq.Again:  # that connection's queue is full (a stalled link): dropped, never waited on
            pass


def _peer(parts) -> str:
    try:
        return parts[0].get("Peer-Address")
    except Exception:
        return "?"


def _described(s: wire.Settings) -> str:
    size = f"{s.size[0]}x{s.size[1]}" if s.size else "native size"
    return ", ".join(x for x in (size, f"{s.steps} step(s)", f"seed {s.seed}", s.scheduler and f"scheduler {s.scheduler}",
                                 s.input and f"input {s.input}", s.loras and f"LoRAs {', '.join(s.loras)}") if x)


# -- the command ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServeConfig:
    bind: str  # HOST:PORT (default: this machine only)
    maker: MakerConfig
    state: Path  # where its key is kept (serve/ inside it)


def serve(cfg: ServeConfig, out=sys.stdout) -> int:
    """Load the model, listen, say what is served and the key, serve shows until SIGINT/SIGTERM."""
    from vj.remote import require
    from vj.remote.keys import box_keys

    require()
    import zmq

    host, port = parse_bind(cfg.bind)
    public, secret = box_keys(cfg.state)
    ctx = zmq.Context()
    desk = Desk()
    server = None
    try:
        server = BoxServer(ctx, host, port, public, secret, desk, cfg.maker.model)  # bound now: a taken port fails fast
        maker = Maker(cfg.maker)
        server.label = maker.label
        w, h = maker.native
        where = ("this machine only; --bind 0.0.0.0:PORT for other machines"
                 if host in ("127.0.0.1", "localhost", "::1") else "other machines may connect with the key")
        print(f"vj serve: {maker.label} on {maker.device} ({w}x{h} unless a show asks for another size), "
              f"listening on {host}:{server.port} ({where}); one show at a time", file=out)
        print(f"key: {public.decode()}", file=out, flush=True)
        _serve_until_stopped(ctx, server, desk, maker)
        log.info(f"serve: served {server.frames} frames; bad messages dropped: {server.strikes.total}, "
                 f"connections refused at the handshake: {server.refused_handshakes}")
    finally:
        if server is not None:
            server.close()
        ctx.term()
    return 0


def _serve_until_stopped(ctx, server: BoxServer, desk: Desk, maker: Maker) -> None:
    import zmq

    thread = threading.Thread(target=server.run, name="vj-serve-sockets", daemon=True)
    thread.start()

    def stop(signum, frame):
        log.info("serve: stopping")
        desk.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    push = ctx.socket(zmq.PUSH)
    push.connect(FRAMES_INPROC)
    encoder = Encoder(ctx, maker.cfg.quality)
    try:
        make_frames(desk, maker, push, encoder)
    finally:
        encoder.stop()
        server.stop.set()
        thread.join(5)
        push.close(0)
