"""Image-to-image inputs: what the loop starts from instead of pure noise.

    feedback        the loop's own previous image, transformed (zoom/rotate/translate) and fed back:
                    controlled degeneration, on the device, no copy to the host and back
    <file>          a video file, decoded by ffmpeg at the generator's size, looped
    camera:<N>      a camera through OpenCV (the `camera` extra), newest frame wins; camera:<URL>
                    is anything OpenCV opens: an IP camera's rtsp:// stream, /dev/video2

Every input is framed by the same parameters (`input.zoom`, `input.rotate`, `input.x`, `input.y`)
before it is encoded; with feedback they compound frame after frame, which is the point.
A source never blocks a live frame: file and camera frames are read on threads of their own and
the loop takes the newest one. Offline (`vj render`) a file is read frame-exact at the frame's time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vj.core.errors import VJError
from vj.media import Camera, VideoFile


def declare_params():
    from vj.core.params import ParamSpec

    return [
        ParamSpec("strength", 0.05, 1.0, 0.5, "", 0.1, "image-to-image: how far from the input (1: only noise left of it)"),
        ParamSpec("input.zoom", 0.5, 2.0, 1.0, "x", 0.1, "scale of the input (feedback: per frame)"),
        ParamSpec("input.rotate", -45.0, 45.0, 0.0, "deg", 0.1, "rotation of the input (feedback: per frame)"),
        ParamSpec("input.x", -0.5, 0.5, 0.0, "width", 0.1, "shift of the input, right is positive"),
        ParamSpec("input.y", -0.5, 0.5, 0.0, "height", 0.1, "shift of the input, up is positive"),
        ParamSpec("input.similarity", 0.9, 1.0, 0.98, "", 0.0,
                  "skip a generation when the camera/file image is this similar to the last one (1: never skip)"),
    ]


def transform(img: torch.Tensor, zoom: float, rotate_deg: float, x: float, y: float) -> torch.Tensor:
    """(1, 3, H, W) -> the same framed: scaled about the centre, rotated, shifted (edges mirror)."""
    if zoom == 1.0 and rotate_deg == 0.0 and x == 0.0 and y == 0.0:
        return img
    _, _, h, w = img.shape
    a = math.radians(rotate_deg)
    ca, sa = math.cos(a) / zoom, math.sin(a) / zoom
    aspect = w / h
    sx, sy = 2.0 * x * aspect, 2.0 * y  # the shift in units of half the height (square units)
    # An output point P (square units, y up) shows the input at Q = R(-a) (P - shift) / zoom;
    # written back in grid_sample's coordinates (x in [-1, 1] across the width, y down):
    theta = torch.tensor([[ca, -sa / aspect, -(ca * sx + sa * sy) / aspect],
                          [sa * aspect, ca, -sa * sx + ca * sy]], dtype=torch.float32, device=img.device)
    grid = F.affine_grid(theta.unsqueeze(0), [1, 3, h, w], align_corners=False)
    return F.grid_sample(img.float(), grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False).to(img.dtype)


def to_tensor(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1] on the device."""
    t = torch.from_numpy(np.ascontiguousarray(pixels)).to(device, non_blocking=True)
    return t.permute(2, 0, 1).unsqueeze(0).float() / 255.0


class FeedbackInput:
    name = "feedback"
    external = False  # the similarity filter would freeze a loop that feeds itself: not for this one

    def __init__(self) -> None:
        self.last: torch.Tensor | None = None

    def image(self, t: float, size: tuple[int, int], device: torch.device) -> torch.Tensor | None:
        return self.last  # None on the first frame: that one is made from noise alone

    def produced(self, img: torch.Tensor) -> None:
        self.last = img

    def close(self) -> None:
        self.last = None


class _ReaderInput:
    """A vj/media.py reader (frame(t) -> pixels) as the loop's input: the newest frame, on the device."""

    external = True  # the similarity filter applies
    pixels = None  # the newest frame as read, (h, w, 3) uint8: the preview's input feed

    def image(self, t: float, size: tuple[int, int], device: torch.device) -> torch.Tensor | None:
        px = self.frame(t)
        if px is None:
            return None
        self.pixels = px
        return to_tensor(px, device)

    def produced(self, img: torch.Tensor) -> None:
        pass


class VideoFileInput(_ReaderInput, VideoFile):
    """A video file as the loop's input."""


class CameraInput(_ReaderInput, Camera):
    """A camera (or stream URL) as the loop's input."""


def open_input(spec, size: tuple[int, int], live: bool):
    """'feedback', 'camera:N' or a video file path -> an input source; a source made elsewhere (vj
    serve's images pushed from a show, vj/remote/maker.py) is taken as it is."""
    if not isinstance(spec, str):
        return spec
    if spec == "feedback":
        return FeedbackInput()
    if spec.startswith("camera:"):
        idx = spec.split(":", 1)[1]
        if not idx:
            raise VJError(f"input {spec!r}: camera:N takes a device number (camera:0) or a stream URL")
        return CameraInput(int(idx) if idx.isdigit() else idx, size)
    return VideoFileInput(Path(spec).expanduser(), size, live)
