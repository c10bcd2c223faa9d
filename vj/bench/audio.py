"""`vj bench audio`: what the whole feature set costs per 512-sample hop, through Analyzer.process
(levels, per-band hits, pulses, integrators, centroid, flux, 64-band spectrum, onsets, tempo and
beat), on synthesised drums at 48 kHz. Prints the median, the mean, the 99th percentile and the
worst hop: the tempo tracker's periodic re-estimate (every 12 hops) is in the mean and the tail."""

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


def main(args) -> int:
    r = run(args.seconds)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"audio analysis, {r['hops']} hops of 512 samples at 48 kHz ({r['hop_ms']} ms each):")
    print(f"  median {r['median_us']} us   mean {r['mean_us']} us   p99 {r['p99_us']} us   max {r['max_us']} us"
          f"   ({100 * r['share_of_realtime']:.2f} % of real time on one core)")
    return 0
