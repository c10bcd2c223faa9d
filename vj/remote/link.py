"""One box as a show sees it: its connections, the handshake, the credits, the pings, and what is
said when it goes and comes back. Used only by the show's network thread (client.py).

Why several connections to one box: a TCP connection delivers in order, so one lost segment holds
everything behind it until it is sent again (200 ms and more: Linux's least retransmission
timeout, or a tail-loss probe of two round trips plus 200 ms when a lone message is lost). Here
each snapshot, credit and ping goes on the next connection in turn and each frame comes back on the
connection its credit came on, so a loss stalls one connection while the others carry newer
snapshots up and newer frames down. A credit unanswered well past the usual turn is written off
and given again on another connection; its frame, if it still comes, is older than what was shown
and is dropped. Every connection is CURVE-encrypted and authenticated against the box's key.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from dataclasses import dataclass, field

from vj.log import log
from vj.remote import wire
from vj.remote.wire import HEARTBEAT_MS, MAX_MESSAGE, tcp
from vj.supervisor import Backoff

CONNECTIONS = 4  # TCP connections to each box (see above)
CREDITS = 2  # frames in flight from each box: one being made, one on its way ...
MOST_CREDITS = 4  # ... and up to 1 + round trip / frame time where the round trip is longer (the box would idle)
PING_EVERY = 0.1  # s between pings (on the next connection in turn): round trip, and the box's pulse
LOST_AFTER = 0.75  # s without a word from a box: it is gone (noticed within a second)
HELLO_BACKOFF = (0.25, 4.0)  # s: first and longest wait between hellos to a box that does not answer
LATE_MARGIN = (0.06, 0.5)  # a credit is written off once it is late by max(60 ms, half the usual turn)
REFUSED_AFTER = 3  # CURVE handshakes failed in a row: the key is wrong
BYE_LINGER = 300  # ms the goodbye may take to leave when the show ends


@dataclass
class Credit:
    sent: float  # s, monotonic
    late: bool = False  # written off: another credit was given in its place


@dataclass
class Conn:
    """One connection to the box and the credits it carries (oldest first: its frames come back in
    that order). With four connections each carries one at most."""

    sock: object  # zmq DEALER
    monitor: object  # its monitor socket: handshake failures
    credits: deque = field(default_factory=deque)  # Credit


class BoxLink:
    def __init__(self, ctx, endpoint: str, server_key: bytes, session: str, hello: list[bytes], journal=None,
                 connections: int = CONNECTIONS) -> None:
        import zmq

        self.zmq = zmq
        self.endpoint, self.session, self.hello, self.journal = endpoint, session, hello, journal
        host, _, port = endpoint.rpartition(":")
        public, secret = zmq.curve_keypair()  # this show's own pair, new each run
        self.conns: list[Conn] = []
        for _ in range(connections):
            s = ctx.socket(zmq.DEALER)
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = server_key, public, secret
            for opt, value in ((zmq.IMMEDIATE, 1), (zmq.LINGER, 0), (zmq.SNDHWM, 16), (zmq.RCVHWM, 64),
                               (zmq.RECONNECT_IVL, 100), (zmq.RECONNECT_IVL_MAX, 2000), (zmq.MAXMSGSIZE, MAX_MESSAGE),
                               (zmq.HEARTBEAT_IVL, HEARTBEAT_MS[0] // 2), (zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_MS[1]),
                               (zmq.HEARTBEAT_TTL, HEARTBEAT_MS[1])):
                s.setsockopt(opt, value)
            if ":" in host.strip("[]"):
                s.ipv6 = True
            mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                       | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED)
            s.connect(tcp(host.strip("[]"), port))
            self.conns.append(Conn(s, mon))
        self.state = "connecting"  # connecting | playing | lost | busy | refused | failed
        self.said = ""  # the last state said in the log (each is said once)
        self.boot = ""  # the box's run, from its welcome
        self.label, self.size, self.codec = "", None, "jpeg"
        self.heard = time.monotonic()  # last word from the box
        self.lost_at = 0.0
        self.ever_played = False
        self.last_error = ""
        self._turn = 0.0  # s, the usual time from a credit to its frame (median of recent ones)
        self._gen_ms = 0.0  # the box's time to make a frame (smoothed)
        self._turns: deque[float] = deque(maxlen=32)
        self._rtts: deque[float] = deque(maxlen=32)  # s, ping round trips
        self._next = 0  # the connection the next message goes on
        self._next_ping = 0.0
        self._next_hello = 0.0
        self._backoff = Backoff(*HELLO_BACKOFF)
        self.want = CREDITS  # credits kept out (2; up to MOST_CREDITS on a long round trip)
        self.pause_next = 0.0  # s: a pause the next credit carries (alternate.Stagger)
        self.frames = 0  # frames that came from this box
        self.bytes = 0  # their bytes on the wire
        self.late = 0  # credits written off
        self.errors = 0  # frames the box could not make
        self._failed_handshakes = 0
        self.starting = True  # the show waits for a welcome (RemoteGenerator.start clears it)

    # -- sockets -----------------------------------------------------------------------------------
    def _send(self, parts: list, conn: Conn | None = None) -> Conn | None:
        """On `conn`, or the next connection in turn that takes it; None: none could (not connected,
        or every queue full): dropped, never waited for."""
        order = [conn] if conn is not None else [self.conns[(self._next + i) % len(self.conns)] for i in range(len(self.conns))]
        for c in order:
            try:
                c.sock.send_multipart(parts, self.zmq.NOBLOCK, copy=False)
            except self.zmq.Again:
                continue
            if conn is None:
                self._next = (self.conns.index(c) + 1) % len(self.conns)
            return c
        return None

    def send_snapshot(self, parts: list) -> None:
        if self.state == "playing":
            self._send(parts)

    def send_input(self, parts: list) -> None:
        if self.state == "playing":
            self._send(parts)

    def close(self) -> None:
        """Goodbye (the box is free for the next show at once), then the sockets closed; the
        goodbye gets BYE_LINGER to leave, nothing else waits."""
        sent = self._send(wire.bye(self.session)) if self.state == "playing" else None
        for c in self.conns:
            c.sock.disable_monitor()
            c.monitor.close(0)
            c.sock.close(BYE_LINGER if c is sent else 0)

    # -- time passes -------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self.state in ("refused", "failed"):
            return
        if now >= self._next_ping:
            self._send(wire.ping(self.session, now))
            self._next_ping = now + PING_EVERY
        if self.state == "playing" and now - self.heard > LOST_AFTER:
            self._lost(now)
        if self.state in ("connecting", "busy") and now >= self._next_hello:
            self._send(self.hello)
            self._next_hello = now + self._backoff.next()
        if self.state == "playing":
            self._credits(now)

    def _credits(self, now: float) -> None:
        """Keep `want` credits out that are not late; write off the late ones (their connection is
        held up: a lost segment) and give one again on the least busy connection."""
        late_after = self._turn + max(LATE_MARGIN[0], LATE_MARGIN[1] * self._turn) if self._turns else 1.0
        healthy = 0
        for c in self.conns:
            while c.credits and now - c.credits[0].sent > 4 * late_after + LOST_AFTER:
                c.credits.popleft()  # never answered: the box lost it (a restart); forgotten
            for cr in c.credits:
                if not cr.late and now - cr.sent > late_after:
                    cr.late = True
                    self.late += 1
                healthy += not cr.late
        per_conn = -(-self.want // len(self.conns))  # 1 with four connections
        while healthy < self.want:
            order = [self.conns[(self._next + i) % len(self.conns)] for i in range(len(self.conns))]
            c = min(order, key=lambda x: len(x.credits))
            if len(c.credits) >= per_conn + 1 or self._send(wire.credit(self.session, self.pause_next), c) is None:
                return
            c.credits.append(Credit(now))
            self.pause_next = 0.0
            healthy += 1

    def _lost(self, now: float) -> None:
        self.state, self.lost_at = "lost", now
        for c in self.conns:
            c.credits.clear()
        self._say("lost", f"generator {self.endpoint}: lost (no word for {LOST_AFTER:g} s); the show goes on with the "
                          f"last good frame and takes the box up again when it answers", error=True)

    # -- what the box says ---------------------------------------------------------------------------
    def handle(self, conn: Conn, msg, now: float) -> wire.Frame | None:
        """A message from the box on `conn` -> the frame in it, if it is one."""
        self.heard = now
        if isinstance(msg, (wire.Frame, wire.NoFrame)):
            if msg.session != self.session:
                return None
            if conn.credits:
                cr = conn.credits.popleft()
                if not cr.late:
                    self._turns.append(now - cr.sent)
                    self._turn = statistics.median(self._turns)
            if isinstance(msg, wire.NoFrame):
                if msg.error:
                    self.errors += 1
                    self.last_error = msg.error
                return None
            self.frames += 1
            self.bytes += len(msg.data)
            self._gen_ms = 0.8 * self._gen_ms + 0.2 * msg.gen_ms if self._gen_ms else msg.gen_ms
            rtt = self.round_trip_ms()
            if rtt is not None and self._gen_ms > 0:  # enough for the box never to wait for a credit
                self.want = max(CREDITS, min(MOST_CREDITS, 1 + math.ceil(rtt / self._gen_ms)))
            return msg
        if isinstance(msg, wire.Pong):
            self._rtts.append(max(0.0, now - msg.t))
            self._pong(msg, now)
        elif isinstance(msg, wire.Welcome):
            self._welcome(msg, now)
        elif isinstance(msg, wire.Refused):
            self._refused(msg)
        return None

    def _pong(self, msg: wire.Pong, now: float) -> None:
        if self.state == "lost":
            if msg.known and msg.boot == self.boot:
                self.state = "playing"
                self._say("playing", f"generator {self.endpoint}: back after {now - self.lost_at:.1f} s")
            else:  # a restarted box (or one that forgot this show): say hello again, now
                self.state, self._next_hello = "connecting", now
                self._backoff.reset()
        elif self.state == "playing" and not msg.known:
            self.state, self._next_hello = "connecting", now

    def _welcome(self, msg: wire.Welcome, now: float) -> None:
        if msg.session != self.session or self.state in ("refused", "failed"):
            return
        again = self.ever_played
        self.state, self.boot, self.label, self.size, self.codec = "playing", msg.boot, msg.label, msg.size, msg.codec
        self.ever_played = True
        self._backoff.reset()
        for c in self.conns:
            c.credits.clear()
        w, h = msg.size
        what = f"frames from {self.endpoint} ({msg.label}, {w}x{h}, {msg.codec})"
        self._say("playing", f"generator {self.endpoint}: back after {now - self.lost_at:.1f} s ({msg.label})" if again
                  else f"generator: {what}")
        if self.journal is not None:
            self.journal.write("generator", event="back" if again else "up", box=self.endpoint, model=msg.label,
                               size=[w, h], round_trip_ms=self.round_trip_ms())

    def _refused(self, msg: wire.Refused) -> None:
        if msg.reason == "busy":
            self.state = "busy"
            self._say("busy", f"generator {self.endpoint}: busy: {msg.message}; trying again by itself", warn=True)
        elif msg.reason == "unknown-session":
            self.state = "connecting"
        else:
            self.state, self.last_error = "failed", f"{self.endpoint} refused the show: {msg.message}"
            self._say("failed", f"generator {self.last_error}", error=True)

    def handshake(self, succeeded: bool) -> None:
        """A connection's CURVE handshake, as its monitor saw it. The box closes a connection whose
        key is not its own (the show only sees it fail): REFUSED_AFTER failures in a row, with
        none passing between, is a wrong key, not a box that went away mid-handshake."""
        self._failed_handshakes = 0 if succeeded else self._failed_handshakes + 1
        if self.state == "refused" or self._failed_handshakes < REFUSED_AFTER:
            return
        self.state = "refused"
        self.last_error = (f"{self.endpoint} refused the handshake: the key is not that box's (vj serve prints its "
                           f"key as 'key: ...'), or it is not a vj serve")
        self._say("refused", f"generator {self.last_error}", error=True)

    def _say(self, state: str, line: str, warn: bool = False, error: bool = False) -> None:
        """Each change of state said once (a flapping link says each change, never a repeat). While
        the show waits to start, a refusal is left to the start's own error line (said once)."""
        if state == self.said:
            return
        self.said = state
        if error and self.starting and state in ("refused", "failed"):
            return
        (log.error if error else log.warning if warn else log.info)(line)

    # -- figures ---------------------------------------------------------------------------------------
    def round_trip_ms(self) -> float | None:
        return 1e3 * statistics.median(self._rtts) if self._rtts else None
