"""Recording the program to a video file through ffmpeg (H.264 + AAC in .mp4, .mkv, .mov), and
sending it as a network stream (`--stream udp://... | srt://... | rtmp://...`: H.264, tuned for
latency, MPEG-TS over UDP/SRT, FLV over RTMP).

Two ways to feed it:
- offline (`vj render`): every frame is written, in order, waiting for ffmpeg if it is slower.
- live (`vj run --out`): frames are taken at the recording's own rate by their timestamps
  (the last frame repeats if the renderer is slower, so sound and picture stay in sync) and
  handed to a writer thread through a small bounded queue; if ffmpeg can't keep up, a frame the
  queue can't take is counted and its time paid by writing the next one again (the picture never
  slides against the sound), never queued without end, and the show never waits.

The audio track (a file and its offset) is muxed in by the same ffmpeg process. A live input
(a sound card) is taped beside the video (vj/audio/tape.py) and muxed in when the show ends.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from vj.audio.sources import AudioTrack
from vj.audio.tape import sidecar
from vj.core.errors import VJError
from vj.log import log
from vj.output.base import Output, ProgramFrame


class OutputLost(RuntimeError):
    """The output can't take more frames (ffmpeg exited: disk full, bad path, ...)."""


def ffmpeg_path() -> str:
    exe = shutil.which("ffmpeg")
    if not exe:
        raise VJError("recording needs ffmpeg, which is not installed (Debian/Ubuntu: apt-get install ffmpeg); "
                      "or run without --out")
    return exe


