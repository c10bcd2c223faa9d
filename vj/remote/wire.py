"""What travels between a show and `vj serve`: a versioned JSON header and binary parts, checked
field by field on the way in. Nothing from the network is ever unpickled or trusted: a message that
is not exactly one of the kinds below (wrong version, unknown kind or key, wrong type, a number out
of range or not finite, a part of the wrong size) raises BadMessage, whose `kind` is what the
receiver counts it under.

    show -> box                                   box -> show
    hello    session, settings, codec, machine    welcome  session, boot, label, size, codec
    snap     session, seq, the whole snapshot     refused  reason, message, retry
             + names, values (float64), spectrum  frame    session, seq, index, t, gen_ms, size,
    credit   session, pause (one frame may come            codec, input + the picture
             back on this connection)             noframe  session, seq, error (the credit back)
    input    session, id, size + a JPEG           pong     t (the ping's), boot, known
    ping     session, t
    bye      session

Snapshots are whole (never deltas) and numbered: the box keeps the newest by `seq` and drops the
rest. `t` and `index` are the show's, carried to the frame and back, so the show measures its
latency end to end on its own clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Callable

import numpy as np

from vj.core.features import Features
from vj.core.snapshot import ClockState, Snapshot, TransitionState
from vj.core.spec import SCHEDULERS

VERSION = 1
MAX_HEADER = 64 * 1024  # bytes of JSON
MAX_NAMES = 4096  # values in a snapshot
MAX_NAME = 200  # characters of a parameter's name
MAX_PROMPTS = 64
MAX_TEXT = 2000  # characters of a prompt or the negative prompt
MAX_SIDE = 4096  # pixels, either side of a frame or an input image
MAX_SEQ = 2**53  # sequence numbers, indices, ids (exact in a double)
SPECTRUM = 64  # bins of Features.spectrum
MAX_PAUSE = 2.0  # s: the longest pause a credit may ask of the box
CODECS = ("jpeg", "raw")
INPUTS = ("feedback", "pushed")  # image-to-image on the box: its own last image, or the show's camera/video


# the transport (ZeroMQ over TCP, CURVE)
MAX_MESSAGE = 16 * 1024 * 1024  # bytes: ZeroMQ drops a connection that sends more in one message
HEARTBEAT_MS = (500, 2000)  # ZMTP heartbeats: interval, timeout (a dead connection is closed, then redialled)


def tcp(host: str, port: int | str) -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


class BadMessage(Exception):
    """A message that is not ours or not well formed; `kind` groups them for counting."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


# -- the messages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """How the show wants its frames made (the model is the box's own)."""

    steps: int = 1  # denoising steps per frame, 1..50
    size: tuple[int, int] | None = None  # (w, h); None: the model's native size
    seed: int = 0
    scheduler: str | None = None  # a core/spec.SCHEDULERS name; None: the model's own
    negative: str = ""
    input: str | None = None  # None (text-to-image) | "feedback" | "pushed" (the show sends its images)
    deep_cache: int = 1  # 1..8
    stream_batch: bool | None = None  # None: the box decides (on CUDA)
    loras: tuple[str, ...] = ()  # names of LoRA adapters the show moves (lora.<name>.weight); the box loads them


@dataclass(frozen=True)
class Hello:
    session: str
    settings: Settings
    codec: str  # how frames should come back: jpeg | raw | auto (raw only when show and box share a machine)
    machine: str = ""  # this_machine() of the show's side


@dataclass(frozen=True)
class Welcome:
    session: str
    boot: str  # the server's run: a new one means a restarted box
    label: str  # the model, as the status line names it
    size: tuple[int, int]  # (w, h) of the frames
    codec: str


@dataclass(frozen=True)
class Refused:
    reason: str  # busy | settings | version | unknown-session
    message: str  # one line for the performer
    retry: bool  # worth asking again later (busy, unknown session) or not (settings)


@dataclass(frozen=True)
class Snap:
    session: str
    seq: int
    snapshot: Snapshot


@dataclass(frozen=True)
class Credit:
    session: str
    pause: float = 0.0  # s the box waits before the frame it makes against it (alternate.Stagger), 0..MAX_PAUSE


@dataclass(frozen=True)
class Ping:
    session: str
    t: float  # the sender's clock, seconds: echoed in the pong


