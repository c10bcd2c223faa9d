"""Video files and cameras as frames, with no torch. A file: ffmpeg decodes to raw RGB at the size
asked for, looped. A camera (or a stream URL): OpenCV, the `camera` extra.

Live, ffmpeg paces itself at the file's rate (-re) and a thread keeps the newest frame: taking it
never waits. Offline (`vj render`), frame(t) reads forward to the frame at t, exactly. Used by the
generator's image-to-image input and by the compositor's video layers.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from vj.core.errors import VJError
from vj.log import log

FILE_FPS = 30.0  # a file is read at this rate (ffmpeg drops or repeats frames to get there)


class VideoFile:
    """A video file decoded by ffmpeg to raw RGB at a given size, looped forever."""

    def __init__(self, path: Path, size: tuple[int, int], live: bool) -> None:
        if not path.is_file():
            raise VJError(f"video {path}: no such file")
        self.path, self.size, self.live = path, size, live
        self.name = f"video {path.name}"
        self._proc: subprocess.Popen | None = None
        self._index = -1  # offline: the index of the frame last read
        self._frame: np.ndarray | None = None
        self.serial = 0  # counts new frames: a reader uploads only when it moved
        self.t_frame = 0.0  # monotonic time the newest frame came in (camera-to-twin latency)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._open()
        if live:
            self._thread = threading.Thread(target=self._pump, name="vj-input-video", daemon=True)
            self._thread.start()

    def _open(self) -> None:
        w, h = self.size
        cmd = ["ffmpeg", "-v", "error", "-nostdin"] + (["-re"] if self.live else []) + [
            "-stream_loop", "-1", "-i", str(self.path), "-an",
            "-vf", f"fps={FILE_FPS:g},scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise VJError("video: ffmpeg is not installed (apt install ffmpeg)") from None
        self._index = -1

    def _read(self) -> np.ndarray | None:
        w, h = self.size
        n = w * h * 3
        data = self._proc.stdout.read(n) if self._proc and self._proc.stdout else b""
        if len(data) < n:
            err = self._proc.stderr.read().decode(errors="replace").strip().splitlines() if self._proc else []
            raise VJError(f"video {self.path.name}: ffmpeg stopped ({err[-1] if err else 'no frames'})")
        return np.frombuffer(bytearray(data), np.uint8).reshape(h, w, 3)  # writable: torch takes it as is

    def _pump(self) -> None:  # live: ffmpeg -re paces the reads at the file's rate
        try:
            while not self._stop.is_set():
                frame = self._read()
                with self._lock:
                    self._frame = frame
                    self.serial += 1
                    self.t_frame = time.monotonic()
        except VJError as e:
            if not self._stop.is_set():
                log.error(f"{e}; the loop goes on from noise")

    def frame(self, t: float) -> np.ndarray | None:
        if self.live:
            with self._lock:
                return self._frame
        want = int(math.floor(t * FILE_FPS + 1e-6))
        if want < self._index:  # time went back (a second render): start again
            self.close()
            self._open()
        while self._index < want:
            self._frame = self._read()
            self._index += 1
            self.serial += 1
        return self._frame

    def close(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for f in (self._proc.stdout, self._proc.stderr):
                if f:
                    f.close()
            self._proc = None
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._stop.clear()


def _opencv_log_level(cv2) -> None:
    """OpenCV's own log level, as vj.log.quiet_libraries chose it (OPENCV_LOG_LEVEL: ERROR, DEBUG with
    -v), through its API too: it writes from C++ to the terminal, and may have been imported before."""
    import os

    levels = cv2.utils.logging
    name = os.environ.get("OPENCV_LOG_LEVEL", "ERROR").upper()
    levels.setLogLevel(getattr(levels, f"LOG_LEVEL_{name}", levels.LOG_LEVEL_ERROR))


class Camera:
    """A camera (or a stream URL) through OpenCV, read on its own thread, covered and cropped to
    `size`; frame() gives the newest frame and never waits."""

    def __init__(self, index: int | str, size: tuple[int, int]) -> None:
        try:
            import cv2
        except ImportError:
            raise VJError("--camera needs OpenCV: pip install 'demontage[camera]' (opencv-python-headless)") from None
        _opencv_log_level(cv2)
        self._cv2 = cv2
        self.name = f"camera {index}"
        self.size = size
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            raise VJError(f"camera {index}: can't be opened (see `v4l2-ctl --list-devices`; another program may hold it)")
        self.frames = 0  # frames read from the device
        self.t_frame = 0.0  # monotonic time the newest frame came in (camera-to-twin latency)
        self._frame: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="vj-input-camera", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        cv2 = self._cv2
        misses = 0
        while not self._stop.is_set():
            ok, bgr = self._cap.read()
            if not ok:
                misses += 1
                if misses == 30:
                    log.error(f"{self.name}: no frames; the loop goes on with the last one")
                self._stop.wait(0.05)
                continue
            misses = 0
            h, w = bgr.shape[:2]
            tw, th = self.size
            scale = max(tw / w, th / h)  # cover the generator's frame, crop the rest
            bgr = cv2.resize(bgr, (max(tw, round(w * scale)), max(th, round(h * scale))), interpolation=cv2.INTER_AREA)
            y0, x0 = (bgr.shape[0] - th) // 2, (bgr.shape[1] - tw) // 2
            rgb = cv2.cvtColor(bgr[y0:y0 + th, x0:x0 + tw], cv2.COLOR_BGR2RGB)
            with self._lock:
                self._frame = rgb
                self.frames += 1
                self.t_frame = time.monotonic()

    @property
    def serial(self) -> int:
        return self.frames

    def frame(self, t: float = 0.0) -> np.ndarray | None:
        with self._lock:
            return self._frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._cap.release()