def command(path: Path, size: tuple[int, int], fps: float, audio: AudioTrack | None, duration: float | None,
            live: bool = False) -> list[str]:
    w, h = size
    cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-n" if live else "-y",
           "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{w}x{h}", "-framerate", f"{fps:g}", "-i", "pipe:0"]
    if audio is not None:
        if audio.offset > 0:
            cmd += ["-ss", f"{audio.offset:.6f}"]
        if duration is not None:
            cmd += ["-t", f"{duration:.6f}"]
        if audio.loop:
            cmd += ["-stream_loop", "-1"]
        cmd += ["-i", str(audio.path), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"]
    cmd += ["-vf", "vflip",  # GL hands rows bottom-up
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-threads", "2"]
    if path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        # Live: fragmented, so a recording cut short (power, kill -9) still plays up to the cut.
        # Offline: the index up front, for players and the web.
        cmd += ["-movflags", "+frag_keyframe+empty_moov+default_base_moof" if live else "+faststart"]
    if live:  # a keyframe (and so a fragment on disk) every 2 s: a cut loses at most that
        cmd += ["-g", str(max(1, round(2 * fps))), "-flush_packets", "1"]
    if audio is not None and duration is None:
        # live: the picture decides the end. A track shorter than the show goes on as silence
        # (without the pad ffmpeg would stop there and take the recording with it)
        cmd += ["-af", "apad", "-shortest"]
    return cmd + [str(path)]


STREAM_SCHEMES = {"udp": "mpegts", "srt": "mpegts", "rtmp": "flv", "rtmps": "flv", "tcp": "mpegts"}


def stream_command(url: str, size: tuple[int, int], fps: float) -> list[str]:
    """A live stream: no B-frames, a keyframe every second (a receiver that joins late waits at most
    that), x264 tuned for latency; the container the protocol expects."""
    w, h = size
    scheme = url.split("://", 1)[0].lower()
    return [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{w}x{h}", "-framerate", f"{fps:g}", "-i", "pipe:0",
            "-vf", "vflip", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
            "-g", str(max(1, round(fps))), "-bf", "0", "-threads", "2", "-flush_packets", "1",
            "-f", STREAM_SCHEMES[scheme], url]


def check_stream_url(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in STREAM_SCHEMES:
        raise VJError(f"--stream {url}: give a URL such as udp://192.168.1.20:5000, srt://host:9000 or "
                      f"rtmp://host/live/key ({', '.join(STREAM_SCHEMES)})")
    return url


class FfmpegOutput(Output):
    def __init__(self, path: Path | str, size: tuple[int, int], fps: float, *, audio: AudioTrack | None = None,
                 duration: float | None = None, offline: bool = False, queue_frames: int = 8, tape=None) -> None:
        self.stream = isinstance(path, str) and "://" in path  # a network stream, not a file
        self.path = check_stream_url(path) if self.stream else Path(path)
        self.name = f"stream {self.path}" if self.stream else f"file {self.path}"
        self.reopens = self.stream
        if not self.stream and not self.path.parent.is_dir():
            raise VJError(f"--out {path}: folder {self.path.parent} does not exist")
        if not self.stream and not offline and self.path.exists():
            # a show is never recorded over another (a rig restarted after a crash, the same
            # command run again): it goes beside it. A render chooses its file before (cli.py: beside
            # one that is there, the same rule, unless --overwrite).
            from vj.audio.tape import free_name

            given, self.path = self.path, free_name(self.path)
            self.name = f"file {self.path}"
            log.info(f"{given} exists: recording to {self.path} beside it (a recording is never written over)")
        self.size, self.fps, self.offline = size, fps, offline
        self.frames_written = 0
        self.dropped = 0
        self.complete = False  # True once ffmpeg has finished the file cleanly
        self._next_t: float | None = None
        self._owed = 0  # frame times the queue could not take since the last frame it took
        self.tape = tape  # a live input's AudioTape: muxed in at close
        self._t_first: float | None = None  # time.monotonic() of the first frame (the tape aligns to it)
        self._last = None  # the newest frame's rgba() (bound method: reads back at most once)
        self._stderr = tempfile.TemporaryFile()
        # Its own session: a Ctrl-C in the terminal is the show's to handle; ffmpeg is finished
        # cleanly by closing its input, so the file is complete.
        cmd = stream_command(self.path, size, fps) if self.stream else command(self.path, size, fps, audio, duration,
                                                                                live=not offline)
        self._proc = subprocess.Popen(cmd,
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr,
                                      start_new_session=True)
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=queue_frames)
        self._error: str | None = None
        self._thread = None
        if not offline:
            self._thread = threading.Thread(target=self._writer, name="vj-ffmpeg", daemon=True)
            self._thread.start()

    def _ffmpeg_said(self) -> str:
        self._stderr.seek(0)
        lines = [ln.strip() for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else "no message"

    def _write(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
        except (BrokenPipeError, OSError, ValueError):
            self._proc.wait(timeout=5)
            raise OutputLost(f"ffmpeg stopped writing {self.path} (exit {self._proc.returncode}: {self._ffmpeg_said()})") from None
        except subprocess.TimeoutExpired:  # its pipe broke but it is still there: end it
            self._proc.kill()
            raise OutputLost(f"ffmpeg stopped taking frames for {self.path}") from None
        self.frames_written += 1

    def _writer(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            data, times = item
            try:
                for _ in range(times):  # frames the queue could not take are written again here
                    self._write(data)
            except OutputLost as e:
                self._error = str(e)
                return

    def present(self, frame: ProgramFrame) -> None:
        if self._error:
            raise OutputLost(self._error)
        if self.offline:
            self._write(frame.rgba())
            return
        if self._next_t is None:
            self._next_t = frame.t
            self._t_first = time.monotonic()
            if self.tape is not None:
                self.tape.video, self.tape.video_started = self.path, self._t_first
        self._last = frame.rgba
        self._fill_until(frame.t + 1e-9)

    def _fill_until(self, t: float) -> None:
        """One recorded frame per 1/fps of show time, repeating the newest image when needed."""
        while self._next_t is not None and self._last is not None and self._next_t < t:
            try:
                self._q.put_nowait((self._last(), 1 + self._owed))
                self._owed = 0
            except queue.Full:  # ffmpeg is behind: this frame's time is paid by repeating the next one
                self.dropped += 1  # (dropping it would slide the picture against the sound)
                self._owed += 1
            self._next_t += 1.0 / self.fps

    def finish(self, t_end: float) -> None:
        if not self.offline:
            self._fill_until(t_end - 1e-9)

    def reopen(self) -> "FfmpegOutput | None":
        """A stream is tried again (the mixer or server may be back); a file is not (a full disk
        stays full, and a second file would split the show)."""
        return FfmpegOutput(self.path, self.size, self.fps) if self.stream else None

    def status(self) -> str:
        what = f"stream {self.path}" if self.stream else "rec"
        late = f", {self.dropped} repeated (encoder behind)" if self.dropped else ""
        return f"{what} {self.frames_written} frames{late}"

    def close(self) -> None:
        if self._thread is not None:
            try:
                if self._owed and self._last is not None and not self._error:  # the last frames' time too
                    self._q.put((self._last(), self._owed), timeout=10)
                self._q.put(None, timeout=10)
            except queue.Full:
                pass
            self._thread.join(timeout=30)
        try:
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            rc = self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            rc = -9
        if rc != 0 and not self._error:
            what = "stream" if self.stream else "recording"
            log.error(f"{what} {self.path} failed (ffmpeg exit {rc}: {self._ffmpeg_said()})")
        self.complete = rc == 0 and self._error is None
        self._stderr.close()
        if self.tape is not None:
            self.tape.close()
            if self.complete:
                self._mux_tape()
            elif self.tape.frames:
                log.warning(f"recording {self.path} stopped early; the sound that played is in {self.tape.path}")

    def _mux_tape(self) -> None:
        """The taped live input into the finished video; the WAV is kept if that fails."""
        tape = self.tape
        if not tape.frames or tape.offset is None:
            tape.path.unlink(missing_ok=True)
            sidecar(tape.path).unlink(missing_ok=True)
            return
        said = mux(self.path, tape.path, tape.offset)
        if said is not None:
            log.error(f"recording {self.path}: the sound could not be added ({said}); it is in {tape.path}")
            self.complete = False


def has_sound(video: Path) -> bool:
    """Does the file carry an audio stream (a show whose sound was a file records it as it plays)?"""
    r = subprocess.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(video)], capture_output=True, text=True)
    return any(line.lstrip().startswith("Stream #") and ": Audio:" in line for line in r.stderr.splitlines())


def mux(video: Path, tape: Path, offset: float) -> str | None:
    """The tape into the video (`offset`: seconds from the first frame to the first sample); the
    video is replaced, the tape and its note removed. Returns what ffmpeg said when it failed (the
    tape is kept then)."""
    shift = ["-itsoffset", f"{offset:.6f}"] if offset > 0 else ["-ss", f"{-offset:.6f}"]
    tmp = video.with_name(video.stem + ".muxing" + video.suffix)
    # the picture sets the length: sound missing at the end (an input lost for good, a tape that
    # stopped on a full disk) is padded with silence, never the video cut to the sound
    cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(video),
           *shift, "-i", str(tape), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac",
           "-b:a", "192k", "-af", "apad", "-shortest"]
    if video.suffix.lower() in (".mp4", ".mov", ".m4v"):
        cmd += ["-movflags", "+faststart"]
    r = subprocess.run(cmd + [str(tmp)], capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        return (r.stderr.strip().splitlines() or ["no message"])[-1]
    tmp.replace(video)
    tape.unlink(missing_ok=True)
    sidecar(tape).unlink(missing_ok=True)
    return None
