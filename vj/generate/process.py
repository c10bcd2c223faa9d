"""The generator in a process of its own, for live shows.

Why a process: the render loop and the diffusion loop are both Python; in one process they
share the GIL, and a compositor on a software GL driver (or any long GL call) starves the
generator (measured: 0.2 fps instead of 22, see BENCHMARKS.md). A process of its own also means a
hard crash in torch (a driver fault, the OOM killer) takes down the generator, not the show: it
is restarted while the compositor keeps playing the last frame.

    render process                               generator process
    submit(snapshot) --- snapshot pipe --------> reader thread -> latest-value Mailbox
                                                  main thread: loop.frame() -> a free shm slot
    latest()  <--------- event pipe ------------ FrameDone(slot, ...), FrameFailed(...)
              --- Release(slot) ---------------> the slot is free again

Frames travel through shared memory (three slots: one the renderer holds, the newest frame it was
given, viewed and uploaded without a copy; one being written; one spare; with a camera or video
input a slot also holds the input image the frame was made from, for the preview's split view);
the pipes carry only small messages, so neither side ever waits
for the other.
Snapshots are sent only once the child has said Hello (its reader thread drains the pipe). The
messages are core/messages.py's; supervisor.Child spawns, watches, restarts and stops the process.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from dataclasses import dataclass

import numpy as np

from vj.core.errors import ModelLoadError, VJError
from vj.core.messages import (Fatal, FrameDone, FrameDropped, FrameFailed, GeneratorReady, Hello, Release,
                              SharedFrames, SnapshotMsg, Stop)
from vj.core.protocols import GenFrame, LinkFigures
from vj.core.snapshot import Snapshot
from vj.log import log
from vj.meter import RateMeter
from vj.shm import LatestPicture
from vj.supervisor import Backoff, Child, ChildFailed

RESTART_FIRST, RESTART_MOST = 1.0, 30.0  # seconds: a crashed child's back-off (a model reload is heavy)

SLOTS = 3


@dataclass(frozen=True)
class GeneratorConfig:
    model: str  # registry name, folder or hub id
    device: str = "auto"
    steps: int = 1
    size: tuple[int, int] | None = None  # None: the model's native size
    seed: int = 0
    threads: int | None = None  # torch CPU threads; None: see device.configure_threads
    wrap: str | None = None  # "module:callable" wrapping the loop: the fault-injection hook tests use
    tiny_vae: bool = False  # decode with TAESD
    input: str | None = None  # image-to-image: "feedback", "camera:N" or a video file (None: text-to-image)
    stream_batch: bool | None = None  # None: on CUDA (see samplers.EulerSampler._batched)
    deep_cache: int = 1  # see deepcache.py
    scheduler: str | None = None  # swap the model's scheduler (core/spec.SCHEDULERS)
    negative: str = ""  # the negative prompt (guidance)
    loras: tuple = ()  # core/spec.LoraSpec: the set's LoRA adapters
    controls: tuple = ()  # core/spec.ControlSpec: the set's ControlNets
    ipadapter: object = None  # core/spec.IpAdapterSpec: the set's IP-Adapter (None: none)
    program_size: tuple[int, int] | None = None  # a control reads the program picture: its size (else None)
    program: str | None = None  # the shared picture's name (made by ProcessGenerator, read by the child)


# -- the child ----------------------------------------------------------------------------------
class _Inbox:
    """The child's reader thread: the newest snapshot in a mailbox, the free slots, the segment."""

    def __init__(self, inbox) -> None:
        from vj.mailbox import Mailbox

        self.box: Mailbox = Mailbox()
        self.free: set[int] = set()
        self.lock = threading.Lock()
        self.shm_ready = threading.Event()
        self.stop = threading.Event()
        self.frames: SharedFrames | None = None
        self._inbox = inbox
        threading.Thread(target=self._read, name="vj-gen-reader", daemon=True).start()

    def _read(self) -> None:
        while not self.stop.is_set():
            try:
                msg = self._inbox.recv()
            except (EOFError, OSError):  # the parent is gone
                msg = Stop()
            if isinstance(msg, SnapshotMsg):
                self.box.put(msg)
            elif isinstance(msg, Release):
                with self.lock:
                    self.free.add(msg.slot)
            elif isinstance(msg, SharedFrames):
                self.frames = msg
                with self.lock:
                    self.free.update(range(msg.slots))
                self.shm_ready.set()
            elif isinstance(msg, Stop):
                self.stop.set()
                self.box.put(None)
                return

    def take_slot(self) -> int | None:
        with self.lock:
            return self.free.pop() if self.free else None


