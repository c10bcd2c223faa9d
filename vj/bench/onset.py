"""`vj bench onset`: from an onset in the sound to the first output frame it changed (onset to photon).

The live engine runs as `vj run` runs it (real clock, the generator in its own process, the
compositor, a readback output standing in for the projector), on a set whose picture holds still
except through one route, as a show would have it:  audio.onset -> env.hit -> noise.kick. The hit
falls back with an 80 ms time constant, so the picture is still again long before the next click
(a model that moves with every bit of its noise, as the seedling's second season does, kept moving
on a 250 ms tail and left only 3 of 31 clicks a still picture to change).
The sound comes from `ClickCard`, a stand-in for a sound card (the one fake here, at the hardware
boundary): a thread that delivers 512-sample blocks at 48 kHz in real time, silence with a click
every 0.7-1.1 s (at random). For each click:
    onset   the wall-clock time the click's first sample entered the machine (its block's arrival,
            less the samples after it in the block)
    photon  the first output frame, read back from the GPU, whose pixels differ from the frame before
The time between them covers the analysis (hop, onset detector), the snapshot, the generator's frame,
the hand-over, the compositor, the readback, and the wait for the display's next frame (--fps).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vj.audio.sources import StreamInput
from vj.output.base import Output

SET = """
[show]
name = "onset-bench"
size = [{w}, {h}]
fps = {fps}
[generator]
model = "{model}"
steps = {steps}
[[prompt]]
text = "glowing red rings on black"
[params]
"noise.walk" = 0.0
"feedback.amount" = 0.0
[[envelope]]
name = "hit"
trigger = "audio.onset"
decay = 0.08
[[route]]
source = "env.hit"
target = "noise.kick"
amount = 1.0
"""


class ClickCard(StreamInput):
    """A stand-in sound card: real-time blocks of silence and clicks, delivered by a thread as a
    card's callback would deliver them. Records when each click entered."""

    BLOCK = 512

    def __init__(self, seconds: float, seed: int = 3) -> None:
        from vj.core.features import AnalyzerConfig

        super().__init__("click card (bench stand-in)", 48000, 1, AnalyzerConfig())
        rng = random.Random(seed)
        t, self.clicks = 1.5, []  # sample positions of the clicks
        while t < seconds - 1.0:
            self.clicks.append(int(t * self.samplerate))
            t += rng.uniform(0.7, 1.1)
        self.onsets: list[float] = []  # wall-clock time of each click's first sample
        self.total = int(seconds * self.samplerate)
        self._feeder: threading.Thread | None = None

    def start(self) -> None:
        super().start()
        self._feeder = threading.Thread(target=self._feed, name="click-card", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        n, sr, pending = 0, self.samplerate, list(self.clicks)
        block = np.zeros((self.BLOCK, 1), np.float32)
        t0 = time.perf_counter()
        while n < self.total and not self._stop.is_set():
            block[:] = 0.0
            hit = None
            if pending and pending[0] < n + self.BLOCK:
                hit = pending.pop(0)
                k = hit - n
                burst = np.exp(-np.arange(self.BLOCK - k) / 120.0) * np.sin(np.arange(self.BLOCK - k) * 0.9)
                block[k:, 0] = 0.9 * burst
            due = t0 + (n + self.BLOCK) / sr  # a card hands a block over once it is whole
            while (now := time.perf_counter()) < due:
                time.sleep(min(0.002, due - now))
            self._deliver(block)
            if hit is not None:
                self.onsets.append(now - (n + self.BLOCK - hit) / sr)
            n += self.BLOCK


class ChangeWatcher(Output):
    """Reads every frame back (as a recorder would) and notes when its pixels changed."""

    name = "change watcher"

    def __init__(self) -> None:
        self.changes: list[float] = []
        self._last: np.ndarray | None = None

    def present(self, frame) -> None:
        px = np.frombuffer(frame.rgba(), np.uint8)
        now = time.perf_counter()
        if self._last is not None and np.abs(px[::7].astype(np.int16) - self._last[::7]).mean() > 0.5:
            self.changes.append(now)
        self._last = px.copy()

    def close(self) -> None:
        pass


def run(model: str = "seedling", size: str = "640x360", fps: float = 60.0, seconds: float = 60.0,
        steps: int = 2, threads: int | None = None) -> dict:
    from vj import assemble
    from vj.clock import FramePacer, RealClock
    from vj.show.setfile import load_set, parse_size
    from vj.render.context import open_headless

    w, h = parse_size(size, "--size")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "onset-bench.toml"
        path.write_text(SET.format(w=w, h=h, fps=fps, model=model, steps=steps))
        show = load_set(path)
    surface = open_headless()
    controls = assemble.build_controls(show, 1)
    gen = assemble.process_generator(show, 1, "auto", threads)
    gen.start(wait_ready=True)
    card, watch = ClickCard(seconds), ChangeWatcher()
    clock = RealClock()
    engine = assemble.make_engine(controls, assemble.make_compositor(surface.ctx, show, live=True), gen, clock=clock,
                                  audio=card, outputs=[watch])
    card.start()
    clock.reset()
    engine.run_live(seconds, FramePacer(fps, clock))
    card.close()
    lat, missed = [], 0
    for t in card.onsets:
        after = [c for c in watch.changes if c >= t]
        quiet_before = not any(t - 0.3 < c < t for c in watch.changes)  # the picture held still before
        if after and quiet_before and after[0] - t < 0.5:
            lat.append((after[0] - t) * 1e3)
        else:
            missed += 1
    lat.sort()
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None  # noqa: E731
    return {"model": model, "steps": steps, "size": f"{w}x{h}", "fps": fps, "renderer": surface.renderer,
            "onsets": len(card.onsets), "measured": len(lat), "missed": missed,
            "p50_ms": round(statistics.median(lat), 1) if lat else None, "p95_ms": pct(0.95),
            "max_ms": round(lat[-1], 1) if lat else None}


def main(args) -> int:
    r = run(args.model, args.size, args.fps, args.seconds, args.steps, args.threads)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"onset to photon  {r['model']}, {r['steps']} step(s), {r['size']} at {r['fps']:g} fps, {r['renderer']}")
    print(f"  {r['measured']} of {r['onsets']} onsets measured ({r['missed']} missed: no change within 0.5 s)")
    print(f"  p50 {r['p50_ms']} ms   p95 {r['p95_ms']} ms   max {r['max_ms']} ms")
    return 0
