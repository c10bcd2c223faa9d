"""Is every seed a different picture, and does the noise walk move it? Measured on pictures made by
the streaming loop itself, for any seedling checkpoint, side by side (`vj bench diversity`).

- diversity: for each of PROMPTS (held-out phrasings among them), pictures under `seeds` seeds;
  the mean over pairs of seeds of (a) the mean |pixel difference| (0..255) with both pictures
  brought to the first season's 112x64 (box filter), so sizes compare fairly, and (b) the
  layout distance, 1 - the correlation of their grey 28x16 thumbnails (0: the same composition,
  1: unrelated, whatever the colours);
- motion: along a slow walk (noise.walk 3 turns a minute at 24 frames a second: the noise phase
  moves 1/480 of a turn a frame) the mean frame-to-frame |difference|, its largest step against
  the median one (1: an even drift; large: a jump the walk did not ask for), and the drift over
  two seconds; a kick (noise.kick 0 -> 1 in one frame): the jump it makes;
- cost: the median CPU time of a frame on one torch thread (and its wall time): CPU time holds
  up better than wall time on a busy machine, so two checkpoints compare fairly in one run.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from PIL import Image

from vj.seedling.adherence import generate

PROMPTS = ["glowing red rings on black", "blue ocean waves", "green wireframe grid", "purple spiral nebula",
           "yellow dots scattered", "orange stripes", "white checker", "magenta triangles on white", "cyan noise",
           "pink waves", "purple checker", "yellow spiral"]  # the last three: held-out pairs, never painted
HELD_OUT_PROMPTS = PROMPTS[-3:]
COMMON = (112, 64)  # where pixel differences are taken: the first season's size
WALK_PER_FRAME = 3.0 / 60.0 / 24.0  # turns of the noise phase a frame at noise.walk = 3, 24 fps
MOTION_PROMPTS = ["glowing red rings on black", "yellow dots scattered", "cyan noise", "orange stripes"]


def _common(img: np.ndarray) -> np.ndarray:
    if img.shape[1::-1] != COMMON:
        img = np.asarray(Image.fromarray(img).resize(COMMON, Image.BOX))
    return img.astype(np.float32)


def _thumb(img: np.ndarray) -> np.ndarray:
    g = np.asarray(Image.fromarray(img).convert("L").resize((28, 16), Image.BOX), np.float32).ravel()
    return (g - g.mean()) / (g.std() + 1e-3)


def pixel_distance(imgs: list[np.ndarray]) -> float:
    """Mean over pairs of the mean |difference| (0..255) at the common size."""
    c = [_common(i) for i in imgs]
    return float(np.mean([np.abs(c[i] - c[j]).mean() for i in range(len(c)) for j in range(i + 1, len(c))]))


def layout_distance(imgs: list[np.ndarray]) -> float:
    """Mean over pairs of 1 - the correlation of their grey thumbnails."""
    t = [_thumb(i) for i in imgs]
    return float(np.mean([1 - float(np.mean(t[i] * t[j])) for i in range(len(t)) for j in range(i + 1, len(t))]))


def diversity(loop, seeds: int = 8, prompts=PROMPTS) -> dict:
    rows = {}
    for p in prompts:
        imgs = [generate(loop, p, 1000 + s) for s in range(seeds)]
        rows[p] = {"pixels": pixel_distance(imgs), "layout": layout_distance(imgs)}
    return {"prompts": rows, "pixels": float(np.mean([r["pixels"] for r in rows.values()])),
            "layout": float(np.mean([r["layout"] for r in rows.values()]))}


def _step(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(_common(a) - _common(b)).mean())


def motion(loop, frames: int = 48, seeds=(1, 2), prompts=MOTION_PROMPTS) -> dict:
    steps, ratios, drifts, kicks = [], [], [], []
    for p in prompts:
        for s in seeds:
            walk = [generate(loop, p, s, {"noise.phase": k * WALK_PER_FRAME}) for k in range(frames + 1)]
            d = [_step(walk[k], walk[k + 1]) for k in range(frames)]
            steps.append(float(np.mean(d)))
            ratios.append(max(d) / max(1e-6, float(np.median(d))))
            drifts.append(_step(walk[0], walk[-1]))
            kicks.append(_step(walk[0], generate(loop, p, s, {"noise.kick": 1.0})))
    return {"walk_step": float(np.mean(steps)), "walk_worst_over_median": float(np.max(ratios)),
            "walk_drift_2s": float(np.mean(drifts)), "kick_jump": float(np.mean(kicks)), "frames": frames}


def cost(loop, frames: int = 30) -> dict:
    """Median CPU and wall milliseconds of a frame (the walk moving), on one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cpu, wall = [], []
        for k in range(frames + 3):
            c0, w0 = time.process_time(), time.perf_counter()
            generate(loop, "glowing red rings on black", 1, {"noise.phase": k * WALK_PER_FRAME})
            if k >= 3:  # after a warm-up
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
    finally:
        torch.set_num_threads(threads)
    return {"cpu_ms": 1e3 * statistics.median(cpu), "wall_ms": 1e3 * statistics.median(wall)}


def report(loops: dict, seeds: int = 8, progress=lambda s: None) -> dict:
    out = {}
    for name, loop in loops.items():
        out[name] = {"size": list(loop.size), "steps": loop.steps, "diversity": diversity(loop, seeds),
                     "cost": cost(loop)}
        progress(f"diversity: {name} seeds done")
        out[name]["motion"] = motion(loop)
        progress(f"diversity: {name} motion done")
    return out


def print_report(r: dict) -> None:
    names = list(r)
    print("seedling diversity and motion, " + ", ".join(
        f"{n} at {r[n]['size'][0]}x{r[n]['size'][1]}, {r[n]['steps']} step(s)" for n in names))
    print("\n| prompt | " + " | ".join(f"{n}: pixels / layout" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for p in PROMPTS:
        held = " (held out)" if p in HELD_OUT_PROMPTS else ""
        cells = [f"{r[n]['diversity']['prompts'][p]['pixels']:.1f} / {r[n]['diversity']['prompts'][p]['layout']:.2f}"
                 for n in names]
        print(f"| {p}{held} | " + " | ".join(cells) + " |")
    print("| **mean** | " + " | ".join(f"**{r[n]['diversity']['pixels']:.1f} / {r[n]['diversity']['layout']:.2f}**"
                                     for n in names) + " |")
    if len(names) > 1:
        base = r[names[0]]["diversity"]
        for n in names[1:]:
            d = r[n]["diversity"]
            print(f"\n{n} against {names[0]}: seeds differ {d['pixels'] / max(1e-6, base['pixels']):.1f}x in pixels, "
                  f"{d['layout'] / max(1e-6, base['layout']):.1f}x in layout")
    print("\n| motion | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key, label in (("walk_step", "slow walk: mean change a frame (/255)"),
                       ("walk_worst_over_median", "slow walk: largest step / median step"),
                       ("walk_drift_2s", "slow walk: drift over 2 s (/255)"), ("kick_jump", "a full kick: jump (/255)")):
        print(f"| {label} | " + " | ".join(f"{r[n]['motion'][key]:.2f}" for n in names) + " |")
    print("| a frame on one thread: CPU / wall ms | " + " | ".join(
        f"{r[n]['cost']['cpu_ms']:.1f} / {r[n]['cost']['wall_ms']:.1f}" for n in names) + " |")
