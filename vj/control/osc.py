"""OSC in and out (python-osc for the wire format; routing and transport are ours).

In: one blocking UDP socket on its own thread with a large receive buffer (bursts queue in the
kernel, not in Python; no thread per packet). Bundles are taken apart and applied at once: time
tags are never waited for (a bundle stamped an hour ahead is applied now and counted). Every bad
packet, address, argument or sender is dropped and counted; nothing kills the listener.

    /vj/param/<name> <value>            /vj/param/<name>/norm <0..1>
    /vj/prompt <text>                   /vj/prompt/<slot> <text>      /vj/prompt/<slot>/weight <w>
    /vj/resample [slot]                 /vj/resample/<slot>           (new choices for "{a|b}" templates)
    /vj/scene <name|index>              /vj/seed <int>                /vj/tap        /vj/bpm <bpm|0>
    /vj/learn <param>                   /vj/source/<name> <0..1>      (a modulation source osc.<name>)
    /vj/route <source> <target> <amount> [curve]                      /vj/route/remove <source> <target>
    /vj/list [port]    -> /vj/list/item <address> <type> <min> <max> <value> ..., /vj/list/end
    /vj/status [port]  -> /vj/status/item <counter> <count> ..., /vj/status/end
                          (to the sender's address, or to its host at `port`)

Out (--osc-out HOST:PORT), once per render frame, one bundle: /vj/audio/level /bass /mid /high
/bpm /beat_phase, /vj/audio/onset and /vj/audio/beat when they happen, the show clock's
/vj/clock/bpm (f) /beat (i, the beat number) /phase (f) /bar_phase (f), /vj/status/fps, and
/vj/param/<name> <value> for every parameter changed by MIDI, the browser remote (vj/web/), a scene or a
route start/stop; with frames from a box over the network, /vj/generator/round_trip_ms (f)
/frame_age_ms (f) /lost (i). Tempo,
beats and phases are the show clock's, whatever drives it (sync/showclock.py).
"""

from __future__ import annotations

import collections
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from vj.control.hub import Controls
from vj.core.protocols import ControlSink, LinkFigures
from vj.show.graph import QUANTIZE
from vj.control.osc_check import one_number, packet_ok
from vj.control.routes import CURVES, Route, source_known
from vj.core.errors import VJError
from vj.core.templates import TemplateError, parse as parse_template
from vj.log import Throttled, log
from vj.core.validate import suggest

RCVBUF = 4 * 1024 * 1024  # bytes of kernel buffer for bursts
SAID_KEYS = 64  # addresses (and senders) whose drops are said apart; beyond, they share one line
BATCH = 1024  # datagrams taken off the socket at once (a burst is coalesced per batch)
REPLYING = ("/vj/list", "/vj/status")  # addresses that answer (to the sender, or to `<address> <port>`)
SAID_AS = {"osc": "OSC", "web": "web"}  # how a dropped message's line begins, by its origin


def _from(sender) -> str:
    return f" from {sender[0]}:{sender[1]}" if sender else ""


def _printable(text: str, limit: int = 80) -> str:
    """Text from the network, safe for a terminal: no control characters (no forged lines, no
    escape codes), cut short."""
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _shown(args: list) -> str:
    """The arguments as a performer typed them, cut short."""
    return "[" + _printable(" ".join(repr(a) if isinstance(a, str) else str(a) for a in args), 40) + "]"


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


class BadArgs(ValueError):
    """The arguments do not fit the address (counted as bad_args)."""


