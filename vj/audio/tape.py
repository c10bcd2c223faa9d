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
        self.error: str | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._writer, name="vj-audio-tape", daemon=True)
        self._thread.start()

    def put(self, hop: np.ndarray) -> None:
        """From the analysis thread: (n, channels) float32. Never blocks."""
        if self.closed:  # the recording ended early (a lost output): nothing to keep it for
            return
        if self.t_first is None:
            self.t_first = time.monotonic() - len(hop) / self.samplerate
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
        try:
            if self._pending_gap:  # hops dropped at the very end: their silence too
                self._q.put((self._pending_gap, np.zeros((0, self.channels), np.float32)), timeout=10)
            self._q.put(None, timeout=10)
        except queue.Full:
            pass
        self._thread.join(30)
        self._file.close()
        if self.dropped:
            log.warning(f"audio tape {self.path}: {self.dropped} hops came too fast for the disk (silence there)")
