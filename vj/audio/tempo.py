"""Tempo and beat: BPM, beat phase, bar phase, beat events, a confidence; tap tempo and override.

Every `update_every` hops (about 8 per second) the tracker looks at the last `window` seconds of
the rhythm detection function (kicks and snares, see onsets.py):
  1. autocorrelation; each BPM in the range scores the sum of its first harmonics' correlation;
  2. the octave: of the best BPM, its double and its half (those in the range), and the tempo the
     snare's own period says (two beats to a snare), the beat is the fastest that either
     - has every other beat still carrying at least `octave_ratio` of the onsets of the others
       (a four-on-the-floor at 140 is 140, not 70; eighth hats at 90 do not make it 180), or
     - has a backbeat, counted as the floor counts it: the snare band near its loudest on every
       other beat (2 and 4, in a typical bar), weaker on the beats between, and the kicks not on the
       snare's beats. A break's kick may fall anywhere (a two-step leaves beat 3 empty, a Think-like
       break kicks on the "and" of 2), its snare still says 172, not 86. Hip-hop at 90 read at 180
       fails it twice over: its snare falls on every fourth beat, and where the hats on its beats
       fake a snare on every other one, its kicks are on those beats too; a grid at 4/3 or 2/3 of
       the tempo lands on the snare only some of the time;
  3. the phase: where there is a backbeat, the snare's beats are beats (a break's kicks off the
     beat pulled a comb over every hit half a beat away, bar after bar); elsewhere a comb at that
     period, recent beats weighing more, says where the last beat was.
Between updates the beat clock runs freely and publishes a beat event when the stream passes the
predicted time: beats are predicted, not detected late. Each update pulls the clock half-way
towards the new estimate (a phase-locked loop), so it follows drift without jitter.

Tap tempo: taps within 2 s of each other set the BPM (median interval) and put a beat on the tap.
A manual BPM (set_bpm) holds the tempo; the phase still follows the music.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BeatState:
    bpm: float  # 0 until a tempo is known
    beat_phase: float  # 0..1, 0 on the beat
    bar_phase: float  # 0..1 over a 4/4 bar, 0 on the downbeat
    beat: bool  # a beat fell in this hop
    beat_time: float  # stream time of that beat (seconds), or of the last one
    confidence: float  # 0..1
    beats: float = 0.0  # beats counted from the downbeat, plus the phase: whole bars at multiples of 4,
    # so the bar counted from it and bar_phase agree (they jump together when the downbeat moves)


class TempoTracker:
    def __init__(self, hop_rate: float, bpm_range: tuple[float, float] = (70.0, 180.0), window: float = 8.0,
                 update_every: int = 12, min_seconds: float = 2.0, octave_ratio: float = 0.47) -> None:
        lo, hi = bpm_range
        if not 20 <= lo < hi <= 400:
            raise ValueError(f"BPM range {bpm_range}: needs 20 <= low < high <= 400")
        self.fps = hop_rate
        self.lo, self.hi = lo, hi
        self.n = int(round(window * hop_rate))
        self.buf = np.zeros(2 * self.n)  # written twice so the last n are always contiguous
        self.kicks = np.zeros(2 * self.n)  # the kick's and the snare's detection functions, kept the same way
        self.snares = np.zeros(2 * self.n)
        self.count = 0
        self.update_every = update_every
        self.min_hops = int(min_seconds * hop_rate)
        self.octave_ratio = octave_ratio
        self._grid = np.arange(lo, hi + 1e-9, 0.05)
        self._fft_n = 1 << (2 * self.n - 1).bit_length()
        # the beat clock
        self.period = 0.0  # seconds; 0 = unknown
        self.next_beat = math.inf  # stream time of the next predicted beat
        self.last_beat = -math.inf
        self.beat_index = 0
        self.confidence = 0.0
        self.manual_bpm: float | None = None
        self._taps: list[float] = []
        self._estimates: list[float] = []
        self._challenger: float | None = None  # a different tempo asking to take over
        self._votes = 0
        self.change_votes = 3  # updates in a row (about 8 a second) before a new tempo takes over
        self.octave_votes = 8  # ... before twice or half the tempo does
        self._bar_score = np.zeros(4)
        self._downbeat = 0
        self.t = 0.0

    # -- per hop -----------------------------------------------------------------------------
    def process(self, rhythm: float, bass: float, backbeat: float, t: float, snare: float = 0.0) -> BeatState:
        """One hop: `rhythm` is the detection value, `bass` (kicks) and `backbeat` (snares: the
        mid and high detection values) feed the downbeat guess, `bass` and `snare` (the snare
        wires, 2-6 kHz) the octave's backbeat test, `t` is the stream time at the end of the hop."""
        i = self.count % self.n
        self.buf[i] = self.buf[i + self.n] = rhythm
        self.kicks[i] = self.kicks[i + self.n] = bass
        self.snares[i] = self.snares[i + self.n] = snare
        self.count += 1
        self.t = t
        if self.count >= self.min_hops and self.count % self.update_every == 0:
            self._update(t)
        beat = False
        if self.period > 0 and t >= self.next_beat:
            beat = True
            self.last_beat = self.next_beat
            self.next_beat += self.period
            if self.next_beat <= t:  # a long gap (a stall): start counting again from now
                self.next_beat = t + self.period
            self.beat_index += 1
            self._downbeat_vote(bass - backbeat)
        return self.state(beat)

    def _downbeat_vote(self, kick_minus_snare: float) -> None:
        """Bar 1 is where kicks come without snares: a slow score per position in the bar, and a
        downbeat that moves only when another position wins clearly (it never flickers)."""
        k = self.beat_index % 4
        self._bar_score[k] = 0.9 * self._bar_score[k] + 0.1 * kick_minus_snare
        best = int(np.argmax(self._bar_score))
        spread = float(self._bar_score.max() - self._bar_score.min())
        if best != self._downbeat and self._bar_score[best] > self._bar_score[self._downbeat] + 0.25 * spread + 1e-9:
            if self.beat_index >= 8:  # two bars of evidence before the first move
                self._downbeat = best

    def state(self, beat: bool = False) -> BeatState:
        if self.period <= 0:
            return BeatState(0.0, 0.0, 0.0, False, self.last_beat, 0.0)
        phase = min(max((self.t - self.last_beat) / self.period, 0.0), 1.0) if self.last_beat > -math.inf else 0.0
        bar_beat = (self.beat_index - self._downbeat) % 4
        return BeatState(60.0 / self.period, phase % 1.0, (bar_beat + phase % 1.0) / 4.0, beat, self.last_beat,
                         self.confidence, self.beat_index - self._downbeat + phase % 1.0)

    # -- estimation ----------------------------------------------------------------------------
    def _window(self, buf: np.ndarray | None = None) -> np.ndarray:
        n = min(self.count, self.n)
        end = self.count % self.n + self.n
        return (self.buf if buf is None else buf)[end - n : end]

    def _acf(self, x: np.ndarray) -> np.ndarray:
        x = x - x.mean()
        spec = np.fft.rfft(x, self._fft_n)
        a = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, self._fft_n)[: len(x)]
        a /= np.maximum(len(x) - np.arange(len(x)), 1)
        return a / (a[0] + 1e-12)

    def _score(self, acf: np.ndarray, bpms: np.ndarray, harmonics: int = 4) -> np.ndarray:
        lags = 60.0 * self.fps / bpms
        s = np.zeros_like(bpms)
        idx = np.arange(len(acf))
        for k in range(1, harmonics + 1):
            L = k * lags
            ok = L < len(acf) - 1
            s[ok] += np.interp(L[ok], idx, acf) / math.sqrt(k)
        return s

    def _comb(self, x: np.ndarray, period_hops: float, decay: float = 0.85, steps: int = 48):
        """Phase of a beat grid at `period_hops` over x (which ends now): (offset back from the end
        to the last beat in hops, even-beat mean, odd-beat mean)."""
        n = len(x)
        sm = self._widened(x)
        beats = int((n - 1) // period_hops)
        j = np.arange(beats + 1)
        w = decay ** j
        offsets = np.linspace(0.0, period_hops, steps, endpoint=False)
        pos = (n - 1) - offsets[:, None] - j[None, :] * period_hops  # (steps, beats)
        vals = np.interp(pos, np.arange(n), sm, left=0.0)
        scores = (vals * w).sum(axis=1)
        b = int(np.argmax(scores))
        # alternate beats over a grid of twice the period, at the best phase
        even, odd = vals[b, 0::2].mean(), vals[b, 1::2].mean() if beats >= 1 else 0.0
        return offsets[b], even, odd

    # the backbeat test (see _snare_backbeat), measured on the dev sweeps and families of `vj bench
    # audio --accuracy`: every reading right for snare_level 0.5-0.7 and snare_weak 0.8-1.0 (0.45
    # let a hip-hop track jump; 0.8 let a jungle break's reading wander; 0.7 missed a funk break
    # whose hats 6 dB under the snare fall on every beat)
    snare_level = 0.65  # the snare's beats: at least this share of the loudest snare-band hit
    snare_weak = 0.85  # the beats between: under this share of the snare's beats
    kick_lean = 0.3  # the kicks may lean this far (-1..1) towards the snare's beats, no further

    def _octave(self, x: np.ndarray, bpm: float, snares: np.ndarray, kicks: np.ndarray) -> float:
        octaves = [b for b in (bpm * 2, bpm, bpm / 2) if self.lo <= b <= self.hi]
        # the snare's own period, read as two beats: a candidate of its own (a break whose kicks
        # repeat every beat and a half is read at 2/3 of its tempo, its snare says the tempo)
        snare_acf = self._acf(self._window(self.snares))
        by_snare = float(self._grid[int(np.argmax(self._score(snare_acf, self._grid / 2)))])
        extra = [b for b in (by_snare, 2 * by_snare)
                 if self.lo <= b <= self.hi and all(abs(b - o) > 1.0 for o in octaves)]
        for b in sorted(octaves + extra, reverse=True):  # fastest first
            period = 60.0 * self.fps / b
            if self._snare_backbeat(period, snares, kicks) is not None:
                return b
            if b in octaves:
                _, even, odd = self._comb(x, period)
                if min(even, odd) >= self.octave_ratio * max(even, odd, 1e-12):
                    return b
        return octaves[-1]

    def _snare_backbeat(self, period_hops: float, snares: np.ndarray, kicks: np.ndarray,
                        steps: int = 64) -> float | None:
        """A backbeat at this beat period? Over four-beat cycles, the snare band is strong on two
        alternate beats (2 and 4) every cycle and weaker on the two between, and the kicks do not
        lean to the snare's beats (where they do, the "snare" is the hats on the beat of a tempo
        twice too fast). The snare's phase is its comb at two beats. `snares` and `kicks`: their
        windows, widened (as _update makes them once for every candidate). Returns how far back the
        snare's last beat is, in hops, or None where there is no backbeat."""
        sm = snares
        n = len(sm)
        cycles = int((n - 1) // (4 * period_hops))
        if cycles < 2 or sm.max() < 0.05:  # no snare band to speak of (a DJ's low-pass: kick and bass only)
            return None
        idx = np.arange(n)
        offsets = np.linspace(0.0, 2 * period_hops, steps, endpoint=False)
        pairs = (n - 1) - offsets[:, None] - np.arange(2 * cycles)[None, :] * 2 * period_hops
        o = offsets[int(np.argmax(np.interp(pairs, idx, sm, left=0.0).sum(axis=1)))]
        at = (n - 1) - o - np.arange(4 * cycles) * period_hops  # beats back from the snare's last
        v = np.interp(at, idx, sm, left=0.0)
        # each of the four beats in a typical cycle, 0 and 2 the snare's: the median over the cycles (a
        # fill, or a snare played late once in four bars, does not undo it; np.median's first call
        # costs 8 ms of imports on the analysis thread, a sort does not)
        c = np.sort(v.reshape(cycles, 4), axis=0)
        a = c[cycles // 2] if cycles % 2 else 0.5 * (c[cycles // 2 - 1] + c[cycles // 2])
        strong, weak = float(min(a[0], a[2])), float(max(a[1], a[3]))
        if strong < self.snare_level * float(sm.max()) or weak > self.snare_weak * strong:
            return None
        k = np.interp(at, idx, kicks, left=0.0)
        on, off = float(k[0::2].mean()), float(k[1::2].mean())
        return o if on + off <= 0 or (on - off) / (on + off) <= self.kick_lean else None

    @staticmethod
    def _widened(x: np.ndarray) -> np.ndarray:
        """x with each value the largest within a hop of it (a hit read a hop early or late)."""
        sm = x.copy()
        np.maximum(sm[1:], x[:-1], out=sm[1:])
        np.maximum(sm[:-1], x[1:], out=sm[:-1])
        return sm

    def _settle(self, bpm: float) -> float:
        """Small changes glide; a different tempo must win several updates in a row to take over
        (an octave jump, twice or half the tempo, more of them): one odd window changes nothing."""
        if self.period <= 0:
            return bpm
        current = 60.0 / self.period
        if abs(current - bpm) < 1.5:
            self._challenger, self._votes = None, 0
            return 0.7 * current + 0.3 * bpm
        if self._challenger is not None and abs(self._challenger - bpm) < 1.5:
            self._votes += 1
        else:
            self._challenger, self._votes = bpm, 1
        octave = any(abs(bpm / current - r) < 0.03 for r in (2.0, 0.5))
        if self._votes >= (self.octave_votes if octave else self.change_votes):
            self._challenger, self._votes = None, 0
            return bpm
        return current

    def _update(self, t: float) -> None:
        x = self._window()
        recent = x[-int(2 * self.fps):]
        if x.max() <= 0 or recent.max() < 0.05 * x.max():  # silence: the clock runs on, confidence goes
            self.confidence *= 0.8
            return
        snares, kicks = self._widened(self._window(self.snares)), self._widened(self._window(self.kicks))
        if self.manual_bpm is not None:
            bpm = self.manual_bpm
        else:
            acf = self._acf(x)
            score = self._score(acf, self._grid)
            coarse = float(self._grid[int(np.argmax(score))])
            bpm = self._octave(x, coarse, snares, kicks)
            fine = np.arange(bpm - 1.5, bpm + 1.5, 0.01)
            fine_score = self._score(acf, fine, harmonics=8)
            bpm = float(fine[int(np.argmax(fine_score))])
            peak, mean = float(score.max()), float(score.mean())
            self._estimates = (self._estimates + [bpm])[-8:]
            agree = sum(abs(e - bpm) < 1.0 for e in self._estimates) / len(self._estimates)
            contrast = max(0.0, min(1.0, (peak - mean) / (abs(peak) + 1e-9)))
            self.confidence = 0.5 * self.confidence + 0.5 * (agree * contrast)
            bpm = self._settle(bpm)
        period = 60.0 / bpm
        snare = self._snare_backbeat(period * self.fps, snares, kicks)
        if snare is not None:  # a backbeat: the snare's beats are beats, whatever the kicks do
            offset = snare % (period * self.fps)
        else:
            offset, _, _ = self._comb(x, period * self.fps)
        predicted = t - offset / self.fps + period  # the next beat after the last one found
        while predicted <= t:
            predicted += period
        if self.period <= 0 or not math.isfinite(self.next_beat):
            self.next_beat = predicted
            self.last_beat = predicted - period  # the phase means something from the first estimate on
        else:
            err = (predicted - self.next_beat + period / 2) % period - period / 2
            self.next_beat += 0.5 * err
        self.period = period

    # -- the performer's hand -------------------------------------------------------------------
    def tap(self, t: float) -> None:
        """A tap on the beat at stream time t."""
        self._taps = [x for x in self._taps if t - x < 2.0] + [t]
        if len(self._taps) >= 2:
            iv = float(np.median(np.diff(self._taps)))
            bpm = min(max(60.0 / iv, self.lo / 2), self.hi * 2)
            self.period = 60.0 / bpm
            self.manual_bpm = bpm
        if self.period > 0:
            self.last_beat = t
            self.next_beat = t + self.period
            self.beat_index = self.beat_index + 1

    def set_bpm(self, bpm: float | None) -> None:
        """Hold the tempo at `bpm` (the phase still follows the music); None gives it back."""
        if bpm is not None and not 20 <= bpm <= 400:
            raise ValueError(f"BPM {bpm} is outside 20..400")
        self.manual_bpm = bpm
        if bpm is not None:
            self.period = 60.0 / bpm
            if not math.isfinite(self.next_beat):
                self.next_beat = self.t + self.period
