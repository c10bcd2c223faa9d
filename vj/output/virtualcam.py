"""A virtual camera: the program image as a webcam that OBS, Zoom or TouchDesigner's Video Device
In can open. Through pyvirtualcam (the `virtualcam` extra): on Linux it writes to a v4l2loopback
device (`sudo modprobe v4l2loopback devices=1 exclusive_caps=1`), on Windows/macOS to OBS's
virtual camera.

As with NDI, the render thread only drops the newest frame into a latest-value mailbox; a thread
of its own sends it, so a slow consumer never holds the show.
"""

from __future__ import annotations

from vj.core.errors import VJError
from vj.output.base import ProgramFrame, SenderThreadOutput


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


class VirtualCameraOutput(SenderThreadOutput):
    thread_name = "vj-virtualcam"

    def __init__(self, size: tuple[int, int], fps: float, device: str | None = None, opener=_open_camera) -> None:
        self._cam = opener(size, fps, device)  # opener: the boundary a test replaces (no loopback device there)
        self.name = f"virtual camera {getattr(self._cam, 'device', device or '')}".strip()
        self._start_sender()

    def _pixels(self, frame: ProgramFrame):
        return frame.rgba_top_first()[..., :3].copy()

    def _deliver(self, pixels) -> None:
        self._cam.send(pixels)

    def status(self) -> str:
        return f"vcam {self.frames_sent} frames"

    def _close_sink(self) -> None:
        self._cam.close()
