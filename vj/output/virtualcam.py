"""A virtual camera: the program image as a webcam that OBS, Zoom or TouchDesigner's Video Device
In can open. Through pyvirtualcam (the `virtualcam` extra): on Linux it writes to a v4l2loopback
device (`sudo modprobe v4l2loopback devices=1 exclusive_caps=1`), on Windows/macOS to OBS's
virtual camera.

As with NDI, the render thread only drops the newest frame into a latest-value mailbox; a thread
of its own sends it, so a slow consumer never holds the show.
"""

from __future__ import annotations

import threading

from vj.errors import VJError
from vj.log import log
from vj.mailbox import Mailbox
from vj.output.base import Output, ProgramFrame


def _open_camera(size: tuple[int, int], fps: float, device: str | None):
    try:
        import pyvirtualcam
    except ImportError:
        raise VJError("--virtualcam needs pyvirtualcam: pip install 'demontage[virtualcam]'") from None
    try:
        return pyvirtualcam.Camera(width=size[0], height=size[1], fps=fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                   device=device)
    except RuntimeError as e:  # no loopback device, no OBS camera installed: say what to do
        raise VJError(f"virtual camera: {e} (Linux: sudo modprobe v4l2loopback devices=1 exclusive_caps=1)") from None


class VirtualCameraOutput(Output):
    def __init__(self, size: tuple[int, int], fps: float, device: str | None = None, opener=_open_camera) -> None:
        self._cam = opener(size, fps, device)  # opener: the boundary a test replaces (no loopback device there)
        self.name = f"virtual camera {getattr(self._cam, 'device', device or '')}".strip()
        self.frames_sent = 0
        self._box: Mailbox = Mailbox()
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, name="vj-virtualcam", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        while not self._stop.is_set():
            px = self._box.wait(0.25)
            if px is None:
                continue
            try:
                self._cam.send(px)
                self.frames_sent += 1
            except Exception as e:  # reported by the next present(); the engine drops this output
                self._error = f"{type(e).__name__}: {e}"
                return

    def present(self, frame: ProgramFrame) -> None:
        if self._error:
            raise RuntimeError(self._error)
        self._box.put(frame.rgba_top_first()[..., :3].copy())

    def status(self) -> str:
        return f"vcam {self.frames_sent} frames"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        try:
            self._cam.close()
        except Exception as e:
            log.warning(f"{self.name}: closing: {e}")
