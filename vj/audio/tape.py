"""The live input recorded beside the show: `vj run --audio DEVICE --out show.mp4` puts the sound
that played into the file.

The analysis thread hands each hop it reads to the tape (a copy into a bounded queue: it never
waits); a thread of its own writes them to a WAV next to the recording (`show.audio.wav`). If the
disk falls behind, hops are dropped, counted and written back as silence, so the sound never slides
against the picture. When the show ends the recorder muxes the WAV into the video (the WAV is kept
if that fails: nothing the performer played is lost).

Alignment: both sides note time.monotonic() at their first sample and first frame; the difference
is the audio's offset in the file (the capture's own latency, a block or two, is not counted).

A show killed before it could mux (kill -9, a power cut): the WAV is synced to disk once a second
and stays readable (its header's length is 0 until closed, which ffmpeg and libsndfile read as "to
the end"); the offset is written beside it (`show.audio.json`) as soon as both sides have started,
so `vj mux show.mp4` can put the sound in later.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np

from vj.log import counted, log

QUEUE_HOPS = 512  # about 5 s of 512-sample hops at 48 kHz: the disk may stall that long
GAP_SECONDS = 0.1  # behind the clock by more than this (an input lost and back): the gap is silence
SYNC_EVERY = 1.0  # seconds between syncs of the WAV to disk (a power cut loses at most this much)


def sidecar(tape: Path) -> Path:
    """show.audio.wav -> show.audio.json: where the tape's offset against its video is kept."""
    return tape.with_suffix(".json")


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
        self.video: Path | None = None  # the recording it goes into
        self.video_started: float | None = None  # time.monotonic() of the video's first frame (its recorder sets it)
        self._noted = False  # the offset is written beside the tape
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

    @property
    def offset(self) -> float | None:
        """Seconds from the video's first frame to the tape's first sample (None until both began)."""
        if self.t_first is None or self.video_started is None:
            return None
        return self.t_first - self.video_started

    def _writer(self) -> None:
        synced = time.monotonic()
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
                if time.monotonic() - synced >= SYNC_EVERY:
                    self._file.flush()  # libsndfile syncs the file: a power cut keeps all but the last second
                    synced = time.monotonic()
                    self._note()
            except Exception as e:  # a full disk: the video goes on, the sound stops here
                self.error = f"{type(e).__name__}: {e}"
                log.error(f"audio tape {self.path}: {self.error}; the sound stops there, the show goes on")
                return

    def _note(self) -> None:
        """The offset beside the tape, once (for `vj mux` after a show that could not finish)."""
        offset = self.offset
        if self._noted or offset is None:
            return
        tmp = sidecar(self.path).with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"video": self.video.name if self.video else None, "offset": offset,
                                   "samplerate": self.samplerate, "channels": self.channels}))
        os.replace(tmp, sidecar(self.path))
        self._noted = True

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
        if not self.error:
            try:
                self._note()  # a tape shorter than a second has its offset written too
            except OSError:
                pass
        if self.dropped and not self.error:
            log.warning(f"audio tape {self.path}: {counted(self.dropped, 'hop')} came too fast for the disk "
                        f"(silence there)")
