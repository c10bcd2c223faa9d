"""A small drum machine for tests, benchmarks and the demo's sound track.

Everything is synthesised from a seed, so a test knows the truth: where each hit is.

    python -m vj.audio.synth OUT.wav [--bpm 120] [--seconds 12] [--swing 0] [--seed 1]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np


def _env(n: int, sr: int, decay: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay * sr))


def kick(sr: int, length: float = 0.35) -> np.ndarray:
    n = int(length * sr)
    t = np.arange(n) / sr
    freq = 45 + 110 * np.exp(-t / 0.03)  # the classic downward sweep
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return np.sin(phase) * _env(n, sr, 0.12)


def snare(sr: int, rng: np.random.Generator, length: float = 0.25) -> np.ndarray:
    n = int(length * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0) * 0.5  # tilt towards the highs
    body = np.sin(2 * np.pi * 185 * t) * _env(n, sr, 0.05)
    return 0.55 * noise * _env(n, sr, 0.07) + 0.5 * body


def hat(sr: int, rng: np.random.Generator, length: float = 0.06) -> np.ndarray:
    n = int(length * sr)
    x = rng.standard_normal(n)
    x = np.diff(np.diff(x, prepend=0.0), prepend=0.0) * 0.25  # second difference: a steep high-pass
    return x * _env(n, sr, 0.015)


def bass_note(sr: int, freq: float, length: float) -> np.ndarray:
    n = int(length * sr)
    t = np.arange(n) / sr
    saw = 2 * ((t * freq) % 1.0) - 1
    env = np.minimum(1.0, t / 0.005) * _env(n, sr, length * 0.6)
    return (0.6 * np.sin(2 * np.pi * freq * t) + 0.2 * saw) * env


@dataclass
class Track:
    audio: np.ndarray  # mono float32, -1..1
    samplerate: int
    bpm: float
    onsets: dict[str, list[float]] = field(default_factory=dict)  # instrument -> hit times, seconds
    beats: list[float] = field(default_factory=list)  # quarter-note times, seconds


def drum_pattern(bpm: float = 120.0, seconds: float = 12.0, sr: int = 48000, swing: float = 0.0,
                 seed: int = 1, bass: bool = True, noise_db: float = -60.0) -> Track:
    """Four-on-the-floor kick, snare on 2 and 4, eighth hats (swung by `swing` 0..0.5 of an eighth),
    a bass line on the off-beats, and a noise floor at `noise_db` dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + sr)  # room for the last tail
    beat = 60.0 / bpm
    k, s = kick(sr), snare(sr, rng)
    onsets: dict[str, list[float]] = {"kick": [], "snare": [], "hat": [], "bass": []}
    beats = []
    notes = [55.0, 55.0, 65.4, 49.0]

    def place(sig: np.ndarray, t: float, gain: float, name: str) -> None:
        i = int(round(t * sr))
        if i >= n:
            return
        out[i : i + len(sig)] += gain * sig
        onsets[name].append(i / sr)

    b = 0
    while b * beat < seconds:
        t = b * beat
        beats.append(t)
        place(k, t, 0.9, "kick")
        if b % 2 == 1:
            place(s, t, 0.5, "snare")
        place(hat(sr, rng), t, 0.3, "hat")
        place(hat(sr, rng), t + beat * (0.5 + swing * 0.5), 0.22, "hat")
        if bass:
            place(bass_note(sr, notes[(b // 4) % 4], beat * 0.45), t + beat * 0.5, 0.35, "bass")
        b += 1
    out = out[:n]
    out += rng.standard_normal(n) * 10 ** (noise_db / 20)
    peak = np.max(np.abs(out))
    if peak > 0.95:
        out *= 0.95 / peak
    return Track(out.astype(np.float32), sr, bpm, {k: sorted(v) for k, v in onsets.items()}, beats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vj.audio.synth", description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--swing", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samplerate", type=int, default=48000)
    a = ap.parse_args(argv)
    import soundfile as sf

    tr = drum_pattern(a.bpm, a.seconds, a.samplerate, a.swing, a.seed)
    sf.write(a.out, tr.audio, tr.samplerate)
    print(f"{a.out}: {a.seconds:.1f} s at {a.bpm:g} BPM")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
