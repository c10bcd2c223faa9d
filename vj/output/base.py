"""One interface for everything that takes the program image: window, file, stream, NDI...

The engine hands each output a ProgramFrame; an output that raises is logged, closed and
dropped, and the others keep going (a full disk must not stop the projector).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from vj.log import log


def import_for_platform(module: str, flag: str, platform: str, system: str, extra: str):
    """An output's package, or one clear line saying why not: the wrong system, or not installed."""
    import importlib
    import sys

    from vj.core.errors import VJError

    try:
        return importlib.import_module(module)
    except ImportError:
        if sys.platform == platform:
            raise VJError(f"{flag} needs {extra}: pip install 'demontage[{extra}]'") from None
        raise VJError(f"{flag}: {system} only (this is {sys.platform}); there: pip install 'demontage[{extra}]'; "
                      f"here use --ndi or --virtualcam") from None


class ProgramFrame:
    """The program image of one render frame. Reading it back from the GPU happens at most once,
    and only if an output asks for the pixels."""

    def __init__(self, compositor, t: float, index: int, overlay=None) -> None:
        self.compositor = compositor
        self.overlay = overlay  # () -> OverlayInfo: what the status overlay says now (read only if shown)
        self.texture = compositor.output
        self.size = compositor.size
        self.t = t  # clock time of the frame, seconds
        self.index = index
        self._rgba_gl: bytes | None = None  # read back at most once a frame, whoever asks first
        self._rgba = None

    def rgba(self) -> bytes:
        """RGBA bytes, bottom row first (GL order): what recorders and streams take."""
        if self._rgba_gl is None:
            self._rgba_gl = self.compositor.read_rgba()
        return self._rgba_gl

    @property
    def read_back(self) -> bool:
        """Whether an output has made the pixels come back from the GPU this frame."""
        return self._rgba_gl is not None

    def rgba_top_first(self):
        """(h, w, 4) uint8, row 0 at the top: what NDI and virtual cameras take."""
        if self._rgba is None:
            import numpy as np

            w, h = self.size
            self._rgba = np.frombuffer(self.rgba(), np.uint8).reshape(h, w, 4)[::-1].copy()
        return self._rgba


class Output(ABC):
    name = "output"
    wants_stop = False  # set when the user asked to end the show through this output (window closed)
    reopens = False  # lost, it is tried again (reopen()): a stream's receiver may come back
    wants_input = False  # it shows the generator's input image (a window's split view)

    @abstractmethod
    def present(self, frame: ProgramFrame) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def finish(self, t_end: float) -> None:
        """The show ended at clock time t_end (before close): a recording pads itself to it."""

    def reopen(self) -> "Output | None":
        """A fresh output to the same place after this one was lost (a stream whose receiver
        went away may come back), or None when there is no point (a file, a window)."""
        return None

    def status(self) -> str:
        return ""


class SenderThreadOutput(Output):
    """An output whose sink may block (a network sender, a device): the render thread drops the
    newest frame's pixels into a latest-value mailbox and a thread of its own delivers them.
    A failure there is raised by the next present(), so the engine logs it and drops the output.
    Subclasses give `_pixels(frame)` (on the render thread) and `_deliver(pixels)` (on the thread)."""

    thread_name = "vj-output"

    def _start_sender(self) -> None:
        import threading

        from vj.mailbox import Mailbox

        self.frames_sent = 0
        self._box: Mailbox = Mailbox()
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, name=self.thread_name, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        while not self._stop.is_set():
            px = self._box.wait(0.25)
            if px is None:
                continue
            try:
                self._deliver(px)
                self.frames_sent += 1
            except Exception as e:
                self._error = f"{type(e).__name__}: {e}"
                return

    def present(self, frame: ProgramFrame) -> None:
        if self._error:
            raise RuntimeError(self._error)
        self._box.put(self._pixels(frame))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        try:
            self._close_sink()
        except Exception as e:
            log.warning(f"{self.name}: closing: {e}")

    def _pixels(self, frame: ProgramFrame):
        raise NotImplementedError

    def _deliver(self, pixels) -> None:
        raise NotImplementedError

    def _close_sink(self) -> None:
        raise NotImplementedError
