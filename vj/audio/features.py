"""Audio features, one hop at a time: the same streaming code for live input, files and `vj features`.

Per hop (512 samples; 10.7 ms at 48 kHz) the Analyzer takes one FFT (spectrum.py) and derives:

  level, bass, mid, high   0..1: dB -> automatic gain (a peak follower that forgets within a few
                           seconds: a quiet room and a loud club read alike) -> envelope (fast
                           attack, slower release). Below the floor a feature is exactly 0.
  *_hit, *_pulse           per band: an onset in that band, and a pulse that jumps to 1 and decays
  *_time                   per band: an integrator that runs faster while the band is loud
  *_presence               per band: a slow (seconds) measure of how much the band is there
  centroid, flux           spectral centroid (0..1 on a log scale, 30 Hz..16 kHz) and onset strength
  spectrum                 64 log bands, 0..1, for shaders
  onset                    an onset in the whole signal (onsets.py)
  beat, bpm, beat_phase,   the beat tracker (tempo.py)
  bar_phase, confidence

Real-time contract: process() allocates nothing large and takes a few tens of microseconds (see
BENCHMARKS.md); it runs on the analysis side, never in the sound card's callback.
"""

from __future__ import annotations

import math

import numpy as np

from vj.audio.onsets import OnsetFunction, PeakPicker
from vj.audio.spectrum import Spectrum
from vj.audio.tempo import TempoTracker
from vj.core.features import AnalyzerConfig, Features


