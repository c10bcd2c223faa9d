"""`vj bench compositor`: milliseconds per composited frame, headless, with readback.

The standard scene: four layers (the generated frame, a still image, the plasma shader source, a
second still on the B side of the crossfader, halfway across) and three master effects (color,
mirror, rgbsplit), the feedback stage on, a new 512x512 generated frame uploaded every other frame (a
generator at half the display rate) and the program image read back from the GPU every frame
(as a recorder or a stream output does). Median and p95 over --frames frames after a warm-up.
`--set SET` measures a set's own layers and effects instead, its parameters as the set leaves
them (what will my set cost on this machine?).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

EFFECTS = ["color", "mirror", "rgbsplit"]


def run(size: str | None = None, frames: int = 200, set_name: str | None = None) -> dict:
    from PIL import Image

    from vj.show.setfile import parse_size
    from vj.render.compositor import Compositor
    from vj.render.context import open_headless
    from vj.core.spec import LayerSpec
    from vj.core.snapshot import Snapshot

    surface = open_headless()
    rng = np.random.default_rng(1)
    if set_name is None:
        w, h = parse_size(size or "1280x720", "--size")
        values = {"feedback.amount": 0.5, "feedback.zoom": 1.02, "mixer.crossfade": 0.5, "fx.color.hue": 30.0,
                  "fx.rgbsplit.offset": 0.01, "layer.2.rotate": 10.0}
        effects = EFFECTS
        with tempfile.TemporaryDirectory() as d:
            stills = []
            for k in range(2):
                p = Path(d) / f"still{k}.png"
                Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(p)
                stills.append(p)
            layers = (LayerSpec("generator"), LayerSpec(f"image:{stills[0]}", "screen", 0.5),
                      LayerSpec("shader:plasma", "overlay", 0.4), LayerSpec(f"image:{stills[1]}", "normal", 1.0, "B"))
            c = Compositor(surface.ctx, (w, h), effects=effects, layers=layers)
    else:  # a performer's own set: its stack, its chain, its parameters as the set leaves them
        from vj import assemble
        from vj.show.setfile import load_set, with_overrides
        from vj.resources import find_set

        show = load_set(find_set(set_name))
        w, h = parse_size(size, "--size") if size else show.size
        show = with_overrides(show, size=(w, h))
        values = dict(assemble.build_controls(show).params.values())
        c = assemble.make_compositor(surface.ctx, show)
        layers, effects = c.layers, list(show.effects)
    c.warm_up()  # as `vj run` does before the show: every shader variant compiled
    gen_frames = [rng.integers(0, 255, (512, 512, 3), dtype=np.uint8) for _ in range(2)]

    def frame(i: int) -> None:
        if i % 2 == 0:
            c.upload(gen_frames[(i // 2) % 2])
        c.render(Snapshot(i, i / 60, values, ("x",), 1))
        c.read_rgba()  # what a recorder or a stream reads

    for i in range(10):
        frame(i)
    times = []
    for i in range(frames):
        t0 = time.perf_counter()
        frame(i)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"ms_per_frame": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "size": f"{w}x{h}", "renderer": surface.renderer, "layers": len(layers), "effects": len(effects), "passes": c.passes,
            "scene": set_name or "standard",
            "frames": frames}


def main(args) -> int:
    r = run(args.size, args.frames, args.set)
    if args.json:
        print(json.dumps(r))
        return 0
    what = "the standard scene" if r["scene"] == "standard" else f"set {r['scene']}"
    n, m = r["layers"], r["effects"]
    print(f"compositor at {r['size']}, {what}: {n} layer{'s' * (n != 1)} + {m} effect{'s' * (m != 1)}, readback "
          f"every frame; GL {r['renderer']}")
    print(f"{r['ms_per_frame']} ms per frame (median), p95 {r['p95_ms']} ms ({r['frames']} frames, "
          f"{r['passes']} full-screen passes a frame)")
    return 0
