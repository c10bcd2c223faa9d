"""Onsets: a spectral-flux detection function and a causal peak picker.

Detection function, per hop, over the spectrum's log bands (see spectrum.py):
  - each band is compared with its own running peak (falls 3 dB/s, never below 45 dB under the
    loudest band), compressed with log(1 + 100 x): level-independent, noise not amplified;
  - the flux is the rise over the largest of the last frames (3 below 3 kHz, where bass notes
    beat inside a 21 ms frame; 2 above), after a max over neighbouring bands (SuperFlux's trick
    against vibrato and sweeping kicks);
  - bands above 3 kHz weigh 3x: that is where hats and the attacks of everything live;
  - above 5 kHz, each band's rise in dB also counts (`rise_weight` per dB over `rise_db`, from no
    lower than `rise_floor_db` under its reference): a hat that stands 10-20 dB over a snare's
    tail in its own bands is a clear onset, but under the snare's running peak the compressed
    flux hardly sees it (measured: quiet sixteenth hats in drum & bass, onset F 0.54 -> see
    BENCHMARKS.md). Those bands are wide (a kHz or more): noise in them moves by a dB or so, not
    by several at once.
Its sub-sums give the per-band functions (bass / mid / high), and the one the tempo tracker
listens to: kick, snare body and snare wires (up to 6 kHz, not the hats), each group scaled by
its own running peak so that a quiet snare counts as much as a loud kick.

Peak picking (no look-ahead: an onset is published on the hop that shows it) fires when the value
rises above  max((median of the last 16 values * k + delta) / sensitivity, masking)  and the last
onset is at least 30 ms ago; the masking level is a fraction of the last onset that fades in 50 ms.
Measured on the synthesised tracks (tests/test_audio_analysis.py): F >= 0.98, latency <= 18 ms.
"""

from __future__ import annotations

import math

import numpy as np