def _load_loop(cfg: GeneratorConfig):
    """The model and its streaming loop (wrapped by cfg.wrap, the tests' fault hook)."""
    import torch  # noqa: F401  (heavy imports after Hello: the parent may send already)

    from vj.generate import device as torch_device
    from vj.generate import registry
    from vj.generate.families import make_loop

    spec = registry.resolve(cfg.model)
    dev, dtype = torch_device.pick(cfg.device)
    torch_device.configure_threads(dev, cfg.threads)
    model = registry.load(spec, dev, dtype, progress=log.info, tiny_vae=cfg.tiny_vae, scheduler=cfg.scheduler,
                          loras=cfg.loras, controls=cfg.controls, ipadapter=cfg.ipadapter)
    batch = cfg.stream_batch if cfg.stream_batch is not None else dev.type == "cuda"
    loop = make_loop(model, cfg.size or spec.native_size, cfg.steps, cfg.seed, live=True, input=cfg.input,
                     batch=batch, deep_cache=cfg.deep_cache, negative=cfg.negative)
    if cfg.program:
        loop.program = attach_program(cfg.program, cfg.program_size)
    if cfg.wrap:
        mod, _, fn = cfg.wrap.partition(":")
        loop = getattr(importlib.import_module(mod), fn)(loop)
    return loop, loop.size, spec.label  # the wrapper's size (a benchmark's stand-in may scale the frames)


def attach_program(name: str, size: tuple[int, int]):
    """The program picture the show writes, attached here (None, said, if it is gone already)."""
    try:
        return LatestPicture(size, name)
    except (FileNotFoundError, ValueError) as e:
        log.warning(f"generator: the program picture is not there ({e}); source = \"program\" reads nothing")
        return None


def _child_main(inbox, outbox, cfg: GeneratorConfig) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the show's; the parent stops us
    _name_process(f"vj {cfg.model}")
    reader = _Inbox(inbox)
    outbox.send(Hello())

    from vj.log import quiet_libraries, setup

    setup()
    quiet_libraries()
    try:
        loop, (w, h), label = _load_loop(cfg)
    except VJError as e:
        outbox.send(Fatal(str(e)))
        return
    except Exception as e:  # anything else while loading: still one line for the performer
        outbox.send(Fatal(f"generator failed to start: {type(e).__name__}: {e}".splitlines()[0]))
        return
    outbox.send(GeneratorReady(w, h, label))
    while not reader.shm_ready.wait(0.5):
        if reader.stop.is_set():
            return
    try:
        _make_frames(loop, reader, outbox)
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent went away
    finally:
        loop.close()  # an input's ffmpeg or camera