class OscRouter:
    """Address -> action. No sockets here: tests and the server call handle() alike."""

    def __init__(self, controls: ControlSink) -> None:
        self.c = controls
        self.counters = controls.counters
        # what was dropped and why, in one line; a controller sending a wrong address 100 times a
        # second gets one line per 5 s (with the count), each address its own (a flood of one
        # does not hide another), up to SAID_KEYS of them
        self._said: dict[tuple[str, str], Throttled] = {}

    def handle(self, address: str, args: list, origin: str = "osc", sender=None) -> list[tuple[str, list]]:
        """Apply one message; returns replies (address, args) for the sender. Never raises. `origin`
        ("osc", or "web" for the browser remote's socket) names the counters and the source of a move."""
        try:
            return self._route(address, args, origin) or []
        except BadArgs as e:
            self.counters.add(f"{origin}_bad_args")
            self.say("args", address, f"{_printable(address)} {_shown(args)}{_from(sender)} dropped: it takes {e}",
                     origin)
        except (ValueError, KeyError) as e:
            self.counters.add(f"{origin}_unknown")
            why = _printable(str(e.args[0]) if e.args else type(e).__name__)
            self.say("address", address, f"{_printable(address)}{_from(sender)} dropped: {why} (`vj params` lists "
                                         f"the parameters, docs/hands.md the addresses)", origin)
        except Exception as e:  # a bug here must not end the listener: counted, said, the show goes on
            self.counters.add(f"{origin}_errors")
            self.say("error", address, f"{_printable(address)}{_from(sender)} failed: {type(e).__name__}: "
                                       f"{_printable(str(e))} (a bug: please report it)", origin)
        return []

    def say(self, kind: str, key: str, msg: str, origin: str = "osc") -> None:
        said = self._said.get((kind, key))
        if said is None:
            if len(self._said) >= SAID_KEYS:  # a fuzzer's thousand addresses share one line
                key = "*"
            said = self._said.setdefault((kind, key), Throttled(5.0))
        said(logging.WARNING, f"{SAID_AS.get(origin, origin)}: {msg}")

    def _route(self, address: str, args: list, origin: str):
        parts = address.split("/")
        if len(parts) < 3 or parts[0] != "" or parts[1] != "vj":
            raise ValueError("not a /vj address")
        for a in ADDRESSES:
            fit = a.match(parts[2:])
            if fit is not None:
                return a.act(self.c, fit[0], args, origin)
        raise ValueError("unknown address")


def _one_number(args: list) -> float:
    if len(args) != 1:
        raise BadArgs(f"one number, got {len(args)} argument(s)")
    v = _number(args[0])
    if v is None:
        raise BadArgs(f"a finite number, got {args[0]!r}")
    return v


def _one_text(args: list) -> str:
    if len(args) != 1 or not isinstance(args[0], str) or not args[0].strip():
        raise BadArgs("one text")
    return args[0]


def _prompt_text(args: list) -> str:
    text = _one_text(args)
    try:
        parse_template(text)
    except TemplateError as e:
        raise BadArgs(f"a prompt template that parses ({e})") from None
    return text


def _slot(s: str) -> int:
    if not s.isdigit() or int(s) < 1:
        raise ValueError(f"prompt slot {s!r}: 1, 2, ...")
    return int(s)


# -- what each address does (ADDRESSES says which): (controls, captured, args, origin) -> replies or None
def _param(c: ControlSink, name: str, args: list, origin: str, norm: bool = False):
    if name not in c.params:
        raise ValueError(f"no parameter {name!r}{suggest(name, c.params.names())}")
    v = _one_number(args)
    spec = c.params.spec(name)
    if norm:
        if not 0.0 <= v <= 1.0:
            c.counters.add(f"{origin}_clamped")
        v = spec.denorm(v)
    elif not spec.lo <= v <= spec.hi:
        c.counters.add(f"{origin}_clamped")
    c.params.set(name, v, source=origin)
    c.counters.add(f"{origin}_params")


def _param_norm(c: ControlSink, name: str, args: list, origin: str):
    _param(c, name, args, origin, norm=True)


def _prompt(c: ControlSink, slot: str | None, args: list, origin: str):
    c.post("prompt", 1 if slot is None else _slot(slot), _prompt_text(args), origin=origin)


def _prompt_weight(c: ControlSink, slot: str, args: list, origin: str):
    name = f"prompt.{_slot(slot)}.weight"
    if name not in c.params:
        raise ValueError(f"no prompt in slot {slot}")
    c.params.set(name, _one_number(args), source=origin)


def _resample(c: ControlSink, slot: str | None, args: list, origin: str):
    if slot is not None:
        which = _slot(slot)
    elif args:
        v = _one_number(args)
        if not v.is_integer() or v < 1:
            raise BadArgs("/vj/resample [slot]: a slot is a whole number from 1")
        which = int(v)
    else:
        which = None
    c.post("resample", which, origin=origin)


