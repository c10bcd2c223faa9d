"""The show as the remote sees it, in a block of shared memory: written by the show (feed.py), read
by the web server in the control process (server.py). Nothing crosses a pipe, so the render thread
never waits on the server, and the server never asks the show anything.

    frame     once a render frame (show): index, time, tempo, beat, meters, render rate, and the
              modulated value of every parameter (in the order of the state's `names`), the spectrum
    state     when it changes, and a few times a second (show): JSON of the scene, the graph and
              the move waiting for its bar, the prompts and their templates, the clock's source, the
              overlay's lines and warnings, the parameters' names
    preview   a few times a second, while a page wants one (show): a small RGB picture, top row first
    server    (the server): pages connected, whether any wants the preview

Each written part has a sequence number, odd while it is being written: a reader copies, then
checks the number has not moved (a seqlock), and tries again (or keeps what it had) if it has.
Plain aligned 8-byte stores, as in control/shared.py.
"""

from __future__ import annotations

import numpy as np

from vj.shm import SharedArrays

CAPACITY = 1024  # parameters (as control/shared.py)
SPECTRUM = 64  # bands (core.features.Features.spectrum)
STATE_BYTES = 256 * 1024
PREVIEW_MAX = (960, 540)  # the largest preview, pixels
FRAME = ("index", "t", "bpm", "beat", "quantum", "level", "bass", "mid", "high", "onset", "render_fps",
         "names_version", "wall")
PREVIEW = ("width", "height", "index", "t", "wall", "mono")
SERVER = ("pages", "preview_wanted")


class ViewStore(SharedArrays):
    def __init__(self, name: str | None = None) -> None:
        w, h = PREVIEW_MAX
        super().__init__([("frame_seq", np.int64, 1), ("frame", np.float64, len(FRAME)), ("live", np.float64, CAPACITY),
                          ("spectrum", np.float64, SPECTRUM), ("state_seq", np.int64, 1), ("state_len", np.int64, 1),
                          ("state", np.uint8, STATE_BYTES), ("preview_seq", np.int64, 1),
                          ("preview_meta", np.float64, len(PREVIEW)), ("preview", np.uint8, w * h * 3),
                          ("server", np.float64, len(SERVER))], name)

    # -- the show writes ------------------------------------------------------------------------------------
    def write_frame(self, values: dict[str, float], live: np.ndarray, spectrum: np.ndarray) -> None:
        """`values`: FRAME's fields (missing ones stay); `live`: the parameters' modulated values."""
        self.frame_seq[0] += 1
        for i, name in enumerate(FRAME):
            if name in values:
                self.frame[i] = values[name]
        n = min(len(live), CAPACITY)
        self.live[:n] = live[:n]
        self.spectrum[:] = spectrum[:SPECTRUM] if len(spectrum) >= SPECTRUM else 0.0
        self.frame_seq[0] += 1

    def write_state(self, payload: bytes) -> bool:
        """The state's JSON (False, nothing written, if it does not fit)."""
        if len(payload) > STATE_BYTES:
            return False
        self.state_seq[0] += 1
        self.state[:len(payload)] = np.frombuffer(payload, np.uint8)
        self.state_len[0] = len(payload)
        self.state_seq[0] += 1
        return True

    def write_preview(self, rgb: np.ndarray, index: int, t: float, wall: float, mono: float) -> None:
        """`rgb`: (h, w, 3) uint8, top row first, at most PREVIEW_MAX."""
        h, w = rgb.shape[:2]
        if w > PREVIEW_MAX[0] or h > PREVIEW_MAX[1]:
            raise ValueError(f"a preview of {w}x{h} (at most {PREVIEW_MAX[0]}x{PREVIEW_MAX[1]})")
        self.preview_seq[0] += 1
        self.preview[:w * h * 3] = rgb.reshape(-1)
        self.preview_meta[:] = (w, h, index, t, wall, mono)
        self.preview_seq[0] += 1

    def preview_wanted(self) -> bool:
        return bool(self.server[SERVER.index("preview_wanted")] > 0)

    def pages(self) -> int:
        return int(self.server[SERVER.index("pages")])

    # -- the server reads -------------------------------------------------------------------------------------
    def read_frame(self, names: int) -> tuple[dict[str, float], np.ndarray, np.ndarray] | None:
        """(FRAME's fields, the first `names` modulated values, the spectrum), or None mid-write."""
        def copy():
            return dict(zip(FRAME, self.frame.tolist())), self.live[:min(names, CAPACITY)].copy(), self.spectrum.copy()
        return _consistent(self.frame_seq, copy)

    def state_version(self) -> int:
        return int(self.state_seq[0])

    def read_state(self) -> bytes | None:
        return _consistent(self.state_seq, lambda: self.state[:int(self.state_len[0])].tobytes())

    def preview_version(self) -> int:
        return int(self.preview_seq[0])

    def read_preview(self) -> tuple[np.ndarray, dict[str, float]] | None:
        """((h, w, 3) uint8, its PREVIEW fields), or None (mid-write, or none yet)."""
        def copy():
            meta = dict(zip(PREVIEW, self.preview_meta.tolist()))
            w, h = int(meta["width"]), int(meta["height"])
            if not (0 < w <= PREVIEW_MAX[0] and 0 < h <= PREVIEW_MAX[1]):
                return None
            return self.preview[:w * h * 3].reshape(h, w, 3).copy(), meta
        return _consistent(self.preview_seq, copy)

    def set_server(self, pages: int, preview_wanted: bool) -> None:
        self.server[:] = (pages, 1.0 if preview_wanted else 0.0)


def _consistent(seq: np.ndarray, copy, tries: int = 4):
    """copy(), made while no write was under way (the sequence number even and unmoved), or None."""
    for _ in range(tries):
        before = int(seq[0])
        if before & 1:
            continue
        out = copy()
        if int(seq[0]) == before:
            return out
    return None