class Analyzer:
    def __init__(self, samplerate: int, config: AnalyzerConfig = AnalyzerConfig()) -> None:
        c = self.config = config
        self.sr = samplerate
        self.hop = c.hop
        hop_dt = c.hop / samplerate
        self.spectrum = Spectrum(samplerate, c.hop, c.edges)
        self.onsets = OnsetFunction(self.spectrum.log_centres, hop_dt, c.edges)
        self.picker = PeakPicker(hop_dt, sensitivity=c.sensitivity)
        # per-band hits: an onset (of the whole signal) hits a band when that band's level rises by at
        # least `rise_db` over the last two hops and is within 25 dB of the loudest band: a splash of
        # leakage from a loud hit elsewhere is neither
        self._band_db = ([-200.0] * 3, [-200.0] * 3)  # the band levels of the last two hops
        self._band_hold = [0, 0, 0]  # hops left in which an onset may still claim the band's rise
        self.rise_db = 6.0 / c.band_sensitivity
        self.tempo = TempoTracker(samplerate / c.hop, c.bpm_range, octave_ratio=c.octave_ratio)
        self.hop_dt = hop_dt
        self._a_att = math.exp(-hop_dt / c.attack)
        self._a_rel = math.exp(-hop_dt / c.release)
        self._peak_fall = c.range_db * hop_dt / c.gain_memory
        self._peak = [c.floor_db + c.range_db] * 4
        self._env = [0.0] * 4
        self._pulse_decay = math.exp(-hop_dt / c.pulse_decay)
        self._pulse = [0.0, 0.0, 0.0]
        self._time = [0.0, 0.0, 0.0]
        self._presence = [0.0, 0.0, 0.0]
        self._a_presence = math.exp(-hop_dt / c.presence_time)
        self._spec_peak = c.floor_db + c.range_db
        self._spec = np.zeros(self.spectrum.n_log)
        self._sdb = np.empty(self.spectrum.n_log)
        self._flux_peak = 1.0
        self._flux_fall = math.exp(-hop_dt / 3.0)
        self._log_lo = math.log(30.0)
        self._log_span = math.log(16000.0) - self._log_lo
        self.samples = 0  # analysed so far
        self.bad_samples = 0  # NaN/Inf replaced by 0
        self.clipped = 0  # |x| >= 1

    def process(self, hop: np.ndarray) -> Features:
        """Analyse one hop of mono float samples (len == config.hop)."""
        x = np.asarray(hop, dtype=np.float32)
        if x.shape != (self.hop,):
            raise ValueError(f"expected a hop of {self.hop} mono samples, got shape {x.shape}")
        energy = float(np.dot(x, x))
        if not math.isfinite(energy):  # NaN/Inf in the stream: counted, treated as silence
            bad = ~np.isfinite(x)
            self.bad_samples += int(bad.sum())
            x = np.where(bad, np.float32(0.0), x)
            energy = float(np.dot(x, x))
        if energy >= 1.0:  # only then can a sample reach full scale
            self.clipped += int(np.count_nonzero(np.abs(x) >= 1.0))
        self.samples += self.hop
        t = self.samples / self.sr
        c = self.config

        power, bands = self.spectrum.process(x)
        # levels: the hop's RMS and the three band powers, in dB, auto-gained, enveloped (4 values:
        # plain floats are cheaper than numpy here)
        env, peak = self._env, self._peak
        top_floor = c.floor_db + c.range_db
        db = [10.0 * math.log10(energy / self.hop + 1e-20)] + [10.0 * math.log10(float(v) + 1e-20) for v in bands[:3]]
        for i in range(4):
            peak[i] = max(db[i], peak[i] - self._peak_fall, top_floor)  # never amplify below the floor
            n = 0.0 if db[i] < c.floor_db else min(1.0, max(0.0, (db[i] - peak[i] + c.range_db) / c.range_db))
            a = self._a_att if n > env[i] else self._a_rel
            e = a * env[i] + (1.0 - a) * n
            env[i] = e if e >= 1e-4 else 0.0  # let silence settle to exactly 0

        # onsets, per-band hits and pulses, integrators, presence
        odf = self.onsets.process(bands[3:])
        all_flux = float(odf[0])
        onset = self.picker.step(all_flux)
        hits = self._band_hits(db[1:], onset)
        for i in range(3):
            self._pulse[i] = 1.0 if hits[i] else self._pulse[i] * self._pulse_decay
            lv = env[i + 1]
            self._time[i] += self.hop_dt * lv
            self._presence[i] = self._a_presence * self._presence[i] + (1.0 - self._a_presence) * lv
        self._flux_peak = max(all_flux, self._flux_peak * self._flux_fall, 1.0)

        beat = self.tempo.process(float(odf[1]), float(odf[2]), 0.5 * float(odf[3] + odf[4]), t, float(odf[5]))

        # spectrum for shaders: dB under the loudest band's running peak, smoothed on the way down
        sdb = self._sdb
        np.add(bands[3:], 1e-20, out=sdb)
        np.log10(sdb, out=sdb)
        sdb *= 10.0
        self._spec_peak = max(float(sdb.max()), self._spec_peak - self._peak_fall, top_floor)
        lo = self._spec_peak - c.range_db - 12.0
        sdb -= lo
        sdb *= 1.0 / (c.range_db + 12.0)
        np.minimum(sdb, 1.0, out=sdb)
        spec = self._spec
        spec *= self._a_rel
        np.maximum(spec, sdb, out=spec)  # (negative values of sdb lose to spec >= 0)
        ro = spec.astype(np.float32)
        ro.flags.writeable = False

        centroid = 0.0
        if energy > 0.0 and env[0] > 0.0:
            total = float(power.sum())
            if total > 1e-12:
                hz = float(power @ self.spectrum.freqs) / total
                centroid = min(1.0, max(0.0, (math.log(max(hz, 30.0)) - self._log_lo) / self._log_span))

        p = self._pulse
        return Features(
            t, env[0], env[1], env[2], env[3], hits[0], hits[1], hits[2], p[0], p[1], p[2],
            self._time[0], self._time[1], self._time[2], self._presence[0], self._presence[1], self._presence[2],
            centroid, min(1.0, all_flux / self._flux_peak), onset,
            beat.beat, beat.bpm, beat.beat_phase, beat.bar_phase, beat.confidence, beat.beats, ro)

    def _band_hits(self, db: list[float], onset: bool) -> list[bool]:
        last, before = self._band_db
        top = max(db) - 25.0
        hits = []
        for i in range(3):
            if db[i] - max(last[i], before[i]) >= self.rise_db and db[i] >= top:
                self._band_hold[i] = 2  # the band rose: an onset now or in the next hop claims it
            hit = onset and self._band_hold[i] > 0
            if hit:
                self._band_hold[i] = 0
            elif self._band_hold[i]:
                self._band_hold[i] -= 1
            hits.append(hit)
        self._band_db = (db, last)
        return hits

    # the performer's hand on the beat
    def tap(self, at: float | None = None) -> None:
        """A tap on the beat at stream time `at` (seconds; None: the end of the last hop)."""
        self.tempo.tap(self.samples / self.sr if at is None else at)

    def set_bpm(self, bpm: float | None) -> None:
        self.tempo.set_bpm(bpm)
