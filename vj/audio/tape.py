"""The live input recorded beside the show: `vj run --audio DEVICE --out show.mp4` puts the sound
that played into the file.

The analysis thread hands each hop it reads to the tape (a copy into a bounded queue: it never
waits); a thread of its own writes them to a WAV next to the recording (`show.audio.wav`). If the
disk falls behind, hops are dropped, counted and written back as silence, so the sound never slides
against the picture. When the show ends the recorder muxes the WAV into the video (the WAV is kept
if that fails: nothing the performer played is lost).

Alignment: both sides note time.monotonic() at their first sample and first frame; the difference
is the audio's offset in the file (the capture's own latency, a block or two, is not counted).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import numpy as np

from vj.log import log

QUEUE_HOPS = 512  # about 5 s of 512-sample hops at 48 kHz: the disk may stall that long
GAP_SECONDS = 0.1  # behind the clock by more than this (an input lost and back): the gap is silence


def free_name(path: Path) -> Path:
    """path, or path with -2, -3... before its suffix: a tape never overwrites a file."""
    k, p = 1, Path(path)
    while p.exists():
        k += 1
        p = path.with_name(f"{path.stem}-{k}{path.suffix}")
    return p


class AudioTape:
    def __init__(self, path: Path, samplerate: int, channels: int) -> None:
        import soundfile

        self.path = Path(path)
        self.samplerate, self.channels = samplerate, channels
        self._file = soundfile.SoundFile(str(self.path), "w", samplerate, channels, subtype="PCM_24")
        self._q: queue.Queue = queue.Queue(maxsize=QUEUE_HOPS)
        self.t_first: float | None = None  # time.monotonic() of the first sample
        self.frames = 0  # samples per channel written (silence for dropped hops included)
        self.dropped = 0  # hops the writer could not take in time
        self._pending_gap = 0  # samples dropped since the last hop that got through
        self._placed = 0  # samples given a place on the tape (queued, dropped or silence)
        self.error: str | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._writer, name="vj-audio-tape", daemon=True)
        self._thread.start()

    def put(self, hop: np.ndarray) -> None:
        """From the analysis thread: (n, channels) float32. Never blocks."""
        if self.closed:  # the recording ended early (a lost output): nothing to keep it for
            return
        now = time.monotonic()
        if self.t_first is None:
            self.t_first = now - len(hop) / self.samplerate
        # an input that went quiet (lost, restarted) left a hole in time: silence there, so what
        # comes after stays in step with the picture
        behind = int((now - self.t_first) * self.samplerate) - len(hop) - self._placed
        if behind > GAP_SECONDS * self.samplerate:
            self._pending_gap += behind
            self._placed += behind
        self._placed += len(hop)
        try:
            self._q.put_nowait((self._pending_gap, hop.copy()))
            self._pending_gap = 0
        except queue.Full:
            self.dropped += 1
            self._pending_gap += len(hop)

    def _writer(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            gap, hop = item
            try:
                if gap:
                    self._file.write(np.zeros((gap, self.channels), np.float32))
                self._file.write(hop)
                self.frames += gap + len(hop)
            except Exception as e:  # a full disk: the video goes on, the sound stops here
                self.error = f"{type(e).__name__}: {e}"
                log.error(f"audio tape {self.path}: {self.error}; the sound stops there, the show goes on")
                return

    def close(self) -> None:
        self.closed = True
        wait = 10 if self._thread.is_alive() else 0  # a writer that died (a full disk) takes nothing more
        try:
            if self._pending_gap:  # hops dropped at the very end: their silence too
                self._q.put((self._pending_gap, np.zeros((0, self.channels), np.float32)), timeout=wait or None,
                            block=bool(wait))
            self._q.put(None, timeout=wait or None, block=bool(wait))
        except queue.Full:
            pass
        self._thread.join(30)
        self._file.close()
        if self.dropped and not self.error:
            log.warning(f"audio tape {self.path}: {self.dropped} hops came too fast for the disk (silence there)")
