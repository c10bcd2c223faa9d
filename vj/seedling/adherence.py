"""Does the model do what the words say? Measured on pictures made by the streaming loop itself.

- colours: the hue of the picture's saturated pixels, against each colour word's own hue;
- shapes: a nearest-centroid classifier over simple statistics of the picture (its spectrum in
  rings and angles, edges, contrast), fitted on painted pictures (paint.py) and applied to the
  model's: how often each shape is told apart, against chance;
- held-out pairs (never painted in training): the colour's hue and the shape's class;
- blending: `prompt.2.weight` from 0 to 1 between two prompts moves the hue between theirs;
- seeds: the mean pixel difference between pictures of one prompt under different seeds.
`vj bench adherence` prints the tables (BENCHMARKS.md holds a run of it).
"""

from __future__ import annotations

import colorsys
import random
from types import MappingProxyType

import numpy as np
import torch

from vj.seedling import grammar, layout, model, paint


def generate(loop, text: str, seed: int, values: dict | None = None, prompts: tuple[str, ...] | None = None):
    """One picture of the streaming loop (H, W, 3) uint8, exactly as a show would ask for it."""
    from vj.core.snapshot import Snapshot

    vals = {"prompt.fade": 0.0, **(values or {})}
    return loop.frame(Snapshot(0, 0.0, MappingProxyType(vals), prompts or (text,), seed))