@dataclass(frozen=True)
class Pong:
    t: float
    boot: str
    known: bool  # the session is the box's current one (False: say hello again)


@dataclass(frozen=True)
class Frame:
    session: str
    seq: int  # of the snapshot it was made from
    index: int  # that snapshot's render frame
    t: float  # that snapshot's clock time (the show's clock)
    gen_ms: float
    width: int
    height: int
    codec: str
    input: int | None  # id of the pushed image it was made from
    data: bytes | memoryview


@dataclass(frozen=True)
class NoFrame:
    session: str
    seq: int
    error: str  # "" when the loop chose not to make one (its input hardly changed)


@dataclass(frozen=True)
class Input:
    session: str
    id: int
    width: int
    height: int
    data: bytes | memoryview  # a JPEG


@dataclass(frozen=True)
class Bye:
    session: str


Message = Hello | Welcome | Refused | Snap | Credit | Ping | Pong | Frame | NoFrame | Input | Bye


# -- encoding --------------------------------------------------------------------------------------
def _head(kind: str, **body: Any) -> bytes:
    return json.dumps({"v": VERSION, "kind": kind, **body}, separators=(",", ":"), allow_nan=False).encode()


def hello(session: str, settings: Settings, codec: str, machine: str = "") -> list[bytes]:
    s = {f.name: getattr(settings, f.name) for f in fields(settings)}
    s["size"] = list(settings.size) if settings.size else None
    s["loras"] = list(settings.loras)
    return [_head("hello", session=session, settings=s, codec=codec, machine=machine)]


def this_machine() -> str:
    """Which machine this is, as a short hash (of /etc/machine-id where there is one): a box asked
    for frames "auto" sends them raw only to a show on its own machine. A show through an SSH
    tunnel looks local by its address (127.0.0.1) but is not, and gets JPEG."""
    import hashlib
    import socket
    import uuid

    try:
        with open("/etc/machine-id", "rb") as f:
            ident = f.read().strip()
    except OSError:
        ident = f"{socket.gethostname()}-{uuid.getnode()}".encode()
    return hashlib.sha256(b"demontage:" + ident).hexdigest()[:16]


def welcome(w: Welcome) -> list[bytes]:
    return [_head("welcome", session=w.session, boot=w.boot, label=w.label, size=list(w.size), codec=w.codec)]


def refused(reason: str, message: str, retry: bool) -> list[bytes]:
    return [_head("refused", reason=reason, message=message, retry=retry)]


class SnapEncoder:
    """Snapshots -> parts. The names part is made again only when the names change (it is sent
    whole each time all the same: the box needs nothing from an earlier snapshot)."""

    def __init__(self) -> None:
        self._keys: tuple[str, ...] = ()
        self._names = b""

    def encode(self, session: str, seq: int, snap: Snapshot) -> list[bytes]:
        values = snap.values
        keys = tuple(values)
        if keys != self._keys:
            self._keys, self._names = keys, "\n".join(keys).encode()
        vals = np.fromiter((values[k] for k in keys), np.float64, len(keys))
        a = snap.audio
        audio = {f: (bool(getattr(a, f)) if f in _AUDIO_FLAGS else float(getattr(a, f))) for f in _AUDIO_NUMBERS}
        c = snap.clock
        head = _head("snap", session=session, seq=seq, index=snap.index, t=float(snap.t), prompts=list(snap.prompts),
                     seed=int(snap.seed), seeds=[int(s) for s in snap.seeds],
                     transition=[snap.transition.serial, float(snap.transition.progress)] if snap.transition else None,
                     clock={"bpm": float(c.bpm), "beat": float(c.beat), "source": c.source, "quantum": int(c.quantum),
                            "peers": int(c.peers), "note": c.note},
                     audio=audio)
        spectrum = np.ascontiguousarray(a.spectrum, np.float32)
        return [head, self._names, vals.astype("<f8").tobytes(), spectrum.astype("<f4").tobytes()]


def credit(session: str, pause: float = 0.0) -> list[bytes]:
    return [_head("credit", session=session, pause=round(pause, 4))]


def ping(session: str, t: float) -> list[bytes]:
    return [_head("ping", session=session, t=t)]