def _scene(c: ControlSink, _, args: list, origin: str):
    if len(args) not in (1, 2):
        raise BadArgs("a scene name or index, and where it lands if not as the set says (bar, beat, now)")
    if len(args) == 2 and args[1] not in QUANTIZE:
        raise BadArgs(f"where the scene lands: {', '.join(QUANTIZE)} (got {args[1]!r})")
    which = args[0]
    if isinstance(which, bool) or not isinstance(which, (int, str, float)):
        raise BadArgs("a scene name or index")
    if isinstance(which, float):
        if not which.is_integer():
            raise BadArgs("a scene index is a whole number")
        which = int(which)
    try:
        c.find_scene(which)  # unknown: said now, not on the render thread
    except (ValueError, KeyError) as e:
        raise BadArgs(f"a scene of the set: {e.args[0] if e.args else which}") from None
    c.post("scene", which, *args[1:], origin=origin)


def _scene_next(c: ControlSink, _, args: list, origin: str):
    c.post("scene_next", origin=origin)


def _seed(c: ControlSink, _, args: list, origin: str):
    v = _one_number(args)
    if not v.is_integer() or not 0 <= v < 2**63:
        raise BadArgs("a seed is a whole number >= 0")
    c.post("seed", int(v), origin=origin)


def _grab(c: ControlSink, _, args: list, origin: str):
    c.post("grab", origin=origin)  # a set without [ipadapter] says so where the action lands (hub)


def _tap(c: ControlSink, _, args: list, origin: str):
    c.post("tap", time.monotonic(), origin=origin)  # stamped as it arrives (control/hand.py)


def _bpm(c: ControlSink, _, args: list, origin: str):
    v = _one_number(args)
    if v != 0 and not 20 <= v <= 400:
        raise BadArgs("a BPM is 20..400 (0 lets the tempo go: back to the beat tracker, or running free)")
    c.post("bpm", v, origin=origin)


def _learn(c: ControlSink, _, args: list, origin: str):
    name = _one_text(args)
    if name not in c.params:
        raise ValueError(f"no parameter {name!r}")
    c.post("learn", name, origin=origin)


def _source(c: ControlSink, name: str, args: list, origin: str):
    c.set_source("osc." + name, min(1.0, max(0.0, _one_number(args))))


def _route_add(c: ControlSink, _, args: list, origin: str):
    if len(args) not in (3, 4):
        raise BadArgs("/vj/route <source> <target> <amount> [curve]")
    src, tgt, amount = args[0], args[1], _number(args[2])
    curve = args[3] if len(args) == 4 else "linear"
    if not (isinstance(src, str) and isinstance(tgt, str) and amount is not None and curve in CURVES):
        raise BadArgs("/vj/route <source> <target> <amount> [curve]")
    if not source_known(src, c.sources) or tgt not in c.params:
        raise ValueError(f"unknown source {src!r} or parameter {tgt!r}")
    c.post("route_add", Route(src, tgt, amount, curve=curve), origin=origin)


def _route_remove(c: ControlSink, _, args: list, origin: str):
    if len(args) != 2 or not all(isinstance(a, str) for a in args):
        raise BadArgs("/vj/route/remove <source> <target>")
    c.post("route_remove", args[0], args[1], origin=origin)


def _list(c: ControlSink, _, args: list, origin: str):
    return listing(c)


def _status(c: ControlSink, _, args: list, origin: str):
    counts = c.counters.snapshot()
    return [("/vj/status/item", [k, int(v)]) for k, v in sorted(counts.items())] + [("/vj/status/end", [])]


@dataclass(frozen=True)
class Address:
    """One OSC address under /vj: its parts (literals, <slot>: one part, <name>: one or more parts,
    joined with dots), what acts on it, and what /vj/list says of it."""

    path: str  # "/vj/prompt/<slot>/weight"
    act: Callable  # (controls, captured, args, origin) -> replies or None
    types: str  # OSC type tags it takes, for /vj/list ("" none; the last of /vj/route's and /vj/list's,
    # /vj/status's and /vj/resample's one may be left out)
    lists: Callable | None = None  # (controls, Address) -> its /vj/list items; None: the address alone

    def match(self, parts: list[str]) -> tuple[str | None] | None:
        """(the captured name or slot, None where the address has none) if `parts` (what follows
        /vj/) fit it, else None."""
        want = self.path.split("/")[2:]
        if "<name>" in want:
            i = want.index("<name>")
            head, tail = want[:i], want[i + 1:]
            if len(parts) < len(head) + len(tail) + 1 or parts[:len(head)] != head or \
                    (tail and parts[len(parts) - len(tail):] != tail):
                return None
            return (".".join(parts[len(head):len(parts) - len(tail)]),)
        if len(parts) != len(want):
            return None
        captured = None
        for w, p in zip(want, parts):
            if w == "<slot>":
                captured = p
            elif w != p:
                return None
        return (captured,)


