"""What crosses a pipe between the show and its child processes, as frozen dataclasses (pickled by
multiprocessing), in place of positional tuples. supervisor.Child reads the handshake (Hello, Ready,
Fatal) and sends Stop; each child's own messages are below its heading."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vj.core.features import Features
from vj.core.params import ParamSpec
from vj.core.snapshot import Snapshot, TransitionState


# -- the handshake, every child ------------------------------------------------------------------
@dataclass(frozen=True)
class Hello:
    """The child is alive and reads its inbox (heavy imports come after this)."""


@dataclass(frozen=True)
class Ready:
    """The child is up (each child's own Ready says with what)."""


@dataclass(frozen=True)
class Fatal:
    """The child cannot start (or, for a capture, its device stopped): one line for the performer."""

    message: str


@dataclass(frozen=True)
class Stop:
    """Parent -> child: finish and exit."""


# -- the generator process -------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratorReady(Ready):
    width: int
    height: int
    label: str  # the model, as the status line names it


@dataclass(frozen=True)
class SnapshotMsg:
    """Parent -> child: a Snapshot (its values as a plain dict: a mapping proxy does not pickle)."""

    index: int
    t: float
    values: dict[str, float]
    prompts: tuple[str, ...]
    seed: int
    audio: Features = field(default_factory=Features)
    seeds: tuple[int, ...] = ()
    transition: TransitionState | None = None

    @staticmethod
    def of(s: Snapshot) -> "SnapshotMsg":
        return SnapshotMsg(s.index, s.t, dict(s.values), s.prompts, s.seed, s.audio, s.seeds, s.transition)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.index, self.t, MappingProxyType(self.values), self.prompts, self.seed, self.audio,
                        self.seeds, self.transition)


@dataclass(frozen=True)
class SharedFrames:
    """Parent -> child: the shared-memory segment the frames go into, `slots` of `slot_bytes`."""

    name: str
    slots: int
    slot_bytes: int


@dataclass(frozen=True)
class Release:
    """Parent -> child: the renderer is done with this slot."""

    slot: int


@dataclass(frozen=True)
class FrameDone:
    """Child -> parent: a frame lies in `slot` (and, with `with_input`, its input image after it)."""

    slot: int
    index: int  # the snapshot it was made from
    t_snapshot: float
    gen_ms: float
    width: int
    height: int
    with_input: bool
    map_offset: int = 0  # bytes into the slot where the control map lies (a `control` layer shows it); 0: none
    t_input: float = 0.0  # monotonic time its camera/video frame was read (0: none): camera-to-twin latency


@dataclass(frozen=True)
class FrameFailed:
    errors: int  # so far, in this child
    message: str


@dataclass(frozen=True)
class FrameDropped:
    dropped: int  # so far: the renderer held every slot


# -- the control process -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlReady(Ready):
    osc: tuple[str, int] | None  # the address it listens on
    midi: tuple[str, ...]  # the ports it opened
    priority: str  # what its scheduling priority came to
    web: tuple[str, int] | None = None  # the browser remote's address (vj/web/), when it serves


@dataclass(frozen=True)
class Action:
    """Something for the render thread to do (a prompt, a scene, a seed...): posted into the show's
    Controls inbox, from the control process through its pipe or by a listener in the show's process."""

    kind: str  # prompt | resample | scene | seed | tap | bpm | pickup | learn | route_add | route_remove
    args: tuple[Any, ...] = ()
    origin: str = ""  # who asked (for the log)


@dataclass(frozen=True)
class SourceValue:
    """Child -> parent: an event source moved (a note, a pad), for envelopes and triggers."""

    name: str
    value: float


@dataclass(frozen=True)
class Declare:
    """Parent -> child: a parameter declared after the start (a prompt slot added live)."""

    index: int
    spec: ParamSpec


@dataclass(frozen=True)
class ShowState:
    """Parent -> child: what the control surfaces show (pads light the scene that plays)."""

    prompts: tuple[str, ...]
    scene: str | None
    seed: int
    bpm: float = 0.0  # the tempo in force (the show clock's), for /vj/list and a tempo encoder


# -- the sound card's capture process ------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureOpen(Ready):
    device: str
    samplerate: int
    channels: int