def pong(t: float, boot: str, known: bool) -> list[bytes]:
    return [_head("pong", t=t, boot=boot, known=known)]


def frame(session: str, seq: int, index: int, t: float, gen_ms: float, width: int, height: int, codec: str,
          input_id: int | None, data) -> list:
    return [_head("frame", session=session, seq=seq, index=index, t=t, gen_ms=round(gen_ms, 3), width=width,
                  height=height, codec=codec, input=input_id), data]


def noframe(session: str, seq: int, error: str) -> list[bytes]:
    return [_head("noframe", session=session, seq=seq, error=error[:200])]


def input_image(session: str, image_id: int, width: int, height: int, jpeg) -> list:
    return [_head("input", session=session, id=image_id, width=width, height=height), jpeg]


def bye(session: str) -> list[bytes]:
    return [_head("bye", session=session)]


# -- decoding: every field checked -----------------------------------------------------------------
def _reject_constant(name: str):
    raise BadMessage("not finite", f"{name} in the header (numbers must be finite)")


def _header(raw) -> dict:
    if len(raw) > MAX_HEADER:
        raise BadMessage("too large", f"a header of {len(raw)} bytes (at most {MAX_HEADER})")
    try:
        head = json.loads(bytes(raw), parse_constant=_reject_constant)
    except BadMessage:
        raise
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadMessage("not JSON", "the header is not JSON") from None
    if not isinstance(head, dict):
        raise BadMessage("wrong type", "the header is not a JSON object")
    v = head.get("v")
    if v != VERSION:
        raise BadMessage("wrong version", f"version {v!r} (this side speaks {VERSION}: run the same vj on both sides)")
    return head


def _int(lo: int, hi: int) -> Callable[[str, Any], int]:
    def read(name: str, x: Any) -> int:
        if not isinstance(x, int) or isinstance(x, bool):
            raise BadMessage("wrong type", f"{name} = {_shown(x)}: a whole number")
        if not lo <= x <= hi:
            raise BadMessage("out of range", f"{name} = {x}: out of {lo}..{hi}")
        return x
    return read


def _num(lo: float = -1e12, hi: float = 1e12) -> Callable[[str, Any], float]:
    def read(name: str, x: Any) -> float:
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise BadMessage("wrong type", f"{name} = {_shown(x)}: a number")
        if not lo <= x <= hi:  # JSON has no NaN here (refused while parsing); huge values end here
            raise BadMessage("out of range", f"{name} = {x}: out of {lo:g}..{hi:g}")
        return float(x)
    return read


def _text(limit: int) -> Callable[[str, Any], str]:
    def read(name: str, x: Any) -> str:
        if not isinstance(x, str):
            raise BadMessage("wrong type", f"{name} = {_shown(x)}: text")
        if len(x) > limit:
            raise BadMessage("too large", f"{name}: {len(x)} characters (at most {limit})")
        return x
    return read


def _flag(name: str, x: Any) -> bool:
    if not isinstance(x, bool):
        raise BadMessage("wrong type", f"{name} = {_shown(x)}: true or false")
    return x


def _one_of(choices) -> Callable[[str, Any], str]:
    def read(name: str, x: Any) -> str:
        if x not in choices or not isinstance(x, str):
            raise BadMessage("out of range", f"{name} = {_shown(x)}: one of {', '.join(choices)}")
        return x
    return read


def _maybe(read: Callable) -> Callable:
    return lambda name, x: None if x is None else read(name, x)


def _list(read: Callable, limit: int) -> Callable[[str, Any], tuple]:
    def read_list(name: str, x: Any) -> tuple:
        if not isinstance(x, list):
            raise BadMessage("wrong type", f"{name}: a list")
        if len(x) > limit:
            raise BadMessage("too large", f"{name}: {len(x)} items (at most {limit})")
        return tuple(read(f"{name}[{i}]", v) for i, v in enumerate(x))
    return read_list


def _size(name: str, x: Any) -> tuple[int, int]:
    if not isinstance(x, list) or len(x) != 2:
        raise BadMessage("wrong type", f"{name}: [width, height]")
    side = _int(1, MAX_SIDE)
    return side(f"{name}[0]", x[0]), side(f"{name}[1]", x[1])