def listing(c: ControlSink) -> list[tuple[str, list]]:
    """Every address of ADDRESSES, each concrete form of it (every parameter, every prompt slot)
    with its OSC type tags, range and current value: what a control surface needs."""
    items = [("/vj/list/item", item) for a in ADDRESSES for item in (a.lists or _one)(c, a)]
    return items + [("/vj/list/end", [])]


# -- what /vj/list says of each address: [address, types, min, max, value] per concrete form
def _one(c: ControlSink, a: Address) -> list[list]:
    return [[a.path, a.types, 0.0, 0.0, "" if a.types == "s" else 0.0]]


def _list_bpm(c: ControlSink, a: Address) -> list[list]:
    """The tempo in force (the show clock's, whatever drives it)."""
    return [["/vj/bpm", "f", 20.0, 400.0, float(c.bpm)]]


def _list_params(c: ControlSink, a: Address) -> list[list]:
    values = c.params.values()
    return [[f"/vj/param/{name}", "f", float(c.params.spec(name).lo), float(c.params.spec(name).hi), float(values[name])]
            for name in c.params.names()]


def _list_params_norm(c: ControlSink, a: Address) -> list[list]:
    values = c.params.values()
    return [[f"/vj/param/{name}/norm", "f", 0.0, 1.0, float(c.params.spec(name).norm(values[name]))]
            for name in c.params.names()]


def _list_first_prompt(c: ControlSink, a: Address) -> list[list]:
    return [["/vj/prompt", "s", 0.0, 0.0, c.prompts[0] if c.prompts else ""]]


def _list_prompt_slots(c: ControlSink, a: Address) -> list[list]:
    return [[f"/vj/prompt/{i}", "s", 0.0, 0.0, text] for i, text in enumerate(c.prompts, 1)]


def _list_prompt_weights(c: ControlSink, a: Address) -> list[list]:
    values, names = c.params.values(), (f"prompt.{i}.weight" for i in range(1, len(c.prompts) + 1))
    return [[f"/vj/{name.replace('.', '/')}", "f", float(c.params.spec(name).lo), float(c.params.spec(name).hi),
             float(values[name])] for name in names if name in c.params]


def _list_resample_slots(c: ControlSink, a: Address) -> list[list]:
    return [[f"/vj/resample/{i}", "", 0.0, 0.0, 0.0] for i in range(1, len(c.prompts) + 1)]


def _list_resample(c: ControlSink, a: Address) -> list[list]:
    return [["/vj/resample", "i", 1.0, float(len(c.prompts)), 0]]


def _list_scene(c: ControlSink, a: Address) -> list[list]:
    return [["/vj/scene", "s", 0.0, float(max(0, len(c.scene_names()) - 1)), c.scene or ""]]


def _list_seed(c: ControlSink, a: Address) -> list[list]:
    return [["/vj/seed", "i", 0.0, float(2**31 - 1), int(c.seed) & 0x7FFFFFFF]]


def _list_sources(c: ControlSink, a: Address) -> list[list]:
    """The pattern itself: any name makes a source (osc.<name>, for routes)."""
    return [["/vj/source/<name>", "f", 0.0, 1.0, 0.0]]


# Every address, in the order they are tried (the /norm form before the plain one).
ADDRESSES = (
    Address("/vj/param/<name>/norm", _param_norm, "f", _list_params_norm),
    Address("/vj/param/<name>", _param, "f", _list_params),
    Address("/vj/prompt", _prompt, "s", _list_first_prompt),
    Address("/vj/prompt/<slot>", _prompt, "s", _list_prompt_slots),
    Address("/vj/prompt/<slot>/weight", _prompt_weight, "f", _list_prompt_weights),
    Address("/vj/resample", _resample, "i", _list_resample),
    Address("/vj/resample/<slot>", _resample, "", _list_resample_slots),
    Address("/vj/scene", _scene, "s", _list_scene),
    Address("/vj/scene/next", _scene_next, ""),
    Address("/vj/seed", _seed, "i", _list_seed),
    Address("/vj/tap", _tap, ""),
    Address("/vj/grab", _grab, ""),
    Address("/vj/bpm", _bpm, "f", _list_bpm),
    Address("/vj/learn", _learn, "s"),
    Address("/vj/source/<name>", _source, "f", _list_sources),
    Address("/vj/route", _route_add, "ssfs"),
    Address("/vj/route/remove", _route_remove, "ss"),
    Address("/vj/list", _list, "i"),
    Address("/vj/status", _status, "i"),
)


