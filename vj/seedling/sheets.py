"""Pictures of the seedling for people: contact sheets and the loss curve (`vj bench sheets`).

- docs/seedling-sheet.png: prompts (rows) x seeds (columns), the final checkpoint;
- docs/seedling-checkpoints.png: the same prompts under early, middle and final, side by side;
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
           "cyan noise", "crimson circle", "pink waves (held out)", "purple checker (held out)"]
SCALE = 2  # pixels per generated pixel on the sheet


def _label(img: Image.Image, text: str, width: int) -> Image.Image:
    out = Image.new("RGB", (width + img.width, img.height), (16, 16, 16))
    out.paste(img, (width, 0))
    ImageDraw.Draw(out).text((6, img.height // 2 - 6), text, fill=(230, 230, 230))
    return out


def _row(loop, prompt: str, seeds) -> Image.Image:
    text = prompt.replace(" (held out)", "")
    tiles = [generate(loop, text, s) for s in seeds]
    row = np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles], axis=1)
    im = Image.fromarray(row)
    return im.resize((im.width * SCALE, im.height * SCALE), Image.NEAREST)


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
    rows = [_label(_row(loop, p, seeds), p, 200) for p in PROMPTS]
    _stack(rows, f"seedling (final), {loop.size[0]}x{loop.size[1]}, {loop.steps} step(s): prompts x seeds "
                 f"{', '.join(map(str, seeds))}").save(out)
    return out


def checkpoints_sheet(loops: dict, out: Path, seeds=(1, 2)) -> Path:
    rows = []
    for p in PROMPTS:
        parts = [_row(loop, p, seeds) for loop in loops.values()]
        gap = Image.new("RGB", (10, parts[0].height), (16, 16, 16))
        row = parts[0]
        for part in parts[1:]:
            both = Image.new("RGB", (row.width + gap.width + part.width, row.height))
            both.paste(row, (0, 0))
            both.paste(gap, (row.width, 0))
            both.paste(part, (row.width + gap.width, 0))
            row = both
        rows.append(_label(row, p, 200))
    _stack(rows, "   ".join(f"{name} (seeds {', '.join(map(str, seeds))})" for name in loops)).save(out)
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