def _name_process(name: str) -> None:
    """The process's name as `ps -o comm` and `top` show it ("vj seedling"): with several generators
    (a show's layers, a fallback), which process is which model. Linux (PR_SET_NAME, 15 bytes); elsewhere
    nothing."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(15, name.encode("utf-8")[:15], 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _make_frames(loop, reader: _Inbox, outbox) -> None:
    """Newest snapshot -> frame -> a free slot, until Stop. A frame with no free slot is dropped
    (the renderer holds them all): never wait."""
    from multiprocessing import shared_memory

    from vj.generate.worker import Generator

    # The parent owns and unlinks the segment; a spawned child shares its resource tracker.
    frames = reader.frames
    shm = shared_memory.SharedMemory(name=frames.name)
    gen = Generator(loop)
    dropped = 0
    try:
        while not reader.stop.is_set():
            msg = reader.box.wait(0.25)
            if msg is None:
                continue
            errors = gen.errors
            frame = gen.produce(msg.snapshot())
            if frame is None:
                if gen.errors != errors:
                    outbox.send(FrameFailed(gen.errors, gen.last_error))
                continue
            k = reader.take_slot()
            if k is None:
                dropped += 1
                outbox.send(FrameDropped(dropped))
                continue
            outbox.send(_write_slot(shm, k, frames.slot_bytes, frame))
    finally:
        shm.close()


def _write_slot(shm, k: int, slot_bytes: int, frame: GenFrame) -> FrameDone:
    px = frame.pixels  # smaller than the slot after an out-of-memory shrink: it still fits
    view = np.ndarray(px.shape, np.uint8, buffer=shm.buf, offset=k * slot_bytes)
    view[...] = px
    inp = frame.input
    with_input = inp is not None and inp.shape == px.shape and 2 * px.nbytes <= slot_bytes
    if with_input:
        view = np.ndarray(px.shape, np.uint8, buffer=shm.buf, offset=k * slot_bytes + px.nbytes)
        view[...] = inp
    at = px.nbytes * (2 if with_input else 1)  # the control map after the picture (and its input)
    m = frame.map
    map_offset = at if m is not None and m.shape == px.shape and at + px.nbytes <= slot_bytes else 0
    if map_offset:
        view = np.ndarray(px.shape, np.uint8, buffer=shm.buf, offset=k * slot_bytes + at)
        view[...] = m
    del view
    return FrameDone(k, frame.index, frame.t_snapshot, frame.gen_ms, px.shape[1], px.shape[0], with_input, map_offset,
                     frame.t_input)


def _image_in(shm, offset: int, w: int, h: int) -> np.ndarray:
    """An (h, w, 3) view of the segment that keeps it mapped while the view lives: an array made
    with np.ndarray(buffer=shm.buf) does not, and reading it after close() is a segfault."""
    return np.frombuffer(shm.buf[offset:offset + w * h * 3], np.uint8).reshape(h, w, 3)


def _closed(shm) -> bool:
    """Unmap a segment; False while a frame given out still views it (tried again later)."""
    try:
        shm.close()
        return True
    except BufferError:
        return False


# -- the parent side ------------------------------------------------------------------------------
class ProcessGenerator:
    """Same face as worker.Generator (core.protocols.FrameGenerator): start, submit, latest, stop,
    frames, errors, fps."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        # the program picture a control reads (output/program.py writes it, the child reads it)
        self.program_picture = LatestPicture(cfg.program_size) if cfg.program_size else None
        if self.program_picture is not None:
            cfg = dataclasses.replace(cfg, program=self.program_picture.name)
        self.cfg = cfg
        self.want_input = True  # the engine clears it while no window shows the input feed
        self.want_map = True  # likewise while no `control` layer shows the control map
        self.link = "process"  # made on this machine, in a process of its own
        self._child = Child("generator", _child_main, (cfg,), Backoff(RESTART_FIRST, RESTART_MOST))
        self._shm = None
        self._slot_bytes = 0
        self._held: int | None = None  # the slot the last frame given out lies in (see latest)
        self._retired: list = []  # dropped segments a frame given out still viewed
        self.size: tuple[int, int] | None = None
        self.label = cfg.model
        self.frames = 0
        self.errors = 0
        self.dropped = 0
        self.last_index = -1  # snapshot index of the newest frame received
        self.last_error = ""
        self.state = "stopped"  # starting | running | restarting | failed | stopped
        self._rate = RateMeter()
        self._newest: FrameDone | None = None

    @property
    def restarts(self) -> int:
        return self._child.restarts

    def start(self, wait_ready: bool = True, timeout: float | None = None, on_wait=None) -> None:
        """Start the child; with wait_ready, block until its model is loaded (show start only),
        calling `on_wait()` about ten times a second meanwhile (to keep a window alive)."""
        if self._child.alive:
            return
        self._child.spawn()
        self.state = "starting"
        if not wait_ready:
            return
        try:
            self._ready(self._child.wait_ready(timeout, on_wait, self._on_message))
        except ChildFailed as e:
            self.last_error = str(e)
            self.stop()
            if e.fatal:
                raise ModelLoadError(str(e)) from None
            raise VJError(str(e)) from None

    def _ready(self, msg: GeneratorReady) -> None:
        self.label = msg.label
        self._attach(msg.width, msg.height)
        self.state = "running"

    def _on_message(self, msg) -> None:
        if isinstance(msg, FrameDone):
            if self._newest is not None:
                self._release(self._newest.slot)
            self._newest = msg
        elif isinstance(msg, GeneratorReady):
            self._ready(msg)
        elif isinstance(msg, FrameFailed):
            self.errors += 1
            self.last_error = msg.message
        elif isinstance(msg, FrameDropped):
            self.dropped = msg.dropped
        elif isinstance(msg, Fatal):
            self.last_error = msg.message
            self.state = "failed"

    def _attach(self, w: int, h: int) -> None:
        from multiprocessing import shared_memory

        slot_bytes = w * h * 3 * (1 + (self.cfg.input not in (None, "feedback"))  # + the input image
                                  + bool(self.cfg.controls))  # + the control map
        if self._shm is None or self._slot_bytes != slot_bytes:
            self._drop_shm()
            self._shm = shared_memory.SharedMemory(create=True, size=SLOTS * slot_bytes)
            self._slot_bytes = slot_bytes
        self.size = (w, h)
        self._held = None  # a new child starts with every slot free
        self._child.send(SharedFrames(self._shm.name, SLOTS, slot_bytes))

    def _drop_shm(self) -> None:
        self._held = None
        if self._shm is not None:
            try:
                self._shm.unlink()
            except FileNotFoundError:
                pass
            self._retired.append(self._shm)
            self._shm = None
        self._retired = [m for m in self._retired if not _closed(m)]

    def _release(self, slot: int) -> None:
        self._child.send(Release(slot))

    def _watch(self) -> None:
        was_failed = self.state == "failed"
        event = self._child.watch()
        if event == "died":
            why = self.last_error if was_failed else f"exit code {self._child.exitcode}"
            log.error(f"generator: the process died ({why}); the show goes on with the last frame, "
                      f"restarting in {self._child.wait:g} s")
            self.state = "restarting"
            self._newest = None
        elif event == "restarted":
            log.info(f"generator: restarting (attempt {self._child.restarts})")
            self.state = "starting"

    # the render loop's side: never blocks
    def submit(self, snap: Snapshot) -> None:
        if self._child.hello:
            self._child.send(SnapshotMsg.of(snap))

    def latest(self) -> GenFrame | None:
        """The newest frame since the last call, or None. Its pixels view shared memory: valid until
        the next frame arrives or the child restarts (the renderer uploads them at once; copy them
        to keep them)."""
        for msg in self._child.receive():
            self._on_message(msg)
        self._watch()
        if self._retired:  # segments a frame still viewed when they were dropped
            self._retired = [m for m in self._retired if not _closed(m)]
        msg, self._newest = self._newest, None
        if msg is None or self._shm is None:
            return None
        w, h, k = msg.width, msg.height, msg.slot
        self.size = (w, h)
        # Views into the slot, not copies: the renderer uploads them at once, and the slot stays
        # ours until the next frame replaces it (the child writes into the other two meanwhile).
        if self._held is not None:
            self._release(self._held)
        self._held = k
        px = _image_in(self._shm, k * self._slot_bytes, w, h)
        inp = _image_in(self._shm, k * self._slot_bytes + px.nbytes, w, h) if msg.with_input and self.want_input else None
        cmap = _image_in(self._shm, k * self._slot_bytes + msg.map_offset, w, h) if msg.map_offset and self.want_map else None
        self.frames += 1
        self.last_index = msg.index
        self._rate.tick()
        return GenFrame(px, msg.index, msg.t_snapshot, msg.gen_ms, inp, cmap, msg.t_input)

    def fps(self) -> float:
        return self._rate.fps()

    def link_status(self) -> str:
        return ""  # made on this machine: nothing to say

    def link_figures(self) -> LinkFigures:
        return LinkFigures()

    def stop(self, timeout: float = 10.0) -> None:
        self._child.stop(timeout)
        self._newest = None
        self._drop_shm()
        if self.program_picture is not None:
            self.program_picture.close()  # a writer's put after this is a no-op
        self.state = "stopped"
