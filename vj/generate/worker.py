"""The generator: turns snapshots into frames, on its own thread, never waited on by the renderer.

    submit(snapshot)  render thread: latest-value mailbox in (never blocks)
    latest()          render thread: the newest finished frame, if a new one is there (never blocks)
    produce(snapshot) the same work synchronously: used by the thread and by offline render

A frame that raises or comes out NaN/Inf is dropped and logged (rate-limited); the renderer
keeps showing the last good frame. The thread itself never dies of a bad frame. Out of GPU
memory, the loop is asked to make smaller frames (`shrink()`), and says so.
"""

from __future__ import annotations

import threading
import time

from vj.log import Throttled, log
from vj.mailbox import Mailbox
from vj.meter import RateMeter
from vj.core.protocols import GenFrame, LinkFigures, Loop
from vj.core.snapshot import Snapshot


class Generator:
    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.size = loop.size  # (w, h) of the frames it makes
        self.state = "ready"
        self.want_input = True  # the frame's input is handed on as it is (no copy to spare here)
        self.want_map = True  # likewise the control map
        self.link = "thread"  # made here, on a thread of this process
        self.program_picture = None  # shm.LatestPicture the show writes when a control reads the program
        self._in: Mailbox[Snapshot] = Mailbox()
        self._out: Mailbox[GenFrame] = Mailbox()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.frames = 0
        self.errors = 0
        self.skipped = 0  # frames the loop chose not to make (its input hardly changed)
        self.last_error = ""
        self._report = Throttled(5.0)
        self._rate = RateMeter()

    # -- synchronous core ------------------------------------------------------------------
    def produce(self, snap: Snapshot) -> GenFrame | None:
        t0 = time.perf_counter()
        try:
            pixels = self.loop.frame(snap)
        except Exception as e:  # the show goes on: log one line, keep the last good frame
            self.errors += 1
            self.last_error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            if is_out_of_memory(e):
                self._out_of_memory()
            else:
                self._report(30, f"generator: frame {snap.index} failed ({self.last_error}); keeping the last good frame")
            return None
        if pixels is None:
            self.skipped += 1
            return None
        t1 = time.perf_counter()
        self.frames += 1
        self._rate.tick()
        # a wrapped loop (the tests' fault hook, an older one) may know nothing of control maps
        return GenFrame(pixels, snap.index, snap.t, (t1 - t0) * 1e3, self.loop.frame_input,
                        getattr(self.loop, "frame_map", None), getattr(self.loop, "t_input", 0.0))

    def _out_of_memory(self) -> None:
        before = self.loop.size
        after = self.loop.shrink()
        _free_cached_memory()
        if after is None:
            self.last_error = "out of GPU memory at the smallest size"
            self._report(40, f"generator: out of GPU memory at {_wxh(before)}, the smallest size it goes to; "
                             f"keeping the last good frame (close other GPU programs, or use --tiny-vae)")
        else:
            self.size = after
            self.last_error = f"out of GPU memory: lowered the size from {_wxh(before)} to {_wxh(after)}"
            log.warning(f"generator: out of GPU memory at {_wxh(before)}; now making {_wxh(after)} frames")

    def fps(self) -> float:
        return self._rate.fps()

    def link_status(self) -> str:
        return ""  # made here: nothing to say

    def link_figures(self) -> LinkFigures:
        return LinkFigures()

    # -- threaded ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="vj-generator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            snap = self._in.wait(timeout=0.1)
            if snap is None:
                continue
            frame = self.produce(snap)
            if frame is not None:
                self._out.put(frame)

    def submit(self, snap: Snapshot) -> None:
        self._in.put(snap)

    def latest(self) -> GenFrame | None:
        return self._out.take()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("generator: still busy with a frame at shutdown; leaving it behind")
            self._thread = None
        self.loop.close()
        if self.program_picture is not None:
            self.program_picture.close()
        self.state = "stopped"


def is_out_of_memory(e: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError, or the RuntimeError older paths raise with the same words."""
    return type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower()


def _free_cached_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass


def _wxh(size) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"
