"""Audio inputs: silence, a file, or a live sound card. All expose one shape:

    poll(t) -> Features   analyse everything that arrived up to clock time t (render thread)

A file is read frame-exactly (offline render: the features at frame i are those of the audio
up to i/fps) or in real time against the show clock (live). A live input's PortAudio callback
only copies into a preallocated ring; analysis happens in poll(), at hop granularity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vj.audio.features import Features, FeatureTracker
from vj.audio.ring import AudioRing
from vj.errors import DeviceError, VJError
from vj.log import log

HOP = 512  # samples per analysis hop
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus"}


@dataclass(frozen=True)
class AudioTrack:
    """Audio that a recording can carry: a file and where in it the show started."""

    path: Path
    offset: float = 0.0  # seconds into the file at show time 0


class SilentInput:
    name = "none"
    samplerate = 48000
    track: AudioTrack | None = None
    status = "no audio input"

    def start(self) -> None:
        pass

    def poll(self, t: float) -> Features:
        return Features(t=t)

    def close(self) -> None:
        pass


class FileInput:
    """A sound file, analysed up to the clock time on each poll (streamed from disk, never whole)."""

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        self.path = Path(path)
        try:
            self._file = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            raise VJError(f"audio file {self.path}: can't be read ({e}); use wav, flac, ogg or mp3") from None
        self.samplerate = self._file.samplerate
        self.duration = self._file.frames / self.samplerate
        self.name = self.path.name
        self.track = AudioTrack(self.path)
        self.tracker = FeatureTracker(self.samplerate, HOP)
        self._features = Features()
        self._eof = False
        self.status = f"file {self.name} ({self.duration:.1f} s, {self.samplerate} Hz)"

    def start(self) -> None:
        pass

    def poll(self, t: float) -> Features:
        target = int(t * self.samplerate)
        while self.tracker.samples + HOP <= target:
            block = self._file.read(HOP, dtype="float32", always_2d=True) if not self._eof else np.zeros((0, 1), np.float32)
            if len(block) < HOP:  # past the end: the room goes quiet, features fall to 0
                self._eof = True
                mono = np.zeros(HOP, np.float32)
                if len(block):
                    mono[: len(block)] = block.mean(axis=1)
            else:
                mono = block.mean(axis=1)
            self._features = self.tracker.process(mono)
        return self._features

    def close(self) -> None:
        self._file.close()


class LiveInput:
    """A sound card input through PortAudio (ALSA, JACK, CoreAudio, WASAPI)."""

    def __init__(self, device: int, samplerate: float | None = None, channels: int | None = None) -> None:
        import sounddevice as sd

        info = sd.query_devices(device)
        self.name = info["name"]
        self.samplerate = int(samplerate or info["default_samplerate"])
        self.channels = int(channels or min(2, info["max_input_channels"]))
        self.track = None
        self.ring = AudioRing(self.samplerate * 2, self.channels)  # 2 s: far more than a frame's worth
        self._hop = np.zeros((HOP, self.channels), np.float32)
        self.tracker = FeatureTracker(self.samplerate, HOP)
        self._features = Features()
        self.xruns = 0
        self.status = f"input {self.name!r} ({self.channels} ch, {self.samplerate} Hz)"
        try:
            self._stream = sd.InputStream(device=device, channels=self.channels, samplerate=self.samplerate,
                                          blocksize=HOP, dtype="float32", callback=self._callback)
        except sd.PortAudioError as e:
            raise DeviceError(f"audio input {self.name!r}: can't open it ({e}); see `vj devices`") from None

    def _callback(self, indata, frames, time_info, status) -> None:
        """Real-time contract: runs on PortAudio's thread. Copies into the preallocated ring and
        returns; no allocation, no locks, no printing, no Python objects kept."""
        if status:
            self.xruns += 1
        self.ring.write(indata)

    def start(self) -> None:
        self._stream.start()

    def poll(self, t: float) -> Features:
        while self.ring.available() >= HOP:
            self.ring.read(self._hop)
            self._features = self.tracker.process(self._hop.mean(axis=1))
        if not self._stream.active and self.status != "lost":
            self.status = "lost"
            log.warning(f"audio input {self.name!r} stopped; the visuals go on without sound")
        if self.status == "lost":
            self._features = Features(t=t)
        return self._features

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # already gone with its device: nothing left to release
            pass


def _sounddevice():
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise DeviceError(f"live audio needs PortAudio ({e}); install libportaudio2, or use --audio FILE / none") from None
    return sd


def input_devices() -> list[tuple[int, str, int, float]]:
    """(index, name, input channels, default samplerate) for every device that can record."""
    sd = _sounddevice()
    return [(i, d["name"], d["max_input_channels"], d["default_samplerate"])
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def _device_list() -> str:
    devs = input_devices()
    return "; ".join(f"[{i}] {n}" for i, n, _, _ in devs) if devs else "none found"


def open_audio(spec: str | None) -> SilentInput | FileInput | LiveInput:
    """`--audio` as a performer types it: none | default | a file | a device index | a name substring."""
    if spec is None or spec.lower() in ("", "none", "off"):
        return SilentInput()
    p = Path(spec).expanduser()
    if p.is_file():
        return FileInput(p)
    if p.suffix.lower() in AUDIO_SUFFIXES or "/" in spec:
        raise VJError(f"audio file {spec!r} not found; give an existing file, a device (see `vj devices`) or none")
    sd = _sounddevice()
    if spec.lower() == "default":
        idx = sd.default.device[0]
        if idx is None or idx < 0:
            raise DeviceError(f"no default audio input; inputs: {_device_list()}; or use --audio FILE / none")
        return LiveInput(int(idx))
    devs = input_devices()
    if spec.isdigit():
        for i, _, _, _ in devs:
            if i == int(spec):
                return LiveInput(i)
        raise DeviceError(f"audio input {spec} does not exist; inputs: {_device_list()}")
    matches = [i for i, n, _, _ in devs if spec.lower() in n.lower()]
    if not matches:
        raise DeviceError(f"no audio input matches {spec!r}; inputs: {_device_list()}")
    return LiveInput(matches[0])