class OscServer:
    """The listening socket and its thread."""

    def __init__(self, router: OscRouter, host: str = "127.0.0.1", port: int = 9000, allow: tuple[str, ...] = ()) -> None:
        self.router = router
        self.counters = router.counters
        self.allow = set(allow)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.rcvbuf = _grow_rcvbuf(self.sock)
        _bind(self.sock, host, port)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_latency: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="vj-osc", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.sock.recvfrom(65536)  # blocks; stop() wakes it with a datagram
            except OSError:
                if self._stop.is_set():
                    return
                self.counters.add("osc_socket_errors")
                continue
            if self._stop.is_set():
                return
            self._serve_batch(self._drain(first))

    def _drain(self, first) -> list:
        """Whatever else is already waiting, without blocking (bounded: a burst is taken in slices)."""
        batch = [first]
        while len(batch) < BATCH:
            try:
                batch.append(self.sock.recvfrom(65536, socket.MSG_DONTWAIT))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.counters.add("osc_socket_errors")
                break
        return batch

    def _serve_batch(self, batch: list) -> None:
        """A burst of /vj/param/... numbers: only the last to each address in a batch matters
        (latest wins), so the others are counted and skipped. Only well-formed, finite, allowed
        messages are skipped this way: a bad one after a good one must not hide it."""
        if len(batch) == 1:
            self.handle_datagram(*batch[0])
            return
        keys: list = []
        last: dict[tuple, int] = {}
        for i, (data, sender) in enumerate(batch):
            key = None
            if data.startswith(b"/vj/param/") and (not self.allow or sender[0] in self.allow) and packet_ok(data):
                quick = one_number(data)
                if quick is not None and math.isfinite(quick[1]):
                    key = (quick[0], sender[0])
                    last[key] = i
            keys.append(key)
        for i, (data, sender) in enumerate(batch):
            if keys[i] is not None and last[keys[i]] != i:
                self.counters.add("osc_packets")
                self.counters.add("osc_coalesced")
                continue
            self.handle_datagram(data, sender)

    def handle_datagram(self, data: bytes, sender) -> None:
        c = self.counters
        c.add("osc_packets")
        if self.allow and sender[0] not in self.allow:
            c.add("osc_not_allowed")
            self.router.say("sender", sender[0], f"a packet from {sender[0]} refused: not in --osc-allow")
            return
        if not packet_ok(data):
            c.add("osc_malformed")
            self.router.say("malformed", sender[0],
                            f"a malformed packet ({len(data)} bytes) from {sender[0]}:{sender[1]} dropped")
            return
        quick = one_number(data)
        if quick is not None and quick[0] not in REPLYING:
            c.add("osc_messages")
            self.router.handle(quick[0], [quick[1]], "osc", sender)
            return
        try:
            packet = OscPacket(data)
            messages = packet.messages
        except Exception:  # truncated, malformed, absurd sizes: python-osc raises many kinds
            c.add("osc_malformed")
            self.router.say("malformed", sender[0],
                            f"a malformed packet ({len(data)} bytes) from {sender[0]}:{sender[1]} dropped")
            return
        now = time.time()
        for timed in messages:
            if timed.time > now + 0.5:
                c.add("osc_future_timetags")  # applied now: a show never waits for a time tag
            try:
                address, params = timed.message.address, list(timed.message.params)
            except Exception:
                c.add("osc_malformed")
                continue
            c.add("osc_messages")
            reply_to = sender
            if address in REPLYING and len(params) == 1 and type(params[0]) is int and 0 < params[0] < 65536:
                # `/vj/list <port>`: answer on that port (Max's udpsend, Pd's netsend and TouchDesigner
                # send from a port nobody listens on)
                reply_to, params = (sender[0], params[0]), []
            for reply_address, reply_args in self.router.handle(address, params, "osc", sender):
                try:
                    self.sock.sendto(build_message(reply_address, reply_args).dgram, reply_to)
                except OSError:
                    c.add("osc_reply_errors")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            host, port = self.address
            try:  # wake the blocking recvfrom
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(b"", ("127.0.0.1" if host in ("0.0.0.0", "") else host, port))
            except OSError:
                pass
            self._thread.join(2.0)
        self.sock.close()


