"""The remote's socket protocol: what a page (or a script) may send, what it is sent. No sockets
here: the server (server.py) and the tests call these functions alike.

A page sends JSON objects, one a message:

    {"osc": "/vj/param/feedback.amount", "args": [0.7]}   any address of the OSC table (docs/hands.md):
                                                          the same router, checks and counters as OSC
    {"preview": true}                                     send me preview frames (false: stop)
    {"ping": 17}                                          answered {"type": "pong", "id": 17}

and is sent JSON objects with a "type": hello (everything, on connecting), params (the table grew),
state (scene, graph, prompts, clock source, warnings: when they change), tick (parameter values that
moved, the modulated values, clock, meters, spectrum: up to 60 a second), reply (what /vj/list and
/vj/status answer), pong, error (what was wrong with a message, at most one a second); and binary
preview frames: PREVIEW_MAGIC, a header (PREVIEW_HEADER: frame index, show time, wall time and
monotonic time of the read-back) and a JPEG.

Nothing from the socket is trusted: a message is at most MAX_MESSAGE bytes, an address a /vj/
address of printable characters, at most MAX_ARGS arguments, each a finite number or a text of at
most MAX_TEXT characters. Everything else is a ProtocolError, counted and said by the server.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

VERSION = 1
MAX_MESSAGE = 16 * 1024  # bytes of one message (larger: the socket is closed, as the WebSocket RFC says)
MAX_ADDRESS = 256  # characters of an OSC address
MAX_ARGS = 8
MAX_TEXT = 4000  # characters of one text argument (a prompt template)
MAX_INT = 2**53  # larger whole numbers are not numbers a parameter takes
PREVIEW_MAGIC = b"VJP1"
PREVIEW_HEADER = struct.Struct("<Iddd")  # frame index, show time (s), wall time (s, epoch), monotonic (s)


class ProtocolError(ValueError):
    """A message the protocol does not take; `kind` names its counter (malformed or too_big)."""

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Osc:
    """An OSC message, for the router."""

    address: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Preview:
    on: bool


@dataclass(frozen=True)
class Ping:
    id: Any  # a number or a short text, sent back as it came


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON has")


def parse(text: str) -> Osc | Preview | Ping:
    """One message from a page; ProtocolError says what is wrong with it."""
    if len(text) > MAX_MESSAGE:
        raise ProtocolError(f"a message of {len(text)} characters (at most {MAX_MESSAGE})", "too_big")
    try:
        obj = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise ProtocolError("not JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("not a JSON object: send {\"osc\": \"/vj/...\", \"args\": [...]}")
    if "osc" in obj:
        return Osc(_address(obj["osc"]), _args(obj.get("args", [])))
    if "preview" in obj:
        if not isinstance(obj["preview"], bool):
            raise ProtocolError("preview is true or false")
        return Preview(obj["preview"])
    if "ping" in obj:
        ping = obj["ping"]
        if isinstance(ping, bool) or not (isinstance(ping, (int, float)) or (isinstance(ping, str) and len(ping) <= 64)):
            raise ProtocolError("ping is a number or a short text")
        return Ping(ping)
    raise ProtocolError("unknown message: send {\"osc\": \"/vj/...\", \"args\": [...]}, {\"preview\": true} or "
                        "{\"ping\": 1}")


def _address(address: Any) -> str:
    if not isinstance(address, str) or not address.startswith("/vj/") or len(address) > MAX_ADDRESS:
        raise ProtocolError(f"osc is a /vj/ address of at most {MAX_ADDRESS} characters")
    if not address.isprintable() or " " in address:
        raise ProtocolError("an address has no spaces or control characters")
    return address


def _args(args: Any) -> tuple[Any, ...]:
    if not isinstance(args, list) or len(args) > MAX_ARGS:
        raise ProtocolError(f"args is a list of at most {MAX_ARGS} numbers and texts")
    for a in args:
        if isinstance(a, str):
            if len(a) > MAX_TEXT:
                raise ProtocolError(f"a text of {len(a)} characters (at most {MAX_TEXT})")
        elif isinstance(a, bool) or not isinstance(a, (int, float)):
            raise ProtocolError("args are numbers and texts (not true/false, null, lists or objects)")
        elif isinstance(a, int) and abs(a) > MAX_INT:
            raise ProtocolError("a whole number too large for any parameter")
        elif isinstance(a, float) and not math.isfinite(a):
            raise ProtocolError("a number that is not finite")
    return tuple(args)


# -- what the server sends -----------------------------------------------------------------------------
def encode(kind: str, **fields: Any) -> str:
    """One message for the pages: compact JSON with its type."""
    return json.dumps({"type": kind, **fields}, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def short(x: float) -> float:
    """A value as the page needs it (6 significant digits: a tenth of a pixel on any fader)."""
    return float(f"{x:.6g}") if math.isfinite(x) else 0.0


def spec_json(spec) -> dict[str, Any]:
    """A parameter's description (core.params.ParamSpec) for the page."""
    return {"name": spec.name, "lo": short(spec.lo), "hi": short(spec.hi), "default": short(spec.default),
            "unit": spec.unit, "doc": spec.doc}


def preview_frame(jpeg: bytes, index: int, t: float, wall: float, mono: float) -> bytes:
    return PREVIEW_MAGIC + PREVIEW_HEADER.pack(index & 0xFFFFFFFF, t, wall, mono) + jpeg


def read_preview_frame(data: bytes) -> tuple[int, float, float, float, bytes]:
    """(index, show time, wall time, monotonic time, JPEG) of a binary preview frame."""
    if not data.startswith(PREVIEW_MAGIC) or len(data) < len(PREVIEW_MAGIC) + PREVIEW_HEADER.size:
        raise ProtocolError("not a preview frame")
    index, t, wall, mono = PREVIEW_HEADER.unpack_from(data, len(PREVIEW_MAGIC))
    return index, t, wall, mono, data[len(PREVIEW_MAGIC) + PREVIEW_HEADER.size:]
