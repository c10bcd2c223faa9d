"""The show log: a witness's memory of one show, as JSON lines (not a recording).

Each run writes `<state>/shows/<date>T<time>-<set>.jsonl` (the state folder: `--state DIR`, else
$VJ_STATE, else $XDG_STATE_HOME/demontage or ~/.local/state/demontage). One object a line, each
with `kind`, `t` (show time, seconds) and `wall` (local time, ISO):

    start    seed (and whether it was drawn), model, set, size, fps, mode (live | render)
    scene    the scene gone to and why (an edge and its conditions, drift, a performer's jump)
    prompt   a prompt text actually drawn from its template (slot, text, why)
    move     a parameter moved by hand (MIDI, OSC), coarsened: its last value each second
    warning  what the show said at warning level; fault at error level
    end      frames, seconds

Writing never waits on the render thread: entries go into a bounded queue that a thread of its
own drains to the file every quarter second (the file is flushed each time: a killed show keeps
all but the last moment of its log).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from vj.mailbox import BoundedInbox

FLUSH_EVERY = 0.25  # seconds between writes to the file
MOVES_EVERY = 1.0  # a moved parameter is written at most this often (its last value)


def state_dir() -> Path:
    """Where show logs (and, later, the live state) go."""
    env = os.environ.get("VJ_STATE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "demontage"


def used_seeds(folder: Path) -> set[int]:
    """The seeds of the shows logged in `folder` (their start lines)."""
    seeds = set()
    for path in (folder / "shows").glob("*.jsonl"):
        try:
            with open(path) as f:
                first = json.loads(f.readline() or "{}")
        except (OSError, ValueError):
            continue  # a log cut short or not ours: its seed is not known
        if first.get("kind") == "start" and isinstance(first.get("seed"), int):
            seeds.add(first["seed"])
    return seeds


class NoJournal:
    """The show log's stand-in where none is kept (tests, benchmarks, `vj learn`)."""

    def write(self, kind: str, **fields: Any) -> None:
        pass

    def move(self, name: str, value: float, source: str) -> None:
        pass


class ShowLog:
    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "x")  # a new show, a new file: never one written over
        self._clock = clock
        self._queue: BoundedInbox[dict] = BoundedInbox(4096)
        self._moves: dict[str, tuple[float, float, str]] = {}  # name -> (t, value, source), the latest
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handler = _Witness(self)
        logging.getLogger("vj").addHandler(self._handler)
        self._thread = threading.Thread(target=self._run, name="vj-show-log", daemon=True)
        self._thread.start()

    @staticmethod
    def new(folder: Path, set_name: str, clock: Callable[[], float]) -> "ShowLog":
        stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
        shows = folder / "shows"
        for n in range(1, 1000):  # two shows started in one second get two files
            path = shows / (f"{stamp}-{set_name}.jsonl" if n == 1 else f"{stamp}-{set_name}-{n}.jsonl")
            if not path.exists():
                return ShowLog(path, clock)
        raise OSError(f"{shows}: too many shows started at {stamp}")

    def write(self, kind: str, **fields: Any) -> None:
        """An entry, stamped now; never waits (a full queue drops its oldest, counted in the end entry)."""
        self._queue.put({"kind": kind, "t": round(self._clock(), 3), "wall": _now(), **fields})

    def move(self, name: str, value: float, source: str) -> None:
        """A parameter moved by hand: kept as its latest value, written once a second."""
        with self._lock:
            self._moves[name] = (self._clock(), value, source)

    def close(self, **end: Any) -> None:
        """The end entry, everything still queued, the file closed."""
        logging.getLogger("vj").removeHandler(self._handler)
        self._take_moves(force=True)
        self.write("end", dropped=self._queue.dropped, **end)
        self._stop.set()
        self._thread.join(5)
        self._flush()
        self._file.close()

    # -- the writer thread --------------------------------------------------------------------------
    def _run(self) -> None:
        last_moves = time.monotonic()
        while not self._stop.wait(FLUSH_EVERY):
            if time.monotonic() - last_moves >= MOVES_EVERY:
                self._take_moves()
                last_moves = time.monotonic()
            self._flush()

    def _take_moves(self, force: bool = False) -> None:
        with self._lock:
            moves, self._moves = self._moves, {}
        for name, (t, value, source) in sorted(moves.items()):
            self._queue.put({"kind": "move", "t": round(t, 3), "wall": _now(), "name": name,
                             "value": round(value, 4), "source": source})

    def _flush(self) -> None:
        entries = list(self._queue.drain())
        if not entries or self._file.closed:
            return
        try:
            self._file.write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))
            self._file.flush()
        except (OSError, ValueError):  # a full disk must not stop the show; the log is a witness
            pass


class _Witness(logging.Handler):
    """What the show says at warning level and above goes into its log too."""

    def __init__(self, show_log: ShowLog) -> None:
        super().__init__(logging.WARNING)
        self.show_log = show_log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = "fault" if record.levelno >= logging.ERROR else "warning"
            self.show_log.write(kind, message=record.getMessage())
        except Exception:  # never a log's fault that a show stops
            pass


def _now() -> str:
    return datetime.now().isoformat(timespec="milliseconds")