def _bind(sock: socket.socket, host: str, port: int) -> None:
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise VJError(f"OSC: can't listen on {host}:{port} ({e.strerror}); choose another with --osc-port") from None


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, if the OSC port is taken (before a model loads for nothing); the
    listener binds it again a moment later."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _bind(sock, host, port)
    sock.close()


def _grow_rcvbuf(sock: socket.socket) -> int:
    """The kernel caps SO_RCVBUF at net.core.rmem_max (often 208 KB); root may force more."""
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if got < RCVBUF and force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, RCVBUF)
            got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            pass
    if got < RCVBUF:
        log.info(f"OSC: receive buffer {got // 1024} KB (capped by net.core.rmem_max): a burst of more than a few "
                 f"thousand messages may lose some; to raise it: sudo sysctl -w net.core.rmem_max={RCVBUF}")
    return got


class OscOut:
    """Features, events and parameter feedback to one destination, one bundle per frame."""

    FEEDBACK_SOURCES = ("midi", "scene", "route", "web")

    def __init__(self, target: str, controls: Controls, fps: Callable[[], float] = lambda: 0.0,
                 link: Callable[[], LinkFigures] | None = None) -> None:
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise VJError(f"--osc-out {target!r}: write HOST:PORT, e.g. 127.0.0.1:9001")
        self.target = (host, int(port))
        try:
            socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_DGRAM)
        except socket.gaierror:
            raise VJError(f"--osc-out {target}: unknown host {host!r}") from None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.controls = controls
        self._changes: collections.deque[tuple[str, float]] = collections.deque(maxlen=1024)
        self.fps = fps  # the render rate, for /vj/status/fps
        self.link = link  # the generator's link figures (FrameGenerator.link_figures), for /vj/generator/*
        self.sent = 0
        self.errors = 0
        controls.params.on_change(self._changed)
        controls.changed_by = self._changed

    def _changed(self, name: str, value: float, source: str) -> None:
        if source in self.FEEDBACK_SOURCES:
            self._changes.append((name, value))  # bounded: a stalled show drops the oldest

    def frame(self, snap) -> None:
        """On the render thread, once per frame."""
        a, c = snap.audio, snap.clock
        b = OscBundleBuilder(IMMEDIATELY)
        # tempo and phase are the show clock's (sync/showclock.py): Link, MIDI clock, by hand or the tracker
        for name, value in (("level", a.level), ("bass", a.bass), ("mid", a.mid), ("high", a.high), ("bpm", c.bpm),
                            ("beat_phase", c.phase)):
            b.add_content(build_message(f"/vj/audio/{name}", [float(value)]))
        if a.onset:
            b.add_content(build_message("/vj/audio/onset", [1]))
        if snap.values.get("audio.beat", 0.0) > 0.5:
            b.add_content(build_message("/vj/audio/beat", [1]))
        for name, value in (("bpm", float(c.bpm)), ("beat", int(c.beat // 1)), ("phase", float(c.phase)),
                            ("bar_phase", float(c.bar_phase))):
            b.add_content(build_message(f"/vj/clock/{name}", [value]))
        b.add_content(build_message("/vj/status/fps", [float(self.fps())]))
        link = self.link() if self.link is not None else None
        if link is not None and (link.round_trip_ms is not None or link.lost):  # frames from a box: how it goes
            for name, value in (("round_trip_ms", link.round_trip_ms), ("frame_age_ms", link.frame_age_ms)):
                if value is not None:
                    b.add_content(build_message(f"/vj/generator/{name}", [float(value)]))
            b.add_content(build_message("/vj/generator/lost", [int(link.lost)]))
        while self._changes:
            name, value = self._changes.popleft()
            b.add_content(build_message(f"/vj/param/{name}", [float(value)]))
        try:
            self.sock.sendto(b.build().dgram, self.target)
            self.sent += 1
        except OSError:  # nobody listening (ICMP refused), a full buffer: the show goes on
            self.errors += 1

    def close(self) -> None:
        self.sock.close()


def build_message(address: str, args):
    """One OSC message (python-osc's builder, guessing each argument's type)."""
    b = OscMessageBuilder(address)
    for x in args:
        b.add_arg(x)
    return b.build()
