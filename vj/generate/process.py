"""The generator in a process of its own, for live shows.

Why a process: the render loop and the diffusion loop are both Python; in one process they
share the GIL, and a compositor on a software GL driver (or any long GL call) starves the
generator (measured: 0.2 fps instead of 22, see BENCHMARKS.md). A process of its own also means a
hard crash in torch (a driver fault, the OOM killer) takes down the generator, not the show: it
is restarted while the compositor keeps playing the last frame.

    render process                               generator process
    submit(snapshot) --- snapshot pipe --------> reader thread -> latest-value Mailbox
                                                  main thread: loop.frame() -> a free shm slot
    latest()  <--------- event pipe ------------ ("frame", slot, ...), ("error", ...)
              --- ("release", slot) -----------> the slot is free again

Frames travel through shared memory (three slots: one the renderer holds, the newest frame it was
given, viewed and uploaded without a copy; one being written; one spare; with a camera or video
input a slot also holds the input image the frame was made from, for the preview's split view);
the pipes carry only small messages, so neither side ever waits
for the other.
Snapshots are sent only once the child has said hello (its reader thread drains the pipe).
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from vj.core.errors import ModelLoadError, VJError
from vj.log import log
from vj.meter import RateMeter
from vj.core.snapshot import Snapshot

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
    stream_batch: bool | None = None  # None: on CUDA (see StreamLoop._denoise_batched)
    deep_cache: int = 1  # see deepcache.py


def pack(snap: Snapshot) -> tuple:
    return (snap.index, snap.t, dict(snap.values), snap.prompts, snap.seed, snap.audio, snap.seeds)


def unpack(p: tuple) -> Snapshot:
    index, t, values, prompts, seed, audio, seeds = p
    return Snapshot(index, t, MappingProxyType(values), prompts, seed, audio, seeds)


# -- the child ----------------------------------------------------------------------------------
def _child_main(cfg: GeneratorConfig, snaps_in, events_out) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the show's; the parent stops us
    from vj.mailbox import Mailbox

    box: Mailbox = Mailbox()
    free: set[int] = set()
    lock = threading.Lock()
    shm_ready = threading.Event()
    stop = threading.Event()
    shm_info: list = []

    def reader() -> None:
        while not stop.is_set():
            try:
                msg = snaps_in.recv()
            except (EOFError, OSError):  # the parent is gone
                stop.set()
                box.put(None)
                return
            kind = msg[0]
            if kind == "snap":
                box.put(msg[1])
            elif kind == "release":
                with lock:
                    free.add(msg[1])
            elif kind == "shm":
                shm_info[:] = msg[1:]
                with lock:
                    free.update(range(msg[2]))
                shm_ready.set()
            elif kind == "stop":
                stop.set()
                box.put(None)
                return

    threading.Thread(target=reader, name="vj-gen-reader", daemon=True).start()
    events_out.send(("hello",))

    from vj.log import quiet_libraries, setup

    setup()
    quiet_libraries()
    try:
        import torch  # noqa: F401  (heavy imports after hello: the parent may send already)

        from vj.generate import device as torch_device
        from vj.generate import registry
        from vj.generate.loop import StreamLoop
        from vj.generate.worker import Generator

        spec = registry.resolve(cfg.model)
        dev, dtype = torch_device.pick(cfg.device)
        torch_device.configure_threads(dev, cfg.threads)
        model = registry.load(spec, dev, dtype, progress=log.info, tiny_vae=cfg.tiny_vae)
        batch = cfg.stream_batch if cfg.stream_batch is not None else dev.type == "cuda"
        loop = StreamLoop(model, cfg.size or spec.native_size, cfg.steps, cfg.seed, live=True, input=cfg.input,
                          batch=batch, deep_cache=cfg.deep_cache)
        w, h = loop.size
        if cfg.wrap:
            mod, _, fn = cfg.wrap.partition(":")
            loop = getattr(importlib.import_module(mod), fn)(loop)
    except VJError as e:
        events_out.send(("fatal", str(e)))
        return
    except Exception as e:  # anything else while loading: still one line for the performer
        events_out.send(("fatal", f"generator failed to start: {type(e).__name__}: {e}".splitlines()[0]))
        return
    events_out.send(("ready", w, h, spec.label))

    while not shm_ready.wait(0.5):
        if stop.is_set():
            return
    from multiprocessing import shared_memory

    # The parent owns and unlinks the segment; a spawned child shares its resource tracker.
    name, nslots, slot_bytes = shm_info
    shm = shared_memory.SharedMemory(name=name)
    gen = Generator(loop)
    dropped = 0
    try:
        while not stop.is_set():
            packed = box.wait(0.25)
            if packed is None:
                continue
            errors = gen.errors
            frame = gen.produce(unpack(packed))
            if frame is None:
                if gen.errors != errors:
                    events_out.send(("error", gen.errors, gen.last_error))
                continue
            with lock:
                k = free.pop() if free else None
            if k is None:  # the renderer holds every slot: drop this frame, never wait
                dropped += 1
                events_out.send(("dropped", dropped))
                continue
            px = frame.pixels  # smaller than the slot after an out-of-memory shrink: it still fits
            view = np.ndarray(px.shape, np.uint8, buffer=shm.buf, offset=k * slot_bytes)
            view[...] = px
            inp = frame.input
            with_input = inp is not None and inp.shape == px.shape and 2 * px.nbytes <= slot_bytes
            if with_input:
                view = np.ndarray(px.shape, np.uint8, buffer=shm.buf, offset=k * slot_bytes + px.nbytes)
                view[...] = inp
            del view
            events_out.send(("frame", k, frame.index, frame.t_snapshot, frame.gen_ms, px.shape[1], px.shape[0],
                             with_input))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent went away
    finally:
        shm.close()
        loop_close = getattr(loop, "close", None)
        if loop_close is not None:
            loop_close()  # an input's ffmpeg or camera


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
    """Same face as worker.Generator (start, submit, latest, stop, frames, errors, fps)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.want_input = True  # the engine clears it while no window shows the input feed
        self._ctx = mp.get_context("spawn")  # safe with CUDA, GL and threads in the parent
        self._proc = None
        self._shm = None
        self._slot_bytes = 0
        self._held: int | None = None  # the slot the last frame given out lies in (see latest)
        self._retired: list = []  # dropped segments a frame given out still viewed
        self.size: tuple[int, int] | None = None
        self.label = cfg.model
        self.frames = 0
        self.errors = 0
        self.dropped = 0
        self.restarts = 0
        self.last_index = -1  # snapshot index of the newest frame received
        self.last_error = ""
        self.state = "stopped"  # starting | running | restarting | stopped
        self._hello = False
        self._restart_at: float | None = None
        self._backoff = 1.0
        self._rate = RateMeter()
        self._stopping = False

    # life cycle
    def _spawn(self) -> None:
        snap_r, self._snap_w = self._ctx.Pipe(duplex=False)
        self._ev_r, ev_w = self._ctx.Pipe(duplex=False)
        self._proc = self._ctx.Process(target=_child_main, args=(self.cfg, snap_r, ev_w), name="vj-generator",
                                       daemon=True)
        self._proc.start()
        snap_r.close()
        ev_w.close()
        self._hello = False
        self.state = "starting"

    def start(self, wait_ready: bool = True, timeout: float | None = None, on_wait=None) -> None:
        """Start the child; with wait_ready, block until its model is loaded (show start only),
        calling `on_wait()` about ten times a second meanwhile (to keep a window alive)."""
        if self._proc is not None and self._proc.is_alive():
            return
        self._stopping = False
        self._spawn()
        if not wait_ready:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.state != "running":
            if on_wait is not None:
                on_wait()
            if self._ev_r.poll(0.1):
                self._handle_events()
                if self.state == "failed":
                    self.stop()
                    raise ModelLoadError(self.last_error)
            elif not self._proc.is_alive():
                code = self._proc.exitcode
                self.stop()
                raise VJError(f"the generator process exited while starting (exit code {code})")
            if deadline is not None and time.monotonic() > deadline:
                self.stop()
                raise VJError(f"the generator did not start within {timeout:g} s")

    def _handle_events(self) -> tuple | None:
        """Read every pending event; returns the newest ("frame", slot, index, t_snapshot, gen_ms, w, h,
        with_input)."""
        newest = None
        try:
            while self._ev_r.poll():
                msg = self._ev_r.recv()
                kind = msg[0]
                if kind == "frame":
                    if newest is not None:
                        self._release(newest[1])
                    newest = msg
                elif kind == "hello":
                    self._hello = True
                elif kind == "ready":
                    _, w, h, self.label = msg
                    self._attach(w, h)
                    self.state = "running"
                    self._backoff = 1.0
                elif kind == "error":
                    self.errors += 1
                    self.last_error = msg[2]
                elif kind == "dropped":
                    self.dropped = msg[1]
                elif kind == "fatal":
                    self.last_error = msg[1]
                    self.state = "failed"
        except (EOFError, OSError):
            pass  # the child died mid-message: noticed by the liveness check
        return newest

    def _attach(self, w: int, h: int) -> None:
        from multiprocessing import shared_memory

        slot_bytes = w * h * 3 * (2 if self.cfg.input not in (None, "feedback") else 1)  # + the input image
        if self._shm is None or self._slot_bytes != slot_bytes:
            self._drop_shm()
            self._shm = shared_memory.SharedMemory(create=True, size=SLOTS * slot_bytes)
            self._slot_bytes = slot_bytes
        self.size = (w, h)
        self._held = None  # a new child starts with every slot free
        self._send(("shm", self._shm.name, SLOTS, slot_bytes))

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

    def _send(self, msg) -> None:
        try:
            self._snap_w.send(msg)
        except (BrokenPipeError, OSError):
            pass  # noticed by the liveness check

    def _release(self, slot: int) -> None:
        self._send(("release", slot))

    def _check_alive(self) -> None:
        if self._stopping or self._proc is None:
            return
        if self._restart_at is not None:
            if time.monotonic() >= self._restart_at:
                self._restart_at = None
                self.restarts += 1
                log.info(f"generator: restarting (attempt {self.restarts})")
                self._spawn()
            return
        if not self._proc.is_alive():
            code = self._proc.exitcode
            why = self.last_error if self.state == "failed" else f"exit code {code}"
            log.error(f"generator: the process died ({why}); the show goes on with the last frame, "
                      f"restarting in {self._backoff:g} s")
            self.state = "restarting"
            self._restart_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, 30.0)

    # the render loop's side: never blocks
    def submit(self, snap: Snapshot) -> None:
        if self._hello:
            self._send(("snap", pack(snap)))

    def latest(self):
        """The newest frame since the last call, or None. Its pixels view shared memory: valid until
        the next frame arrives or the child restarts (the renderer uploads them at once; copy them
        to keep them)."""
        from vj.generate.worker import GenFrame

        msg = self._handle_events()
        self._check_alive()
        if self._retired:  # segments a frame still viewed when they were dropped
            self._retired = [m for m in self._retired if not _closed(m)]
        if msg is None or self._shm is None:
            return None
        _, k, index, t_snap, gen_ms, w, h, with_input = msg
        self.size = (w, h)
        # Views into the slot, not copies: the renderer uploads them at once, and the slot stays
        # ours until the next frame replaces it (the child writes into the other two meanwhile).
        if self._held is not None:
            self._release(self._held)
        self._held = k
        px = _image_in(self._shm, k * self._slot_bytes, w, h)
        inp = _image_in(self._shm, k * self._slot_bytes + px.nbytes, w, h) if with_input and self.want_input else None
        self.frames += 1
        self.last_index = index
        self._rate.tick()
        return GenFrame(px, index, t_snap, gen_ms, inp)

    def fps(self) -> float:
        return self._rate.fps()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self._proc is not None:
            self._send(("stop",))
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)
            self._proc = None
        self._drop_shm()
        self.state = "stopped"