class OnsetFunction:
    OUTPUTS = ("all", "rhythm", "bass", "mid", "high", "wires")  # what process() returns, in order

    def __init__(self, centres: np.ndarray, hop_dt: float, edges: tuple[float, float] = (250.0, 2000.0),
                 split_hz: float = 3000.0, compression: float = 100.0, fall_db_s: float = 3.0,
                 floor_db: float = 45.0, high_weight: float = 3.0, rise_hz: float = 5000.0,
                 rise_weight: float = 1.5, rise_db: float = 2.0, rise_floor_db: float = 25.0) -> None:
        n = len(centres)
        if np.any(np.diff(centres) <= 0):
            raise ValueError("band centres must rise")
        self.n_lo = int(np.count_nonzero(centres < split_hz))  # bands below the split: the first n_lo
        self.compression = compression
        self.fall = 10 ** (-fall_db_s * hop_dt / 10)
        self.floor = 10 ** (-floor_db / 10)
        self.peak = np.full(n, 1e-20)
        self.hist = np.zeros((3, n))  # the last three compressed frames (silence before the stream)
        self._i = 0
        w = np.where(centres < split_hz, 1.0, high_weight)
        cols = [w, (centres < edges[0]) * w, ((centres >= edges[0]) & (centres < edges[1])) * w,
                (centres >= edges[1]) * w]
        # the rhythm groups (kick, snare body, snare wires), each scaled by its own running peak so
        # a quiet snare counts as much as a loud kick when the tracker asks "is every beat there?"
        groups = [centres < 250.0, (centres >= 250.0) & (centres < 2000.0), (centres >= 2000.0) & (centres < 6000.0)]
        self.matrix = np.stack(cols + [g.astype(float) for g in groups], axis=1)
        self._group_peak = [1.0, 1.0, 1.0]
        self._group_fall = math.exp(-hop_dt / 2.0)
        self._c = np.empty(n)
        self._prev = np.empty(n)
        self._wide = np.empty(n)
        self._out = np.zeros(6)
        self.n_rise = int(np.count_nonzero(centres < rise_hz))  # the bands from here on count their rise in dB
        self.rise_weight, self.rise_db = rise_weight, rise_db
        self.rise_floor = 10 ** (-rise_floor_db / 10)
        self.rise_hist = np.full((3, n - self.n_rise), -rise_floor_db)  # dB under the reference, last 3 frames
        self._db = np.empty(n - self.n_rise)
        self._r = np.empty(n - self.n_rise)

    def process(self, bands: np.ndarray) -> np.ndarray:
        """Band powers (n,) -> the six detection functions (all, rhythm, bass, mid, high, and the
        snare wires' 2-6 kHz scaled by their own running peak); the returned array is reused on
        the next call."""
        peak, c, prev, wide = self.peak, self._c, self._prev, self._wide
        np.multiply(peak, self.fall, out=peak)
        np.maximum(bands, peak, out=peak)
        np.maximum(peak, peak.max() * self.floor, out=c)  # the reference: never far under the loudest
        np.divide(bands, c, out=c)
        rise = self._rise(c)
        c *= self.compression
        np.log1p(c, out=c)
        h, i, k = self.hist, self._i, self.n_lo
        np.maximum(h[(i - 1) % 3], h[(i - 2) % 3], out=prev)  # high bands: the last two frames
        np.maximum(prev[:k], h[i % 3, :k], out=prev[:k])  # low bands: the last three
        wide[:] = prev
        np.maximum(wide[1:], prev[:-1], out=wide[1:])
        np.maximum(wide[:-1], prev[1:], out=wide[:-1])
        h[i % 3] = c
        self._i = i + 1
        np.subtract(c, wide, out=wide)
        np.maximum(wide, 0.0, out=wide)
        sums = wide @ self.matrix
        out = self._out
        out[0] = sums[0] + rise
        out[2:5] = sums[1:4]
        rhythm = 0.0
        for g in range(3):
            v = float(sums[4 + g])
            p = self._group_peak[g] = max(v, self._group_peak[g] * self._group_fall, 1.0)  # below 1: noise
            rhythm += v / p
        out[1] = rhythm
        out[5] = v / p  # the last group: the snare's wires (the tempo's backbeat test)
        return out


    def _rise(self, x: np.ndarray) -> float:
        """The high bands' rise in dB over the larger of the last two frames (x: each band over
        its reference), weighted; called before process() moves on to the next frame."""
        d, r, h, i = self._db, self._r, self.rise_hist, self._i
        np.maximum(x[self.n_rise:], self.rise_floor, out=d)
        np.log10(d, out=d)
        d *= 10.0
        np.maximum(h[(i - 1) % 3], h[(i - 2) % 3], out=r)
        np.subtract(d, r, out=r)
        h[i % 3] = d
        r -= self.rise_db
        np.maximum(r, 0.0, out=r)
        return self.rise_weight * float(r.sum())


class PeakPicker:
    def __init__(self, hop_dt: float, k: float = 1.5, delta: float = 20.0, window: int = 16, masking: float = 0.2,
                 masking_time: float = 0.05, refractory: float = 0.03, sensitivity: float = 1.0) -> None:
        self.k, self.delta = k, delta
        self.sensitivity = sensitivity  # > 1: more onsets, < 1: fewer
        self.masking = masking
        self._mask_decay = math.exp(-hop_dt / masking_time)
        self._refractory_hops = max(1, round(refractory / hop_dt))
        self._buf = [0.0] * window
        self._i = 0
        self._mask = 0.0
        self._prev = 0.0
        self._since = 10**9

    def step(self, v: float) -> bool:
        buf = self._buf
        median = sorted(buf)[len(buf) // 2]
        threshold = max((median * self.k + self.delta) / self.sensitivity, self._mask)
        hit = v > threshold and v > self._prev and self._since >= self._refractory_hops
        if hit:
            self._since = 0
            self._mask = max(self._mask, v * self.masking)
        else:
            self._since += 1
        buf[self._i] = v
        self._i = (self._i + 1) % len(buf)
        self._prev = v
        self._mask *= self._mask_decay
        return hit