_SESSION = _text(64)
_SEQ = _int(0, MAX_SEQ)
_TIME = _num(-1e9, 1e9)
_SEED = _int(0, 2**63 - 1)


def _fields(head: dict, kind: str, schema: dict[str, Callable]) -> dict[str, Any]:
    """The header's fields read by `schema` (name -> reader); extra or missing keys are refused."""
    extra = set(head) - set(schema) - {"v", "kind"}
    if extra:
        raise BadMessage("unknown field", f"{kind}: unknown field {sorted(extra)[0]!r}")
    missing = [k for k in schema if k not in head]
    if missing:
        raise BadMessage("missing field", f"{kind}: no {missing[0]!r}")
    return {k: read(f"{kind}.{k}", head[k]) for k, read in schema.items()}


def _settings(name: str, x: Any) -> Settings:
    if not isinstance(x, dict):
        raise BadMessage("wrong type", f"{name}: an object")
    f = _fields(x, name, {"steps": _int(1, 50), "size": _maybe(_size), "seed": _SEED,
                          "scheduler": _maybe(_one_of(tuple(SCHEDULERS))), "negative": _text(MAX_TEXT),
                          "input": _maybe(_one_of(INPUTS)), "deep_cache": _int(1, 8), "stream_batch": _maybe(_flag),
                          "loras": _list(_text(MAX_NAME), 64)})
    return Settings(**f)


_AUDIO_FLAGS = ("bass_hit", "mid_hit", "high_hit", "onset", "beat")
_AUDIO_NUMBERS = tuple(f.name for f in fields(Features) if f.name != "spectrum")


def _audio(name: str, x: Any) -> dict:
    if not isinstance(x, dict):
        raise BadMessage("wrong type", f"{name}: an object")
    return _fields(x, name, {k: (_flag if k in _AUDIO_FLAGS else _num()) for k in _AUDIO_NUMBERS})


def _clock(name: str, x: Any) -> ClockState:
    if not isinstance(x, dict):
        raise BadMessage("wrong type", f"{name}: an object")
    return ClockState(**_fields(x, name, {"bpm": _num(0, 1000), "beat": _num(), "source": _text(20),
                                          "quantum": _int(1, 64), "peers": _int(0, 10000), "note": _text(200)}))


def _transition(name: str, x: Any) -> TransitionState | None:
    if x is None:
        return None
    if not isinstance(x, list) or len(x) != 2:
        raise BadMessage("wrong type", f"{name}: [serial, progress]")
    return TransitionState(_int(0, MAX_SEQ)(f"{name}[0]", x[0]), _num(0.0, 1.0)(f"{name}[1]", x[1]))


_SCHEMAS: dict[str, dict[str, Callable]] = {
    "hello": {"session": _SESSION, "settings": _settings, "codec": _one_of(CODECS + ("auto",)), "machine": _text(64)},
    "welcome": {"session": _SESSION, "boot": _text(64), "label": _text(200), "size": _size, "codec": _one_of(CODECS)},
    "refused": {"reason": _text(40), "message": _text(500), "retry": _flag},
    "snap": {"session": _SESSION, "seq": _SEQ, "index": _SEQ, "t": _TIME, "prompts": _list(_text(MAX_TEXT), MAX_PROMPTS),
             "seed": _SEED, "seeds": _list(_SEED, 16), "transition": _transition, "clock": _clock, "audio": _audio},
    "credit": {"session": _SESSION, "pause": _num(0.0, MAX_PAUSE)},
    "ping": {"session": _SESSION, "t": _TIME},
    "pong": {"t": _TIME, "boot": _text(64), "known": _flag},
    "frame": {"session": _SESSION, "seq": _SEQ, "index": _SEQ, "t": _TIME, "gen_ms": _num(0, 1e7),
              "width": _int(1, MAX_SIDE), "height": _int(1, MAX_SIDE), "codec": _one_of(CODECS),
              "input": _maybe(_SEQ)},
    "noframe": {"session": _SESSION, "seq": _SEQ, "error": _text(500)},
    "input": {"session": _SESSION, "id": _SEQ, "width": _int(1, MAX_SIDE), "height": _int(1, MAX_SIDE)},
    "bye": {"session": _SESSION},
}
_PARTS = {"snap": 4, "frame": 2, "input": 2}  # every other kind is its header alone


