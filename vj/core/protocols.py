"""What the engine talks to, as Protocols: a clock, an audio input, a generator, an output, the
frame a generator hands back, and the control sink that OSC and MIDI write into. The engine reads only what is written here; every
implementation says all of it (a sound card that cannot end still says `ended = False`), so
nothing is probed with getattr/hasattr on the way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np

from vj.core.features import Features
from vj.core.params import Listener, ParamSpec
from vj.core.snapshot import Snapshot

if TYPE_CHECKING:  # types only: the audio track and the program frame live above this floor
    from pathlib import Path


class Clock(Protocol):
    live: bool  # True: wall time (a show); False: set frame by frame (an offline render)

    def now(self) -> float: ...


class InputHealth(Protocol):
    """How clean the sound coming in is (the analyser counts what it had to mend), and the tempo a
    hand holds in its beat tracker."""

    bad_samples: int  # NaN/Inf samples replaced by silence
    clipped: int  # samples at or over full scale

    def set_bpm(self, bpm: float | None) -> None: ...  # hold the tracker's tempo (None: let it go)


class AudioTrackLike(Protocol):
    path: "Path"
    loop: bool


class AudioInput(Protocol):
    """A sound card, a file, or silence: analysed features on demand."""

    name: str
    samplerate: int
    status: str  # one line for the start of a show: what is listened to
    lost: bool  # a sound card that stopped delivering (being reopened meanwhile)
    ended: bool  # a file played to its end: silence from here
    analyzer: InputHealth | None  # None: nothing is analysed (silence)
    track: AudioTrackLike | None  # the file a recording muxes in, if the sound is a file
    duration: float | None  # seconds, for a file
    records: bool  # a live sound card: a recording tapes it beside the video

    def start(self) -> None: ...

    def poll(self, t: float) -> Features: ...

    def tap(self, when: float | None = None) -> None: ...  # a tap on the beat for the beat tracker, `when`:
    # time.monotonic() as it arrived (None: now); nothing where there is no tracker

    def close(self) -> None: ...


@dataclass(frozen=True)
class GenFrame:
    """A generated picture, as the generator hands it to the renderer."""

    pixels: np.ndarray  # (h, w, 3) uint8, row 0 at the top
    index: int  # the render frame whose snapshot it was made from
    t_snapshot: float  # clock time of that snapshot, seconds
    gen_ms: float  # wall time to make it
    input: np.ndarray | None = None  # the camera or video image it was made from (the preview's feed)
    map: np.ndarray | None = None  # (h, w, 3) uint8: the first [[control]]'s map it was guided by (a `control` layer)
    t_input: float = 0.0  # monotonic time its camera/video frame was read (0: none): camera-to-twin latency


class Loop(Protocol):
    """What makes the pictures (generate/loop.StreamLoop, or a wrapper around one)."""

    size: tuple[int, int]  # (w, h) of the frames it makes
    frame_input: np.ndarray | None  # the camera or video image the last frame was made from, if any
    frame_map: np.ndarray | None  # the first control's map the last frame was guided by, if any

    def frame(self, snap: Snapshot) -> np.ndarray: ...  # (h, w, 3) uint8

    def shrink(self) -> tuple[int, int] | None: ...  # out of memory: smaller frames (None: as small as it goes)

    def close(self) -> None: ...  # an input's ffmpeg or camera


@dataclass(frozen=True)
class LinkFigures:
    """Where a generator's frames come from, in numbers (OSC out, benchmarks)."""

    round_trip_ms: float | None = None  # to the box that makes them; None: made on this machine
    frame_age_ms: float | None = None  # snapshot handed over -> its frame back here (median of recent frames)
    lost: bool = False  # the box is gone: the last good frame holds


