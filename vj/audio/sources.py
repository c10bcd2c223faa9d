"""Audio inputs: silence, a file read frame-exactly, or a live stream. All expose one shape:

    poll(t) -> Features   the newest features, with every onset/beat/hit since the last poll

- FileInput (`vj render`, `vj features FILE`): analyses the file up to clock time t, in the caller's
  thread, hop by hop: frame i of a render sees exactly the sound up to i/fps.
- Live streams (`vj run`): the sound card's callback (or a file played in real time) only copies
  blocks into a preallocated ring and rings a bell; an analysis thread takes each hop as it
  arrives and publishes the features at once (so an onset is out ~10 ms after its hop, whatever
  the frame rate). A lost device makes the features fall to zero, says so in `status`, and is
  retried every 2 s; the show never waits for it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vj.audio.features import Analyzer
from vj.core.features import AnalyzerConfig, Features
from vj.audio.ring import AudioRing
from vj.core.errors import DeviceError, VJError
from vj.log import log
from vj.mailbox import BoundedInbox
from vj.supervisor import Backoff

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus", ".m4a", ".aac", ".wma"}
RETRY_FIRST, RETRY_MOST = 2.0, 8.0  # seconds between tries of a lost sound card (a new capture process is cheap)


@dataclass(frozen=True)
class AudioTrack:
    """Audio that a recording can carry: a file and where in it the show started."""

    path: Path
    offset: float = 0.0  # seconds into the file at show time 0
    loop: bool = False  # played round and round (vj run --audio-loop): the recording loops it too


class FeatureBus:
    """Latest features from the analysis thread, with the events of every hop since the last take:
    a render frame that spans four hops still sees the onset that happened in the second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest = Features()
        self._since: list[Features] = []
        self.published = 0

    def publish(self, f: Features) -> None:
        with self._lock:
            if f.onset or f.beat or f.bass_hit or f.mid_hit or f.high_hit:
                self._since.append(f)
                del self._since[:-64]  # bounded: a reader that never comes can't grow it
            self._latest = f
            self.published += 1

    def take(self) -> Features:
        with self._lock:
            f, since = self._latest, self._since
            self._since = []
        return f.merged_events([s for s in since if s is not f])


def _mix(block: np.ndarray, channel: int | None) -> np.ndarray:
    """(frames, channels) -> mono: one channel (1-based) or the mean of all."""
    if channel:
        return block[:, channel - 1]
    return block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]


