"""What the ears hand on, one hop at a time: the `Features` record, the modulation sources routes can
read from it (audio.<name>), and the analyser's settings. audio/features.py computes them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

BANDS = ("bass", "mid", "high")
# Modulation sources (0..1) that routes can use; the engine publishes them as audio.<name>.
SOURCES = tuple(f"audio.{n}" for n in (
    "level", "bass", "mid", "high", "bass_pulse", "mid_pulse", "high_pulse", "bass_presence", "mid_presence",
    "high_presence", "centroid", "flux", "beat_phase", "bar_phase", "confidence", "onset", "beat", "bass_hit",
    "mid_hit", "high_hit"))


@dataclass(frozen=True)
class AnalyzerConfig:
    hop: int = 512  # samples per hop
    edges: tuple[float, float] = (250.0, 2000.0)  # Hz: bass | mid | high
    sensitivity: float = 1.0  # onsets: > 1 finds more, < 1 fewer
    band_sensitivity: float = 1.0  # the per-band hits, likewise
    pulse_decay: float = 0.15  # s: a hit's pulse falls to 1/e in this time
    presence_time: float = 4.0  # s: time constant of the presence measures
    attack: float = 0.005  # s: level envelopes rise
    release: float = 0.15  # s: level envelopes fall
    gain_memory: float = 4.0  # s: the automatic gain's peak falls by range_db over this time
    range_db: float = 36.0  # dB below the running peak that maps to 0
    floor_db: float = -80.0  # dBFS: anything quieter is silence (0)
    bpm_range: tuple[float, float] = (70.0, 180.0)  # the beat is looked for in this range
    octave_ratio: float = 0.47  # see tempo.py: lower leans to faster tempi


@dataclass(frozen=True, eq=False)
class Features:
    t: float = 0.0  # stream time at the end of the analysed hop, seconds
    level: float = 0.0
    bass: float = 0.0
    mid: float = 0.0
    high: float = 0.0
    bass_hit: bool = False
    mid_hit: bool = False
    high_hit: bool = False
    bass_pulse: float = 0.0
    mid_pulse: float = 0.0
    high_pulse: float = 0.0
    bass_time: float = 0.0  # seconds, weighted by the band's level
    mid_time: float = 0.0
    high_time: float = 0.0
    bass_presence: float = 0.0
    mid_presence: float = 0.0
    high_presence: float = 0.0
    centroid: float = 0.0
    flux: float = 0.0
    onset: bool = False
    beat: bool = False
    bpm: float = 0.0  # 0 until a tempo is found
    beat_phase: float = 0.0
    bar_phase: float = 0.0
    confidence: float = 0.0
    beats: float = 0.0  # continuous beat position (beats counted + phase); 0 until a tempo is found
    spectrum: np.ndarray = field(default_factory=lambda: _ZERO_SPECTRUM)  # (64,) float32, read-only

    def as_sources(self) -> dict[str, float]:
        return {name: float(getattr(self, name[6:])) for name in SOURCES}

    def as_dict(self) -> dict:
        d = asdict(self)
        d["spectrum"] = [round(float(x), 4) for x in self.spectrum]
        return d

    def merged_events(self, earlier: "list[Features]") -> "Features":
        """This hop's values with the events (onset, beat, hits) of `earlier` hops folded in, for
        a reader that looks less often than once a hop (a render frame spans several hops)."""
        if not earlier:
            return self
        ev = {k: getattr(self, k) or any(getattr(f, k) for f in earlier)
              for k in ("onset", "beat", "bass_hit", "mid_hit", "high_hit")}
        return _replace(self, **ev)


_ZERO_SPECTRUM = np.zeros(64, np.float32)
_ZERO_SPECTRUM.flags.writeable = False


def _replace(f: Features, **kw) -> Features:
    d = {k: getattr(f, k) for k in f.__dataclass_fields__}
    d.update(kw)
    return Features(**d)