class FrameGenerator(Protocol):
    """Snapshots in, pictures out: on a thread here (worker.Generator), in a process of its own
    (process.ProcessGenerator), or on a box over the network (remote.client.RemoteGenerator).
    submit and latest never block."""

    size: tuple[int, int] | None  # (w, h) of the frames it makes
    state: str  # ready | starting | running | restarting | lost (a box gone) | failed | stopped
    frames: int
    errors: int
    last_error: str
    want_input: bool  # the renderer shows the input feed (only then is it handed over)
    want_map: bool  # the renderer shows the control map (a `control` layer)
    link: str  # where the frames are made: "thread", "process", or the box(es) "HOST:PORT[ + HOST:PORT]"
    program_picture: object  # shm.LatestPicture the show writes when a control reads the program (else None)

    def link_status(self) -> str: ...  # one line on where frames come from ("" when there is nothing to say)

    def link_figures(self) -> LinkFigures: ...

    def start(self) -> None: ...

    def submit(self, snap: Snapshot) -> None: ...

    def latest(self) -> GenFrame | None: ...

    def fps(self) -> float: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class OfflineGenerator(FrameGenerator, Protocol):
    """A generator that can also make a frame right here, in step with an offline render."""

    def produce(self, snap: Snapshot) -> GenFrame | None: ...


class ProgramFrameLike(Protocol):
    """One render frame's program image, as an output reads it (vj.output.base.ProgramFrame)."""

    size: tuple[int, int]
    t: float
    index: int

    def rgba(self) -> bytes: ...  # bottom row first, read back at most once a frame


class Output(Protocol):
    """Where the program goes: a window, a recording, a stream, a shared texture. Implementations
    derive from vj.output.base.Output, which gives the defaults (finish, reopen, status)."""

    name: str
    wants_stop: bool  # the user asked to end the show through it (a window closed)
    reopens: bool  # lost, it is tried again (a stream's receiver may come back)
    wants_input: bool  # it shows the generator's input image (a window's split view)

    def present(self, frame: ProgramFrameLike) -> None: ...

    def close(self) -> None: ...

    def finish(self, t_end: float) -> None: ...  # the show ended at clock time t_end (before close)

    def reopen(self) -> "Output | None": ...

    def status(self) -> str: ...


class Journal(Protocol):
    """The show log (vj/show/log.py): what happened, for a witness. Never waits."""

    def write(self, kind: str, **fields: Any) -> None: ...

    def move(self, name: str, value: float, source: str) -> None: ...  # coarsened: the last value a second


# -- the one way in for control -------------------------------------------------------------------
class ParamTable(Protocol):
    """The named parameters as a hand sees them: what there is, and set a value."""

    def __contains__(self, name: str) -> bool: ...

    def names(self) -> list[str]: ...

    def spec(self, name: str, where: str = "parameter") -> ParamSpec: ...

    def set(self, name: str, value: float, *, immediate: bool = False, source: str = "set",
            where: str = "parameter") -> float: ...  # clamped to the range; returns what was set

    def target(self, name: str) -> float: ...  # the value a hand last asked for

    def values(self) -> dict[str, float]: ...

    def on_change(self, listener: Listener) -> None: ...


class Counting(Protocol):
    """Counters of what came in and what was wrong with it (the status line, /vj/status)."""

    def add(self, key: str, n: int = 1) -> None: ...

    def get(self, key: str) -> int: ...

    def snapshot(self) -> dict[str, int]: ...


class ControlSink(Protocol):
    """Where OSC (control/osc.py) and MIDI (control/midi.py) write. Two implementations: the show's
    Controls (control/hub.py) when a listener runs in the show's process (tests, `vj learn`), and
    StoreSink (control/store_sink.py) in the control process, over the shared store and its pipe."""

    params: ParamTable
    counters: Counting
    sources: tuple[str, ...]  # modulation sources routes may read (audio.*, lfo.*, env.*)
    prompts: list[str]  # the prompt texts sung now
    seed: int
    scene: str | None  # the scene playing, by name
    bpm: float  # the tempo in force (the show clock's), 0 before the first frame
    learn_handler: Callable[[str], str | None] | None  # MIDI learn, set by the MIDI side

    def post(self, kind: str, *args: Any, origin: str = "") -> None: ...  # an action for the render thread

    def set_source(self, name: str, value: float, event: bool = False) -> None: ...  # midi.* / osc.* values

    def scene_names(self) -> list[str]: ...

    def find_scene(self, which: str | int) -> Any: ...  # ValueError says what there is