class AudioInputBase:
    """What every audio input says (core.protocols.AudioInput), at its quietest: the inputs below
    change what applies to them."""

    name = "none"
    samplerate = 48000
    status = "no audio input"
    lost = False
    ended = False
    analyzer: Analyzer | None = None
    track: AudioTrack | None = None
    duration: float | None = None
    records = False

    def start(self) -> None:
        pass

    def poll(self, t: float) -> Features:
        return Features(t=t)

    def tap(self, when: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class SilentInput(AudioInputBase):
    """No sound: every feature at 0, for as long as the show runs."""


def _decode_with_ffmpeg(path: Path) -> Path:
    """Formats libsndfile can't read (m4a, aac, wma...) become a temporary wav through ffmpeg."""
    import tempfile

    exe = shutil.which("ffmpeg")
    if not exe:
        raise VJError(f"audio file {path}: not a format libsndfile reads, and ffmpeg (which would) is not installed")
    out = Path(tempfile.mkstemp(suffix=".wav", prefix="vj-audio-")[1])
    r = subprocess.run([exe, "-v", "error", "-y", "-i", str(path), "-vn", "-c:a", "pcm_f32le", str(out)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        out.unlink(missing_ok=True)
        msg = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise VJError(f"audio file {path}: can't be read ({msg})")
    return out


def _open_soundfile(path: Path):
    import soundfile as sf

    try:
        return sf.SoundFile(str(path)), None
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError):
        wav = _decode_with_ffmpeg(path)
        return sf.SoundFile(str(wav)), wav


class FileInput(AudioInputBase):
    """A sound file analysed up to the clock time on each poll (streamed from disk, never whole)."""

    def __init__(self, path: Path, config: AnalyzerConfig = AnalyzerConfig(), channel: int | None = None) -> None:
        self.path = Path(path)
        self._file, self._temp = _open_soundfile(self.path)
        self.samplerate = self._file.samplerate
        self.channels = self._file.channels
        if channel and not 1 <= channel <= self.channels:
            raise VJError(f"audio file {self.path}: channel {channel} does not exist (it has {self.channels})")
        self.channel = channel
        self.duration = self._file.frames / self.samplerate
        self.name = self.path.name
        self.track = AudioTrack(self.path)
        self.analyzer = Analyzer(self.samplerate, config)
        self._hop = config.hop
        self._features = Features()
        self._eof = False
        self.status = f"file {self.name} ({self.duration:.1f} s, {self.samplerate} Hz)"

    def start(self) -> None:
        pass

    def next_hop(self) -> Features:
        """Analyse the next hop (silence past the end)."""
        mono = np.zeros(self._hop, np.float32)
        if not self._eof:
            block = self._file.read(self._hop, dtype="float32", always_2d=True)
            if len(block):
                mono[: len(block)] = _mix(block, self.channel)
            if len(block) < self._hop:  # past the end: the room goes quiet, features fall to 0
                self._eof = True
        return self.analyzer.process(mono)

    def poll(self, t: float) -> Features:
        target = int(t * self.samplerate)
        since = []
        while self.analyzer.samples + self._hop <= target:
            self._features = self.next_hop()
            since.append(self._features)
        return self._features.merged_events(since[:-1])

    @property
    def ended(self) -> bool:
        return self._eof

    def tap(self, when: float | None = None) -> None:
        self.analyzer.tap()  # analysed ahead of any real time: the tap is where the analysis is

    def close(self) -> None:
        self._file.close()
        if self._temp:
            self._temp.unlink(missing_ok=True)


class StreamInput(AudioInputBase):
    """A live stream of blocks -> ring -> analysis thread -> FeatureBus. Subclasses feed the ring."""

    def __init__(self, name: str, samplerate: int, channels: int, config: AnalyzerConfig,
                 channel: int | None = None) -> None:
        self.name = name
        self.samplerate = samplerate
        self.channels = channels
        self.channel = channel
        self.config = config
        self.track: AudioTrack | None = None
        self.ring = AudioRing(samplerate * 2, channels)  # 2 s: far more than a frame's worth
        self.analyzer = Analyzer(samplerate, config)
        self.bus = FeatureBus()
        self._bell_r, self._bell_w = socket.socketpair()
        self._bell_w.setblocking(False)
        self._bell_r.settimeout(0.1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.xruns = 0
        self.status = name
        self.lost = False
        self.listener = None  # called with every hop's Features, on the analysis thread (vj features)
        self.tape = None  # an AudioTape: the input recorded beside the show (vj run --out)
        self._taps: BoundedInbox[float] = BoundedInbox(16)  # from the performer (time.monotonic() of each),
        # applied on the analysis thread

    # -- the real-time side: called from the sound card's (or the player's) callback ------------
    def _deliver(self, block: np.ndarray) -> None:
        """Real-time contract: copy into the preallocated ring and ring the bell; no allocation,
        no locks, no printing, nothing kept."""
        self.ring.write(block)
        try:
            self._bell_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the bell is already ringing

    # -- the analysis thread ----------------------------------------------------------------------
    def _analyse(self) -> None:
        hop = np.zeros((self.config.hop, self.channels), np.float32)
        while not self._stop.is_set():
            try:
                self._bell_r.recv(4096)
            except (socket.timeout, TimeoutError):
                pass
            except OSError:
                return
            self._apply_taps()
            while self.ring.available() >= self.config.hop:
                self.ring.read(hop)
                f = self.analyzer.process(_mix(hop, self.channel))
                self.bus.publish(f)
                if self.listener is not None:
                    self.listener(f)
            self._watch()

    def _watch(self) -> None:
        """Subclasses check their device here (every hop, and at least every 0.1 s)."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._analyse, name="vj-audio-analysis", daemon=True)
        self._thread.start()

    def poll(self, t: float) -> Features:
        if self.lost:
            return Features(t=t)
        return self.bus.take()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self._bell_r.close()
        self._bell_w.close()

    # the performer's hand on the beat: the analysis thread owns the tracker, so a tap is posted
    def tap(self, when: float | None = None) -> None:
        self._taps.put(time.monotonic() if when is None else when)

    def _apply_taps(self) -> None:
        """Each tap at its own place in the stream: the newest sound delivered, less how long ago
        the tap came (not when this thread got round to it)."""
        for when in self._taps.drain():
            newest = (self.analyzer.samples + self.ring.available()) / self.samplerate
            self.analyzer.tap(newest - max(0.0, time.monotonic() - when))


class DeviceInput(StreamInput):
    """A sound card input through PortAudio (ALSA, JACK, CoreAudio, WASAPI), captured in a process
    of its own (capture.py). A device that stops delivering audio for a second is lost: features
    fall to zero, the status says so, and a new capture process tries it again every 2 s."""

    stall_seconds = 1.0
    records = True  # live sound: a recording tapes it beside the video

    def __init__(self, device: int, config: AnalyzerConfig = AnalyzerConfig(), samplerate: int | None = None,
                 channel: int | None = None, blocksize: int | None = None) -> None:
        from vj.audio.capture import Capture

        with portaudio() as sd:
            info = sd.query_devices(device)
        channels = int(info["max_input_channels"])
        if channel and not 1 <= channel <= channels:
            raise DeviceError(f"audio input {info['name']!r} has {channels} channel(s); channel {channel} does not exist")
        channels = channel if channel else min(2, channels)  # open as many as the chosen one needs
        super().__init__(info["name"], int(samplerate or info["default_samplerate"]), channels, config, channel)
        self.capture = Capture(self.name, self.samplerate, self.channels, blocksize or config.hop)
        self.capture.start()
        self.capture.wait_open(timeout=15.0)
        if self.capture.state != "open":
            msg = self.capture.message or "no answer"
            self.capture.close()
            raise DeviceError(f"audio input {self.name!r}: can't open it ({msg}); see `vj devices`")
        self._last_data = time.monotonic()
        self._retry_at = 0.0
        self._retry = Backoff(RETRY_FIRST, RETRY_MOST)
        self.status = f"input {self.name!r} ({self.channels} ch, {self.samplerate} Hz)"

    def _analyse(self) -> None:
        import select

        hop = np.zeros((self.config.hop, self.channels), np.float32)
        cap = self.capture
        cap.poll_counts()
        cap.read_pos = max(cap.read_pos, cap.written - self.config.hop)  # start from now, not from the open
        while not self._stop.is_set():
            bell = cap.bell()
            if bell is not None:
                try:
                    select.select([bell], [], [], 0.1)
                except (OSError, ValueError):  # the bell closed under us (a restart)
                    time.sleep(0.01)
                cap.poll_counts()
            else:
                time.sleep(0.1)  # no capture process right now: waiting to retry
            got = False
            self._apply_taps()
            while cap.available() >= self.config.hop:
                cap.read(hop)
                if self.tape is not None:
                    self.tape.put(hop)
                f = self.analyzer.process(_mix(hop, self.channel))
                self.bus.publish(f)
                if self.listener is not None:
                    self.listener(f)
                got = True
            if got:
                self._last_data = time.monotonic()
            self._watch()

    def _watch(self) -> None:
        cap = self.capture
        now = time.monotonic()
        if not self.lost:
            if cap.state == "failed" or now - self._last_data > self.stall_seconds:
                self.lost = True
                self.status = f"input {self.name!r} LOST"
                why = cap.message if cap.state == "failed" else f"no audio for {self.stall_seconds:g} s"
                log.warning(f"audio input {self.name!r} lost ({why}); the visuals go on without sound, "
                            f"trying it again every {RETRY_FIRST:g} to {RETRY_MOST:g} s")
                cap.kill()
                self._retry_at = now + self._retry.next()
            return
        if cap.state == "open" and now - self._last_data < self.stall_seconds:
            self.lost = False
            self._retry.reset()
            self.status = f"input {self.name!r} ({self.channels} ch, {self.samplerate} Hz)"
            log.info(f"audio input {self.name!r} is back")
            return
        if cap.state in ("failed", "closed") or (cap.state == "opening" and now >= self._retry_at + 10):
            if now >= self._retry_at:
                cap.kill()
                cap.start()  # a fresh process: PortAudio sees the devices as they are now
                self._retry_at = now + self._retry.next()
                self._last_data = now  # give it the stall time to deliver

    def start(self) -> None:
        super().start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.capture.close()
        super().close()


class FilePlayback(StreamInput):
    """A file played in real time for `vj run`: out of the speakers when there is an output device,
    and into the same streaming analysis as a sound card. A reader thread keeps a second ring
    filled ahead from disk, so the callback never touches the disk."""

    def __init__(self, path: Path, config: AnalyzerConfig = AnalyzerConfig(), channel: int | None = None,
                 monitor: bool = True, loop: bool = False) -> None:
        self._file, self._temp = _open_soundfile(Path(path))
        if channel and not 1 <= channel <= self._file.channels:
            raise VJError(f"audio file {path}: channel {channel} does not exist (it has {self._file.channels})")
        super().__init__(Path(path).name, self._file.samplerate, self._file.channels, config, channel)
        self.path = Path(path)
        self.duration = self._file.frames / self.samplerate
        self.loop = loop  # at its end the file starts again (a rehearsal on one track)
        self.track = AudioTrack(self.path, loop=loop)
        self._ahead = AudioRing(self.samplerate * 4, self.channels)  # what the reader has read ahead
        self._block = config.hop
        self._out = None
        self._eof = False
        self.ended = False  # the whole file has been played: silence from here (the show goes on)
        self.underruns = 0
        self._reader: threading.Thread | None = None
        self._feeder: threading.Thread | None = None
        if monitor:
            self._out = self._open_output()
        where = f"playing on {self._out_name}" if self._out is not None else "silently (no audio output device)"
        self.status = f"file {self.name} ({self.duration:.1f} s, {self.samplerate} Hz{', looped' if loop else ''}), {where}"

    def _open_output(self):
        try:
            sd = _sounddevice()
            sd._initialize()  # running while the file plays (see _sounddevice)
        except Exception:  # no PortAudio: the file still drives the visuals
            return None
        try:
            dev = sd.default.device[1]
            if dev is None or dev < 0:
                raise LookupError("no output device")
            self._out_name = sd.query_devices(dev)["name"]
            return sd.OutputStream(samplerate=self.samplerate, channels=min(2, self.channels) if self.channels else 1,
                                   blocksize=self._block, dtype="float32", callback=self._play)
        except Exception:  # no device: the file still drives the visuals, silently
            sd._terminate()
            return None

    def _read_ahead(self) -> None:
        chunk = self.samplerate // 10
        while not self._stop.is_set():
            if self._ahead.capacity - self._ahead.available() >= chunk and not self._eof:
                data = self._file.read(chunk, dtype="float32", always_2d=True)
                if len(data):
                    self._ahead.write(data)
                if len(data) < chunk:
                    if self.loop and self._file.frames > 0:
                        self._file.seek(0)  # the next chunk starts the file again, sample-true
                    else:
                        self._eof = True
            else:
                time.sleep(0.02)  # the reader's own pace, not the real-time side's

    def _next_block(self, frames: int) -> np.ndarray:
        block = self._scratch[:frames]
        eof = self._eof  # before the count: the reader writes its last chunk, then says eof
        have = self._ahead.available()
        if have >= frames:
            self._ahead.read(block)
        elif eof:  # the file's last samples, then silence
            block[:] = 0.0
            if have:
                self._ahead.read(block[:have])
            else:
                self.ended = True
        else:  # not read yet (a slow disk): silence, counted
            block[:] = 0.0
            self.underruns += 1
        return block

    def _play(self, outdata, frames, time_info, status) -> None:
        """PortAudio's output thread: the next block to the speakers and to the analysis."""
        block = self._next_block(frames)
        outdata[:] = block[:, : outdata.shape[1]]
        self._deliver(block)

    def _feed(self) -> None:
        """No output device: deliver blocks at the file's own pace against the monotonic clock."""
        period = self._block / self.samplerate
        next_t = time.perf_counter()
        while not self._stop.is_set():
            self._deliver(self._next_block(self._block))
            next_t += period
            delay = next_t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def start(self) -> None:
        self._scratch = np.zeros((max(self._block * 8, 8192), self.channels), np.float32)
        self._reader = threading.Thread(target=self._read_ahead, name="vj-audio-reader", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 2.0
        while self._ahead.available() < self._block * 4 and not self._eof and time.monotonic() < deadline:
            time.sleep(0.005)  # before the show starts: a head start for the reader
        super().start()
        if self._out is not None:
            self._out.start()
        else:
            self._feeder = threading.Thread(target=self._feed, name="vj-audio-feeder", daemon=True)
            self._feeder.start()

    def close(self) -> None:
        self._stop.set()
        if self._out is not None:
            try:
                self._out.stop()
                self._out.close()
                _sounddevice()._terminate()
            except Exception:
                pass
        for th in (self._reader, self._feeder):
            if th is not None:
                th.join(2.0)
        super().close()
        self._file.close()
        if self._temp:
            self._temp.unlink(missing_ok=True)


def _sounddevice():
    """sounddevice, with PortAudio *not* left running in this process: PortAudio holds a client of
    the audio server (JACK...) while it runs, and if that server dies, ending PortAudio aborts
    the whole process. So this process starts PortAudio only around a query (`portaudio()`) or
    while it plays a file; sound cards are opened in capture processes (capture.py)."""
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise DeviceError(f"live audio needs PortAudio ({e}); install libportaudio2, or use --audio FILE / none") from None
    global _PA_HANDED_BACK
    if not _PA_HANDED_BACK:
        while sd._initialized:  # importing it started PortAudio once
            sd._terminate()
        _PA_HANDED_BACK = True
    return sd


_PA_HANDED_BACK = False


@contextlib.contextmanager
def portaudio():
    """PortAudio running for the length of a `with` block (device queries)."""
    sd = _sounddevice()
    sd._initialize()
    try:
        yield sd
    finally:
        sd._terminate()


def input_devices() -> list[tuple[int, str, int, float]]:
    """(index, name, input channels, default samplerate) for every device that can record."""
    with portaudio() as sd:
        return [(i, d["name"], d["max_input_channels"], d["default_samplerate"])
                for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def _device_list() -> str:
    devs = input_devices()
    return "; ".join(f"[{i}] {n}" for i, n, _, _ in devs) if devs else "none found"


def open_audio(spec: str | None, *, live: bool, config: AnalyzerConfig = AnalyzerConfig(), channel: int | None = None,
               samplerate: int | None = None, blocksize: int | None = None, monitor: bool = True,
               loop: bool = False):
    """`--audio` as a performer types it: none | default | a file | a device index | a name substring.
    A file is read frame-exactly (`live=False`) or played in real time (`live=True`)."""
    if spec is None or spec.lower() in ("", "none", "off"):
        return SilentInput()
    p = Path(spec).expanduser()
    if p.is_file():
        return FilePlayback(p, config, channel, monitor, loop) if live else FileInput(p, config, channel)
    if p.suffix.lower() in AUDIO_SUFFIXES or "/" in spec:
        raise VJError(f"audio file {spec!r} not found; give an existing file, a device (see `vj devices`) or none")
    kw = dict(config=config, samplerate=samplerate, channel=channel, blocksize=blocksize)
    if spec.lower() == "default":
        with portaudio() as sd:
            idx = sd.default.device[0]
        if idx is None or idx < 0:
            raise DeviceError(f"no default audio input; inputs: {_device_list()}; or use --audio FILE / none")
        return DeviceInput(int(idx), **kw)
    devs = input_devices()
    if spec.isdigit():
        for i, _, _, _ in devs:
            if i == int(spec):
                return DeviceInput(i, **kw)
        raise DeviceError(f"audio input {spec} does not exist; inputs: {_device_list()}")
    matches = [i for i, n, _, _ in devs if spec.lower() in n.lower()]
    if not matches:
        raise DeviceError(f"no audio input matches {spec!r}; inputs: {_device_list()}")
    return DeviceInput(matches[0], **kw)
