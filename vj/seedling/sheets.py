"""Pictures of the seedling for people: contact sheets and the loss curve (`vj bench sheets`).

- docs/seedling-sheet.png: prompts (rows) x seeds (columns), the final checkpoint;
- docs/seedling-seasons.png: the first season and this one, the same prompts and seeds;
- docs/seedling-checkpoints.png: the same prompts under early, middle and final, side by side;
- docs/seedling-walk.png: a slow noise walk as a strip of frames, then a kick;
- docs/seedling-blends.png: two prompts blended by prompt.2.weight, and chaos pushing one;
- docs/seedling-loss.png: the training loss (from loss.jsonl beside the weights).
Drawn with Pillow (no plotting library needed); labels in its built-in font.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vj.seedling.adherence import generate

PROMPTS = ["glowing red rings on black", "blue ocean waves", "green wireframe grid", "purple spiral nebula",
           "yellow dots scattered", "orange stripes", "white checker", "magenta triangles on white",
           "cyan noise", "grey marble", "orange fur blobs", "cyan glass circle", "red rust squares",
           "white smoke", "neon lime contours", "yellow rays", "red rings and blue dots",
           "pink waves (held out)", "purple checker (held out)", "blue marble (held out)"]
SEASON_PROMPTS = PROMPTS[:9] + PROMPTS[-3:-1]  # the words both seasons know
WALK_PROMPTS = ["glowing red rings on black", "yellow dots scattered", "orange fur blobs", "red rings and blue dots"]
BLENDS = [("glowing red rings on black", "yellow dots scattered"), ("blue ocean waves", "orange fur blobs"),
          ("grey marble", "green wireframe grid"), ("white smoke", "magenta triangles on white")]
SIZE = (224, 128)  # every tile at this size (the first season's are scaled up, nearest)
LABEL = 200  # pixels of label left of each row


def _tile(img: np.ndarray) -> np.ndarray:
    if img.shape[1::-1] != SIZE:
        img = np.asarray(Image.fromarray(img).resize(SIZE, Image.NEAREST))
    return np.pad(img, ((2, 2), (2, 2), (0, 0)))


def _label(img: Image.Image, text: str, width: int = LABEL) -> Image.Image:
    out = Image.new("RGB", (width + img.width, img.height), (16, 16, 16))
    out.paste(img, (width, 0))
    ImageDraw.Draw(out).text((6, img.height // 2 - 6), text, fill=(230, 230, 230))
    return out


def _strip(tiles: list[np.ndarray]) -> Image.Image:
    return Image.fromarray(np.concatenate([_tile(t) for t in tiles], axis=1))


def _row(loop, prompt: str, seeds) -> Image.Image:
    text = prompt.replace(" (held out)", "")
    return _strip([generate(loop, text, s) for s in seeds])


def _side_by_side(parts: list[Image.Image], gap: int = 10) -> Image.Image:
    out = Image.new("RGB", (sum(p.width for p in parts) + gap * (len(parts) - 1), max(p.height for p in parts)),
                    (16, 16, 16))
    x = 0
    for p in parts:
        out.paste(p, (x, 0))
        x += p.width + gap
    return out


def _stack(rows: list[Image.Image], header: str | None = None) -> Image.Image:
    w = max(r.width for r in rows)
    top = 18 if header else 0
    sheet = Image.new("RGB", (w, top + sum(r.height for r in rows)), (16, 16, 16))
    if header:
        ImageDraw.Draw(sheet).text((6, 3), header, fill=(230, 230, 230))
    y = top
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    return sheet


def contact_sheet(loop, out: Path, seeds=(1, 2, 3, 4, 5)) -> Path:
    rows = [_label(_row(loop, p, seeds), p) for p in PROMPTS]
    _stack(rows, f"seedling (final), {loop.size[0]}x{loop.size[1]}, {loop.steps} step(s): prompts x seeds "
                 f"{', '.join(map(str, seeds))}").save(out)
    return out


def checkpoints_sheet(loops: dict, out: Path, seeds=(1, 2), prompts=PROMPTS) -> Path:
    rows = [_label(_side_by_side([_row(loop, p, seeds) for loop in loops.values()]), p) for p in prompts]
    _stack(rows, "   ".join(f"{name} (seeds {', '.join(map(str, seeds))})" for name in loops)).save(out)
    return out


def walk_sheet(loop, out: Path, seed: int = 3, frames: int = 8, every: int = 12) -> Path:
    """Each row: a slow walk (noise.walk 3 turns a minute at 24 fps), a frame every `every`, then
    the last frame kicked (noise.kick 1)."""
    from vj.seedling.diversity import WALK_PER_FRAME

    rows = []
    for p in WALK_PROMPTS:
        tiles = [generate(loop, p, seed, {"noise.phase": k * every * WALK_PER_FRAME}) for k in range(frames)]
        tiles.append(generate(loop, p, seed, {"noise.phase": (frames - 1) * every * WALK_PER_FRAME, "noise.kick": 1.0}))
        rows.append(_label(_strip(tiles), p))
    _stack(rows, f"a slow walk: a frame every {every / 24:.1f} s at noise.walk 3 (seed {seed}); the last column: "
                 f"kicked (noise.kick 1)").save(out)
    return out


def blends_sheet(loop, out: Path, seed: int = 2, weights=(0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)) -> Path:
    rows = []
    for a, b in BLENDS:
        tiles = [generate(loop, "", seed, {"prompt.1.weight": 1 - w, "prompt.2.weight": w}, (a, b)) for w in weights]
        rows.append(_label(_strip(tiles), f"{a} -> {b}", 330))
    tiles = [generate(loop, "glowing red rings on black", seed, {"chaos": c}) for c in (0.0, 0.3, 0.6, 0.9, 1.2, 1.6, 2.0)]
    rows.append(_label(_strip(tiles), "red rings, chaos 0 -> 2", 330))
    _stack(rows, f"blends: prompt.2.weight {', '.join(f'{w:g}' for w in weights)} (seed {seed}); "
                 f"the last row: chaos").save(out)
    return out


def loss_plot(log: Path, out: Path, size=(720, 360)) -> Path:
    rows = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
    pts = [(r["step"], r["smooth"]) for r in rows if "step" in r and "smooth" in r]
    marks = [(r["step"], r["checkpoint"]) for r in rows if "checkpoint" in r]
    w, h = size
    pad = 48
    im = Image.new("RGB", size, (250, 250, 250))
    d = ImageDraw.Draw(im)
    steps = max(s for s, _ in pts)
    lo, hi = np.log10(min(v for _, v in pts)), np.log10(max(v for _, v in pts))
    X = lambda s: pad + (w - 2 * pad) * s / steps  # noqa: E731
    Y = lambda v: h - pad - (h - 2 * pad) * (np.log10(v) - lo) / max(1e-6, hi - lo)  # noqa: E731
    d.rectangle([pad, pad, w - pad, h - pad], outline=(120, 120, 120))
    for s, name in marks:
        d.line([X(s), pad, X(s), h - pad], fill=(200, 120, 60))
        d.text((X(s) + 3, pad + 3), name, fill=(200, 120, 60))
    d.line([(X(s), Y(v)) for s, v in pts if v > 0], fill=(30, 60, 160), width=2)
    for v in (10 ** lo, 10 ** ((lo + hi) / 2), 10 ** hi):
        d.text((4, Y(v) - 6), f"{v:.3f}", fill=(60, 60, 60))
    d.text((pad, h - pad + 8), "0", fill=(60, 60, 60))
    d.text((w - pad - 30, h - pad + 8), f"{steps}", fill=(60, 60, 60))
    d.text((pad, 12), "seedling training loss (x0 MSE, smoothed; log scale) against step", fill=(20, 20, 20))
    im.save(out)
    return out