class Decoder:
    """Parts as received -> messages. One per receiving thread: it keeps the last names part it
    read (the names change only when a parameter is added), so a snapshot costs no re-splitting."""

    def __init__(self) -> None:
        self._names_raw = b""
        self._names: tuple[str, ...] = ()

    def decode(self, parts: list) -> Message:
        """Parts (bytes or buffers) -> a message; BadMessage otherwise."""
        if not parts:
            raise BadMessage("empty", "an empty message")
        head = _header(parts[0])
        kind = head.get("kind")
        if not isinstance(kind, str) or kind not in _SCHEMAS:
            raise BadMessage("unknown kind", f"kind {_shown(kind)}")
        want = _PARTS.get(kind, 1)
        if len(parts) != want:
            raise BadMessage("wrong parts", f"{kind}: {len(parts)} parts (it has {want})")
        f = _fields(head, kind, _SCHEMAS[kind])
        if kind == "snap":
            return Snap(f["session"], f["seq"], _snapshot(f, self.names(parts[1]), parts[2], parts[3]))
        if kind == "frame":
            return _frame(f, parts[1])
        if kind == "input":
            if len(parts[1]) > f["width"] * f["height"] * 3 + 4096:
                raise BadMessage("too large", f"an input image of {len(parts[1])} bytes for {f['width']}x{f['height']}")
            return Input(f["session"], f["id"], f["width"], f["height"], parts[1])
        if kind == "welcome":
            f["size"] = tuple(f["size"])
        return _BY_KIND[kind](**f)

    def names(self, raw) -> tuple[str, ...]:
        raw = bytes(raw)
        if raw == self._names_raw:
            return self._names
        if len(raw) > MAX_NAMES * (MAX_NAME + 1):
            raise BadMessage("too large", f"a names part of {len(raw)} bytes")
        try:
            names = tuple(raw.decode().split("\n")) if raw else ()
        except UnicodeDecodeError:
            raise BadMessage("wrong type", "parameter names are not UTF-8 text") from None
        if len(names) > MAX_NAMES or any(not n or len(n) > MAX_NAME for n in names):
            raise BadMessage("out of range", f"{len(names)} parameter names, or an empty or overlong one")
        if len(set(names)) != len(names):
            raise BadMessage("out of range", "a parameter name twice")
        self._names_raw, self._names = raw, names
        return names


_BY_KIND = {"hello": Hello, "welcome": Welcome, "refused": Refused, "credit": Credit, "ping": Ping, "pong": Pong,
            "noframe": NoFrame, "bye": Bye}


def _snapshot(f: dict, names: tuple[str, ...], values_raw, spectrum_raw) -> Snapshot:
    if len(values_raw) != 8 * len(names):
        raise BadMessage("wrong size", f"{len(values_raw)} bytes of values for {len(names)} names")
    values = np.frombuffer(values_raw, "<f8")
    if not np.isfinite(values).all():
        raise BadMessage("not finite", "a parameter value is NaN or infinite")
    if len(spectrum_raw) != 4 * SPECTRUM:
        raise BadMessage("wrong size", f"a spectrum of {len(spectrum_raw)} bytes (it has {4 * SPECTRUM})")
    spectrum = np.frombuffer(spectrum_raw, "<f4").astype(np.float32)
    if not np.isfinite(spectrum).all():
        raise BadMessage("not finite", "the spectrum has NaN or infinite values")
    spectrum.flags.writeable = False
    audio = Features(**f["audio"], spectrum=spectrum)
    return Snapshot(f["index"], f["t"], MappingProxyType(dict(zip(names, values.tolist()))), f["prompts"], f["seed"],
                    audio, f["seeds"], f["transition"], f["clock"])


def _frame(f: dict, data) -> Frame:
    w, h = f["width"], f["height"]
    n = len(data)
    if f["codec"] == "raw" and n != w * h * 3:
        raise BadMessage("wrong size", f"a raw frame of {n} bytes for {w}x{h}")
    if f["codec"] == "jpeg" and n > w * h * 3 + 4096:
        raise BadMessage("too large", f"a JPEG of {n} bytes for {w}x{h}")
    return Frame(data=data, **f)


def _shown(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."