def hue_of(img: np.ndarray) -> tuple[float | None, float]:
    """The circular mean hue (degrees) of the saturated, lit pixels, and their share of the picture."""
    rgb = img.reshape(-1, 3).astype(np.float32) / 255.0
    mx, mn = rgb.max(1), rgb.min(1)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    keep = (sat > 0.35) & (mx > 0.25)
    if keep.sum() < 8:
        return None, float(keep.mean())
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb[keep][::max(1, int(keep.sum()) // 400)]])
    ang = hsv[:, 0] * 2 * np.pi
    w = hsv[:, 1] * hsv[:, 2]
    h = np.degrees(np.arctan2((np.sin(ang) * w).sum(), (np.cos(ang) * w).sum())) % 360
    return float(h), float(keep.mean())


def hue_error(h: float | None, target: float) -> float:
    return 180.0 if h is None else abs((h - target + 180) % 360 - 180)


def features(img: np.ndarray) -> np.ndarray:
    """Statistics that tell patterns apart: the grey picture's power spectrum in 6 radial rings and
    4 angle sectors, edge density, contrast, and how centred the bright part is."""
    g = img.astype(np.float32).mean(-1) / 255.0
    h, w = g.shape
    g0 = g - g.mean()
    p = np.abs(np.fft.fftshift(np.fft.fft2(g0))) ** 2
    yy, xx = np.meshgrid(np.arange(h) - h // 2, (np.arange(w) - w // 2) * h / w, indexing="ij")
    r, a = np.hypot(yy, xx), np.arctan2(yy, xx) % np.pi
    tot = p.sum() + 1e-9
    rings = [p[(r >= lo) & (r < hi)].sum() / tot for lo, hi in ((1, 2), (2, 4), (4, 7), (7, 11), (11, 17), (17, 64))]
    sectors = [p[(r >= 2) & (a >= k * np.pi / 4) & (a < (k + 1) * np.pi / 4)].sum() / tot for k in range(4)]
    sec = np.array(sectors)
    aniso = (sec.max() - sec.min()) / (sec.sum() + 1e-9)
    gy, gx = np.gradient(g)
    edges = np.hypot(gx, gy)
    m = g > g.mean()
    ys, xs = np.nonzero(m)
    spread = (np.std(ys) / h + np.std(xs) / w) if len(ys) else 0.0
    cover = m.mean()
    return np.array(rings + [aniso, edges.mean() * 10, (edges > 0.08).mean(), g.std() * 4, spread * 2, cover,
                             np.abs(np.diff(np.sign(g0), axis=1)).mean(), np.abs(np.diff(np.sign(g0), axis=0)).mean()],
                    np.float32)


def painted(scene: grammar.Scene, size: tuple[int, int], gen) -> np.ndarray:
    """A training picture of a scene, from a fresh noise drawn from the torch generator gen: uint8."""
    w, h = size
    p = model.PATCH
    lay = layout.read(torch.randn(1, 3 * p * p, h // p, w // p, generator=gen), size)[0]
    return (paint.paint(scene, lay, w, h) * 255).astype(np.uint8)


class ShapeClassifier:
    """Nearest centroid over standardised features, fitted on painted pictures of each shape."""

    def __init__(self, shapes: list[str], size: tuple[int, int], per_shape: int = 60, seed: int = 7) -> None:
        rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
        X, y = [], []
        for i, s in enumerate(shapes):
            for _ in range(per_shape):
                sc = grammar.Scene(shape=s, colour=rng.choice(["red", "blue", "white", "lime"]))
                X.append(features(painted(sc, size, gen)))
                y.append(i)
        X = np.stack(X)
        self.mu, self.sd = X.mean(0), X.std(0) + 1e-6
        Z = (X - self.mu) / self.sd
        self.shapes = shapes
        self.centroids = np.stack([Z[np.array(y) == i].mean(0) for i in range(len(shapes))])

    def predict(self, img: np.ndarray) -> str:
        z = (features(img) - self.mu) / self.sd
        return self.shapes[int(np.argmin(((self.centroids - z) ** 2).sum(1)))]


SHAPES_SCORED = ["rings", "stripes", "grid", "spiral", "dots", "waves", "checker", "noise", "gradient", "circle"]


def report(loop, seeds: int = 6, progress=lambda s: None) -> dict:
    """Every measurement above, as plain numbers (what `vj bench adherence` prints)."""
    size = loop.size
    out: dict = {"size": list(size), "steps": loop.steps}
    colours = {}
    for c in grammar.CHROMATIC:
        errs, hues = [], []
        for s in range(seeds):
            h, _ = hue_of(generate(loop, f"{c} circle", 100 + s))
            hues.append(h)
            errs.append(hue_error(h, grammar.COLOURS[c][0]))
        colours[c] = {"target": grammar.COLOURS[c][0], "median_error": float(np.median(errs)),
                      "within_30": float(np.mean([e <= 30 for e in errs]))}
    out["colours"] = colours
    progress("adherence: colours done")
    clf = ShapeClassifier(SHAPES_SCORED, size)
    gen = torch.Generator().manual_seed(99)
    shapes = {}
    for s in SHAPES_SCORED:  # the classifier's accuracy on fresh painted pictures: the ceiling for the model
        hits = [clf.predict(generate(loop, f"white {s} on black", 200 + k)) == s for k in range(seeds)]
        ref = [clf.predict(painted(grammar.Scene("white", s, background="black"), size, gen)) == s
               for _ in range(seeds * 3)]
        shapes[s] = {"model": float(np.mean(hits)), "painted": float(np.mean(ref))}
    out["shapes"] = shapes
    out["shape_chance"] = 1.0 / len(SHAPES_SCORED)
    progress("adherence: shapes done")
    held = {}
    for c, s in sorted(grammar.HELD_OUT):
        imgs = [generate(loop, f"{c} {s}", 300 + k) for k in range(seeds)]
        held[f"{c} {s}"] = {
            "hue_error": float(np.median([hue_error(hue_of(i)[0], grammar.COLOURS[c][0]) for i in imgs])),
            "shape_hit": float(np.mean([clf.predict(i) == s for i in imgs])) if s in SHAPES_SCORED else None}
    out["held_out"] = held
    blend = []
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        hs = [hue_of(generate(loop, "", 400 + k, {"prompt.1.weight": 1 - w, "prompt.2.weight": w},
                              ("red circle on black", "yellow circle on black")))[0] for k in range(seeds)]
        hs = [h if h is None or h < 180 else h - 360 for h in hs]  # red sits at 0 / 360: unwrap towards yellow
        blend.append({"weight_yellow": w, "hue": float(np.median([h for h in hs if h is not None])) if any(
            h is not None for h in hs) else None})
    out["blend_red_to_yellow"] = blend
    a = [generate(loop, "glowing red rings on black", 500 + k).astype(np.float32) for k in range(seeds)]
    diffs = [np.abs(a[i] - a[j]).mean() for i in range(seeds) for j in range(i + 1, seeds)]
    again = np.abs(generate(loop, "glowing red rings on black", 500).astype(np.float32) - a[0]).mean()
    out["seeds"] = {"mean_abs_diff_between_seeds": float(np.mean(diffs)), "same_seed_again": float(again)}
    return out


def print_report(r: dict) -> None:
    print(f"seedling adherence at {r['size'][0]}x{r['size'][1]}, {r['steps']} step(s)")
    print("| colour | target hue | median hue error | within 30 deg |")
    print("|---|---|---|---|")
    for c, v in r["colours"].items():
        print(f"| {c} | {v['target']:.0f} | {v['median_error']:.1f} | {v['within_30'] * 100:.0f}% |")
    print("\n| shape | told apart (model) | told apart (painted, the classifier's ceiling) |")
    print("|---|---|---|")
    for s, v in r["shapes"].items():
        print(f"| {s} | {v['model'] * 100:.0f}% | {v['painted'] * 100:.0f}% |")
    m = np.mean([v["model"] for v in r["shapes"].values()])
    print(f"| mean | {m * 100:.0f}% | chance {r['shape_chance'] * 100:.0f}% |")
    print("\n| held-out pair | median hue error | shape told apart |")
    print("|---|---|---|")
    for k, v in r["held_out"].items():
        hit = "-" if v["shape_hit"] is None else f"{v['shape_hit'] * 100:.0f}%"
        print(f"| {k} | {v['hue_error']:.1f} | {hit} |")
    print("\n| prompt.2.weight (red circle -> yellow circle) | hue |")
    print("|---|---|")
    for b in r["blend_red_to_yellow"]:
        hue = "-" if b["hue"] is None else f"{b['hue']:.1f}"
        print(f"| {b['weight_yellow']:.2f} | {hue} |")
    s = r["seeds"]
    print(f"\nseeds: mean |difference| between seeds {s['mean_abs_diff_between_seeds']:.1f} / 255; "
          f"the same seed again {s['same_seed_again']:.1f}")
