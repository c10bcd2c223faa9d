"""One FFT per hop, shared by every feature: band powers and a log-frequency spectrum.

The frame is the last two hops (1024 samples at 48 kHz: 21 ms), Hann-windowed. A single matrix
product turns the power spectrum into
  - the three level bands (bass | mid | high, edges configurable), as summed power;
  - `n_log` log-spaced bands (default 64, 30 Hz .. 16 kHz), as weighted mean power (triangles;
    where a band is narrower than an FFT bin, the two nearest bins share it),
so the per-hop cost is one rfft and one (bins x bands) product.
"""

from __future__ import annotations

import numpy as np


def log_band_weights(freqs: np.ndarray, n: int, f_lo: float, f_hi: float) -> np.ndarray:
    """(bins, n) weights; each column sums to 1."""
    edges = np.geomspace(f_lo, f_hi, n + 2)
    df = freqs[1] - freqs[0]
    w = np.zeros((len(freqs), n), np.float32)
    for b in range(n):
        lo, c, hi = edges[b], edges[b + 1], edges[b + 2]
        if (hi - lo) / df >= 2.0:  # wide enough for a triangle over bins
            up = (freqs - lo) / (c - lo)
            down = (hi - freqs) / (hi - c)
            w[:, b] = np.clip(np.minimum(up, down), 0.0, None)
        if w[:, b].sum() <= 0:  # narrower than the bins: interpolate at the centre
            x = c / df
            k = int(np.floor(x))
            frac = x - k
            w[k, b] = 1.0 - frac
            if k + 1 < len(freqs):
                w[k + 1, b] = frac
        w[:, b] /= w[:, b].sum()
    return w


class Spectrum:
    def __init__(self, samplerate: int, hop: int = 512, edges: tuple[float, float] = (250.0, 2000.0),
                 n_log: int = 64, f_lo: float = 30.0, f_hi: float = 16000.0) -> None:
        if not 0 < edges[0] < edges[1] < samplerate / 2:
            raise ValueError(f"band edges {edges} must rise within 0..{samplerate / 2:g} Hz")
        self.sr, self.hop, self.n = samplerate, hop, 2 * hop
        self.window = np.hanning(self.n).astype(np.float32)
        self.frame = np.zeros(self.n, np.float32)
        self.freqs = np.fft.rfftfreq(self.n, 1.0 / samplerate).astype(np.float32)
        scale = 2.0 / float(self.window.sum()) ** 2  # a full-scale sine reads about 0 dB in its band
        level = np.stack([self.freqs < edges[0], (self.freqs >= edges[0]) & (self.freqs < edges[1]),
                          self.freqs >= edges[1]], axis=1).astype(np.float32)
        logw = log_band_weights(self.freqs, n_log, f_lo, min(f_hi, 0.45 * samplerate))
        self.matrix = np.concatenate([level, logw], axis=1).astype(np.float64) * scale
        self.n_log = n_log
        self.log_centres = np.geomspace(f_lo, min(f_hi, 0.45 * samplerate), n_log + 2)[1:-1]
        self._windowed = np.empty(self.n, np.float32)
        self._power = np.empty(self.n // 2 + 1)

    def process(self, hop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-> (power spectrum (bins,), band powers (3 + n_log,)) for the frame ending with `hop`.
        The power array is reused on the next call."""
        f = self.frame
        f[: self.hop] = f[self.hop :]
        f[self.hop :] = hop
        np.multiply(f, self.window, out=self._windowed)
        spec = np.fft.rfft(self._windowed)
        v = spec.view(spec.real.dtype)  # (re, im) pairs; numpy 2 keeps float32 in float32
        np.square(v, out=v)
        np.add(v[0::2], v[1::2], out=self._power)
        return self._power, self._power @ self.matrix
