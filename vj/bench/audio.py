"""`vj bench audio`: the audio analysis, measured.

- cost: the whole feature set per 512-sample hop through Analyzer.process (levels, per-band hits,
  pulses, integrators, centroid, flux, 64-band spectrum, onsets, tempo and beat) on synthesised
  drums at 48 kHz: median, mean, 99th percentile and worst hop (the tempo tracker's re-estimate,
  every 12 hops, is in the mean and the tail).
- latency: how long after it happens an onset is published through the live streaming path
  (see stream_latency).
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np


def run(seconds: float = 60.0) -> dict:
    from vj.audio.features import Analyzer
    from vj.audio.synth import drum_pattern

    tracks = [drum_pattern(bpm, seconds / 4, pattern=p, noise_db=-50, seed=1)
              for bpm, p in ((90, "boombap"), (124, "four"), (140, "techno"), (174, "break"))]
    times = []
    for tr in tracks:
        an = Analyzer(tr.samplerate)
        x = tr.audio
        hops = [x[i : i + 512] for i in range(0, len(x) - 511, 512)]
        for h in hops[:50]:  # warm-up: first calls pay for imports and allocations
            an.process(h)
        for h in hops[50:]:
            t0 = time.perf_counter_ns()
            an.process(h)
            times.append((time.perf_counter_ns() - t0) / 1e3)
    times.sort()
    return {
        "hops": len(times),
        "hop_ms": round(512 / 48000 * 1e3, 3),
        "median_us": round(statistics.median(times), 1),
        "mean_us": round(statistics.fmean(times), 1),
        "p99_us": round(times[int(0.99 * len(times))], 1),
        "max_us": round(times[-1], 1),
        "share_of_realtime": round(statistics.fmean(times) / (512 / 48000 * 1e6), 4),
        "numpy": np.__version__,
    }


def stream_latency(path, truth: list[float], seconds: float) -> list[float]:
    """Onset latency through the live path: a file played in real time by FilePlayback (its feeder
    stands in for a sound card: it hands over a block when the block's last sample is due) ->
    ring -> analysis thread -> published. For each true onset: the wall time its features were
    published minus the wall time its sample arrived (its block's delivery, less the samples after
    it in the block). Onsets not published are left out (the caller counts them)."""
    import threading

    from vj.audio.sources import FilePlayback

    src = FilePlayback(path, monitor=False)
    sr = src.samplerate
    deliveries: list[tuple[float, int]] = []
    delivered = [0]
    original = src._deliver

    def timed(block):
        original(block)
        delivered[0] += len(block)
        deliveries.append((time.perf_counter(), delivered[0]))

    src._deliver = timed
    published: list[tuple[float, float]] = []
    lock = threading.Lock()

    def listener(f):
        if f.onset:
            with lock:
                published.append((time.perf_counter(), f.t))

    src.listener = listener
    src.start()
    time.sleep(seconds)
    src.close()
    wall = np.array(deliveries)

    def arrived(sample: int) -> float:
        k = int(np.searchsorted(wall[:, 1], sample + 1))
        t_block, end = wall[k]
        return t_block - (end - sample) / sr

    out = []
    for t_true in truth:
        cands = [w for w, ft in published if abs(ft - t_true) <= 0.05]
        if cands:
            out.append(cands[0] - arrived(int(round(t_true * sr))))
    return out


def latency(seconds: float = 10.0) -> dict:
    import tempfile
    from pathlib import Path

    import soundfile as sf

    from vj.audio.synth import drum_pattern

    tr = drum_pattern(124, seconds + 1, pattern="four", noise_db=-50, seed=3)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "drums.wav"
        sf.write(str(path), tr.audio, tr.samplerate)
        truth = [t for t in tr.all_onsets() if t < seconds - 0.2]
        lat = sorted(stream_latency(path, truth, seconds))
    return {"onsets": len(truth), "published": len(lat), "latency_median_ms": round(1e3 * statistics.median(lat), 1),
            "latency_max_ms": round(1e3 * lat[-1], 1)}


# The sweep the detector and tracker were tuned on ("dev") and one they never saw ("held-out"):
# other tempi, seeds, swing and noise, and the whole track 30 dB quieter. Each genre where a club
# plays it: house and techno at 120-145, hip-hop at 72-100, breaks at 130-160, drum & bass at 170-178.
SWEEPS = {
    "dev": ([(90, "boombap"), (120, "four"), (128, "four"), (140, "techno"), (174, "break"), (100, "boombap"),
             (160, "break"), (124, "techno"), (72, "boombap"), (178, "four"), (172, "dnb"), (175, "dnb")],
            (0.0, 0.3), (-60, -45), (1, 7), (1.0,)),
    "held-out": ([(95, "boombap"), (110, "four"), (135, "techno"), (150, "break"), (170, "break"), (82, "boombap"),
                  (145, "four"), (88, "boombap"), (92, "boombap"), (122, "four"), (126, "four"), (132, "techno"),
                  (138, "break"), (171, "dnb"), (174, "dnb"), (177, "dnb")], (0.15, 0.4), (-55, -40), (11, 13),
                 (1.0, 0.03)),
}


def genre(bpm: float, pattern: str) -> str:
    if pattern == "dnb":
        return "drum & bass"
    if pattern == "boombap":
        return "hip-hop"
    if pattern == "break":
        return "breaks"
    return "techno" if pattern == "techno" or bpm >= 135 else "house"


def octave(read: float, truth: float) -> str:
    """Where the tracker's reading fell: the tempo, half or twice it, or elsewhere."""
    for name, r in (("right", 1.0), ("half", 0.5), ("double", 2.0), ("two thirds", 2 / 3), ("three halves", 1.5)):
        if abs(read - truth * r) <= 1.0 * max(1.0, r):
            return name
    return "other"


def _score(tr, bpm: float) -> dict:
    """One synthesised track through the analyser: onset F against the hits a listener hears and
    against every hit (+-50 ms), beat F (+-70 ms, from 5 s), BPM within 1 from 8 s on, and where
    the median reading from 8 s on fell (right, half, double...)."""
    from vj.audio.evaluate import match
    from vj.audio.features import Analyzer

    an = Analyzer(tr.samplerate)
    x = tr.audio
    fs = [an.process(x[i : i + 512]) for i in range(0, len(x) - 511, 512)]
    found = [f.t for f in fs if f.onset]
    beats = [f.t - f.beat_phase * 60.0 / f.bpm for f in fs if f.beat]
    late = [f.bpm for f in fs if f.t >= 8.0]
    return {"onset_f": match(found, tr.heard_onsets(), 0.05).f, "onset_f_every_hit": match(found, tr.all_onsets(), 0.05).f,
            "beat_f": match([b for b in beats if b >= 5], [b for b in tr.beats if b >= 5], 0.07).f,
            "bpm_ok": all(abs(b - bpm) <= 1.0 for b in late), "where": octave(statistics.median(late), bpm)}


def _tally(scores: list[dict]) -> dict:
    out = {"tracks": len(scores), "onset_f_min": round(min(s["onset_f"] for s in scores), 3),
           "onset_f_mean": round(statistics.fmean(s["onset_f"] for s in scores), 3),
           "onset_f_every_hit_min": round(min(s["onset_f_every_hit"] for s in scores), 3),
           "bpm_ok": sum(s["bpm_ok"] for s in scores), "beat_f_min": round(min(s["beat_f"] for s in scores), 3),
           "beat_f_mean": round(statistics.fmean(s["beat_f"] for s in scores), 3)}
    for s in scores:
        out[s["where"]] = out.get(s["where"], 0) + 1
    return out


def accuracy(sweeps: bool = True) -> dict:
    """Onset F (+-50 ms, the hits a listener hears: synth.heard), BPM within 1 from 8 s on, beat F
    (+-70 ms, from 5 s) over both genre sweeps, per genre where the tempo was read (right, half,
    double: the median reading from 8 s on); and the same per family of drum & bass and breaks at
    160-180 (synth.FAMILIES: each with its own sweep of hats, absent or on a pattern at several
    levels, with and without bass), the held-out family apart."""
    import itertools

    from vj.audio.synth import FAMILIES, drum_pattern, family_tracks

    out = {}
    for name, (cases, swings, noises, seeds, gains) in (SWEEPS.items() if sweeps else ()):
        scores, genres = [], {}
        for (bpm, pattern), swing, noise, seed, gain in itertools.product(cases, swings, noises, seeds, gains):
            tr = drum_pattern(bpm, 16, swing=swing, pattern=pattern, noise_db=noise, seed=seed).scaled(gain)
            scores.append(_score(tr, bpm))
            genres.setdefault(genre(bpm, pattern), []).append(scores[-1])
        out[name] = {**_tally(scores), "octave_by_genre": {g: _tally(s) for g, s in genres.items()}}
    out["families"] = {}
    for family in FAMILIES:
        scores = [_score(tr, what["bpm"]) for what, tr in family_tracks(family)]
        out["families"][family.name] = {**_tally(scores), "held_out": family.held_out}
    return out


def main(args) -> int:
    r = run(args.seconds)
    r.update(latency())
    if args.accuracy or getattr(args, "families", False):
        r["accuracy"] = accuracy(sweeps=not getattr(args, "families", False))
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"audio analysis, {r['hops']} hops of 512 samples at 48 kHz ({r['hop_ms']} ms each):")
    print(f"  median {r['median_us']} us   mean {r['mean_us']} us   p99 {r['p99_us']} us   max {r['max_us']} us"
          f"   ({100 * r['share_of_realtime']:.2f} % of real time on one core)")
    print(f"onset latency through the live path (file played in real time -> ring -> analysis thread -> "
          f"published), {r['published']} of {r['onsets']} onsets:")
    print(f"  median {r['latency_median_ms']} ms   max {r['latency_max_ms']} ms")
    acc = r.get("accuracy", {})
    for name, a in acc.items():
        if name == "families":
            continue
        print(f"accuracy, {name} sweep ({a['tracks']} synthesised 16 s tracks): onset F min {a['onset_f_min']} "
              f"mean {a['onset_f_mean']}; BPM within 1 from 8 s on: {a['bpm_ok']}/{a['tracks']}; "
              f"beat F min {a['beat_f_min']} mean {a['beat_f_mean']}")
        for g, counts in a["octave_by_genre"].items():
            print(f"  {g:>12}: " + _read(counts))
    if acc.get("families"):
        print("accuracy per family: drum & bass and breaks at 160-180 BPM (hats absent or on a pattern at several "
              "levels; with and without bass):")
        for g, counts in acc["families"].items():
            print(f"  {g + (' (held out)' if counts['held_out'] else ''):>24}: " + _read(counts))
    return 0


_COUNTS = ("right", "half", "double", "two thirds", "three halves", "other")


def _read(counts: dict) -> str:
    rest = ", ".join(f"{k} {counts[k]}" for k in _COUNTS[1:] if counts.get(k))
    return (f"tempo read right on {counts.get('right', 0)}/{counts['tracks']}"
            + (f" ({rest})" if rest else " (no half or double)")
            + f"; BPM within 1 from 8 s on {counts['bpm_ok']}/{counts['tracks']}; onset F min {counts['onset_f_min']}"
            + f" (every hit: {counts['onset_f_every_hit_min']}); beat F min {counts['beat_f_min']}")
