"""Streaming audio features, one hop at a time: the same code for live input and files.

Per hop (512 samples): the RMS level of the hop and the power in three bands (bass / mid / high)
from a Hann-windowed FFT over the last two hops. Each goes through

    dB -> automatic gain (a peak follower that forgets within a few seconds) -> 0..1
       -> envelope (fast attack, slower release)

so the same set reacts alike in a quiet room and a loud club. Below `floor_db` the feature is 0:
digital silence is exactly 0, not amplified noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SOURCES = ("audio.level", "audio.bass", "audio.mid", "audio.high")  # route sources / shader uniforms


@dataclass(frozen=True)
class Features:
    t: float = 0.0  # stream time at the end of the analysed hop, seconds
    level: float = 0.0  # broadband loudness, 0..1 after auto-gain
    bass: float = 0.0  # power below bands[0] Hz, 0..1
    mid: float = 0.0  # bands[0]..bands[1] Hz, 0..1
    high: float = 0.0  # above bands[1] Hz, 0..1

    def as_sources(self) -> dict[str, float]:
        return {"audio.level": self.level, "audio.bass": self.bass, "audio.mid": self.mid, "audio.high": self.high}

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class FeatureTracker:
    def __init__(
        self,
        samplerate: int,
        hop: int = 512,
        bands: tuple[float, float] = (250.0, 2000.0),  # Hz: bass | mid | high edges
        attack: float = 0.005,  # s: envelope rise time constant
        release: float = 0.15,  # s: envelope fall time constant
        gain_memory: float = 4.0,  # s: the auto-gain peak falls by range_db over this time
        range_db: float = 36.0,  # dB below the running peak that maps to 0
        floor_db: float = -80.0,  # dBFS: anything quieter is silence (0)
    ) -> None:
        if not 0 < bands[0] < bands[1] < samplerate / 2:
            raise ValueError(f"band edges {bands} must rise within 0..{samplerate / 2} Hz")
        self.sr = samplerate
        self.hop = hop
        n = 2 * hop
        self._window = np.hanning(n).astype(np.float32)
        self._frame = np.zeros(n, np.float32)
        freqs = np.fft.rfftfreq(n, 1.0 / samplerate)
        self._bands = [freqs < bands[0], (freqs >= bands[0]) & (freqs < bands[1]), freqs >= bands[1]]
        # Normalise band power so a full-scale sine reads about 0 dB in its band.
        self._fft_scale = 2.0 / float(np.sum(self._window)) ** 2
        hop_dt = hop / samplerate
        self._a_att = float(np.exp(-hop_dt / attack))
        self._a_rel = float(np.exp(-hop_dt / release))
        self._peak_fall = range_db * hop_dt / gain_memory  # dB per hop
        self.range_db = range_db
        self.floor_db = floor_db
        self._peak = np.full(4, floor_db + range_db)
        self._env = np.zeros(4)
        self.samples = 0  # analysed so far
        self.bad_samples = 0  # NaN/Inf replaced by 0
        self.clipped = 0  # |x| >= 1

    def process(self, hop: np.ndarray) -> Features:
        """Analyse one hop of mono float samples (len == self.hop). Never allocates large buffers."""
        x = np.asarray(hop, dtype=np.float32)
        if x.shape != (self.hop,):
            raise ValueError(f"expected a hop of {self.hop} mono samples, got shape {x.shape}")
        finite = np.isfinite(x)
        if not finite.all():
            self.bad_samples += int(x.size - finite.sum())
            x = np.where(finite, x, 0.0).astype(np.float32)
        self.clipped += int(np.count_nonzero(np.abs(x) >= 1.0))
        self._frame[: self.hop] = self._frame[self.hop :]
        self._frame[self.hop :] = x
        self.samples += self.hop

        spec = np.abs(np.fft.rfft(self._frame * self._window)) ** 2 * self._fft_scale
        power = np.empty(4)
        power[0] = float(np.mean(x.astype(np.float64) ** 2))
        for i, mask in enumerate(self._bands, 1):
            power[i] = float(spec[mask].sum())
        db = 10.0 * np.log10(power + 1e-20)

        self._peak = np.maximum(db, self._peak - self._peak_fall)
        self._peak = np.maximum(self._peak, self.floor_db + self.range_db)  # never amplify below the floor
        norm = np.clip((db - (self._peak - self.range_db)) / self.range_db, 0.0, 1.0)
        norm[db < self.floor_db] = 0.0

        a = np.where(norm > self._env, self._a_att, self._a_rel)
        self._env = a * self._env + (1.0 - a) * norm
        self._env[self._env < 1e-4] = 0.0  # let silence settle to exactly 0
        e = self._env
        return Features(self.samples / self.sr, float(e[0]), float(e[1]), float(e[2]), float(e[3]))
