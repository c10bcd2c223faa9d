"""The procedural painter: a filled-in Scene (grammar.py) -> an RGB picture, drawn with numpy.

Every picture is a mask (where the shape is, 0..1) coloured over a background; light and texture
change the mask and how it is lit.

Each shape has one canonical layout (rings centred, stripes on the diagonal, dots on a lattice...),
which the caption's size and composition words move, and `rng` only jitters it a little (scale,
phase, the colour's exact shade). Why: a model sampled in 2 steps from pure noise paints, at its
first step, the average of every picture its caption can mean. The first run's painter drew rings
anywhere, stripes at any angle, at any scale: their average, and so the model's pictures, were
colour fields with no shape in them. "scattered" still scatters at random, and light, texture and
background stay free choices, so one caption still paints many pictures.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np

from vj.seedling.grammar import COLOURS, Scene


def rgb_of(name: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """A colour word's RGB (0..1), its hue, saturation and value jittered when rng is given."""
    hue, sat, val = COLOURS[name]
    if rng is not None:
        hue += rng.uniform(-7, 7)
        sat = float(np.clip(sat + rng.uniform(-0.08, 0.05), 0, 1)) if sat > 0 else 0.0
        val = float(np.clip(val + rng.uniform(-0.1, 0.05), 0, 1))
    return np.array(colorsys.hsv_to_rgb((hue % 360) / 360.0, sat, val), np.float32)


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates: y from -1 (top) to 1, x scaled by the aspect (square pixels)."""
    a = w / h
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 * a - a
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
    return np.meshgrid(xs, ys)


def _band(v: np.ndarray, duty: float, sharp: float) -> np.ndarray:
    """A periodic band (period 1): 1 on a `duty` share of it, edges `sharp` (larger is harder)."""
    f = np.abs((v % 1.0) - 0.5) * 2  # 1 at the band's centre, 0 between bands
    return np.clip((f - (1 - duty)) * sharp + 0.5, 0, 1)


def _smooth_noise(w: int, h: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Value noise: a random grid of cells x cells, bilinearly smoothed up to the picture (0..1)."""
    g = rng.random((cells + 1, int(cells * w / h) + 2)).astype(np.float32)
    ys = np.linspace(0, cells, h, dtype=np.float32)
    xs = np.linspace(0, g.shape[1] - 1.001, w, dtype=np.float32)
    y0, x0 = ys.astype(int).clip(0, cells - 1), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    top = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    bot = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _blur(m: np.ndarray, r: int) -> np.ndarray:
    """A box blur of radius r, twice (near a Gaussian), edges clamped."""
    for _ in range(2):
        for axis in (0, 1):
            p = np.pad(m, [(r, r) if a == axis else (0, 0) for a in range(2)], mode="edge")
            c = np.cumsum(p, axis=axis, dtype=np.float32)
            c = np.concatenate([np.zeros_like(c.take([0], axis=axis)), c], axis=axis)
            n = m.shape[axis]
            m = (c.take(np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis) - c.take(np.arange(n), axis=axis)) / (2 * r + 1)
    return m


def _triangle(x, y, cx, cy, r, turn, sharp):
    """A filled equilateral triangle: inside where all three edge distances are positive."""
    d = np.full(x.shape, np.inf, np.float32)
    for k in range(3):
        a = turn + k * 2 * math.pi / 3
        d = np.minimum(d, r * 0.5 - ((x - cx) * math.cos(a) + (y - cy) * math.sin(a)))
    return np.clip(d * sharp + 0.5, 0, 1)


def _objects(shape, x, y, rng, scale, places, sharp):
    """Discs, triangles (pointing up) or squares (upright) at the given places (centres), of about
    `scale` size."""
    m = np.zeros(x.shape, np.float32)
    for cx, cy in places:
        r = scale * rng.uniform(0.9, 1.1)
        if shape in ("dots", "circle"):
            o = np.clip((r - np.hypot(x - cx, y - cy)) * sharp + 0.5, 0, 1)
        elif shape == "triangles":
            o = _triangle(x, y, cx, cy, r * 1.6, math.pi / 2 + rng.uniform(-0.1, 0.1), sharp)
        else:  # squares
            t = rng.uniform(-0.06, 0.06)
            u, v = (x - cx) * math.cos(t) + (y - cy) * math.sin(t), -(x - cx) * math.sin(t) + (y - cy) * math.cos(t)
            o = np.clip((r * 0.85 - np.maximum(np.abs(u), np.abs(v))) * sharp + 0.5, 0, 1)
        m = np.maximum(m, o)
    return m


def _places(s: Scene, rng, a: float, small: bool) -> list[tuple[float, float]]:
    """Where the objects go: one in the middle (a circle, or "centred"), anywhere ("scattered"), or
    on a lattice, across the picture or on one side of it (the canonical layout)."""
    j = lambda: rng.uniform(-0.04, 0.04)  # noqa: E731
    if s.shape == "circle" or s.composition == "centred":
        cx = {"on the left": -a * 0.5, "on the right": a * 0.5}.get(s.composition or "", 0.0)
        return [(cx + j(), j())]
    if s.composition == "scattered":
        n = int(rng.integers(3, 8)) if not small else int(rng.integers(6, 14))
        return [(rng.uniform(-a * 0.85, a * 0.85), rng.uniform(-0.85, 0.85)) for _ in range(n)]
    rows = 4 if small else 2
    cols = int(round(rows * a)) + (1 if small else 0)
    lo, hi = -a, a
    if s.composition == "on the left":
        hi = 0.0
    elif s.composition == "on the right":
        lo = 0.0
    cols = cols if s.composition not in ("on the left", "on the right") else max(1, cols // 2)
    xs = [lo + (hi - lo) * (i + 0.5) / cols for i in range(cols)]
    ys = [-1 + 2 * (k + 0.5) / rows for k in range(rows)]
    return [(cx + j(), cy + j()) for cy in ys for cx in xs]


def shape_mask(s: Scene, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Where the shape is: (h, w) in 0..1."""
    x, y = _grid(w, h)
    a = w / h
    small = s.size == "small"
    big = s.size == "large"
    sharp = 40.0 if s.texture == "sharp" else (8.0 if s.texture == "soft" else 18.0)
    freq = 2.6 * rng.uniform(0.95, 1.05) * (2.0 if small else (0.55 if big else 1.0))  # periods across the height
    phase = rng.uniform(-0.06, 0.06)  # of a period
    cx = {"on the left": -a * 0.5, "on the right": a * 0.5}.get(s.composition or "", 0.0)
    cx, cy = cx + rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04)
    r = np.hypot(x - cx, y - cy)
    theta = math.pi / 4 + rng.uniform(-0.08, 0.08)  # stripes on the diagonal
    along = x * math.cos(theta) + y * math.sin(theta)
    duty = rng.uniform(0.42, 0.48)
    shape = s.shape
    if shape == "rings":
        m = _band(r * freq / 2 + phase, duty, sharp / 2)
    elif shape == "stripes":
        m = _band(along * freq / 2 + phase, duty, sharp / 2)
    elif shape == "grid":
        g = freq / 2
        width = 0.22 if not s.texture == "wireframe" else 0.12
        m = np.maximum(_band(x * g + phase, width, sharp / 2), _band(y * g + phase, width, sharp / 2))
    elif shape == "spiral":
        ang = np.arctan2(y - cy, x - cx)
        m = _band(ang * 2 / (2 * math.pi) + r * freq / 2 + phase, duty, sharp / 2)  # two arms, turning one way
        m *= np.clip(1.6 - r * 0.9, 0, 1)
    elif shape == "waves":  # horizontal swell
        amp = 0.14 * rng.uniform(0.9, 1.1)
        k = 2.2 * rng.uniform(0.95, 1.05) * (1.5 if small else 1.0)
        m = _band((y + amp * np.sin(x * k * math.pi + rng.uniform(-0.3, 0.3))) * freq / 2 + phase, duty, sharp / 2)
    elif shape == "checker":
        g = freq / 2
        m = (_band(x * g + phase, 0.5, sharp / 2) - 0.5) * (_band(y * g + phase, 0.5, sharp / 2) - 0.5) * 4 * 0.5 + 0.5
    elif shape == "noise":  # the one shapeless pattern: free by nature
        m = _smooth_noise(w, h, rng, int(max(2, round(freq * 1.5))))
        m = np.clip((m - 0.5) * (sharp / 10) + 0.5, 0, 1)
    elif shape == "gradient":  # dark at the top, light at the bottom
        t = (y - y.min()) / max(1e-6, float(y.max() - y.min()))
        m = t ** rng.uniform(0.8, 1.25)
    else:  # objects: dots, triangles, circle, squares
        scale = (0.55 if shape == "circle" else 0.22) * (0.5 if small else (1.6 if big else 1.0))
        m = _objects(shape, x, y, rng, scale, _places(s, rng, a, small), sharp * 3)
    if s.composition in ("on the left", "on the right") and shape not in ("circle", "dots", "triangles", "squares"):
        side = x if s.composition == "on the right" else -x
        m = m * np.clip(side * 6 + 0.5, 0, 1)
    if s.texture == "wireframe":  # the outline only: where the mask changes
        gy, gx = np.gradient(m)
        m = np.clip(np.hypot(gx, gy) * 2.5, 0, 1)
    return m.astype(np.float32)


def paint(s: Scene, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A filled-in scene -> (h, w, 3) float32 RGB in 0..1."""
    m = shape_mask(s, w, h, rng)
    fg = rgb_of(s.colour, rng)
    bg = rgb_of(s.background, rng) * (0.35 if s.background not in ("black", "white") else 1.0) \
        if s.background != "black" else np.zeros(3, np.float32)
    if s.texture == "soft":
        m = _blur(m, max(1, h // 40))
    light = m
    if s.light == "dim":
        fg = fg * 0.4
    elif s.light in ("glowing", "neon"):
        if s.light == "neon":  # a bright thin line with a wide halo, at full colour
            gy, gx = np.gradient(m)
            line = np.clip(np.hypot(gx, gy) * 3, 0, 1) if s.texture != "wireframe" else m
            m = line
            fg = rgb_of(s.colour) if COLOURS[s.colour][1] > 0 else fg
        halo = _blur(m, max(2, h // 12))
        light = np.clip(m + halo * 1.2, 0, 1.4)
    img = bg[None, None, :] * (1 - np.clip(light, 0, 1)[..., None]) + fg[None, None, :] * light[..., None]
    if s.light in ("glowing", "neon"):
        img = img + np.clip(m - 0.6, 0, 1)[..., None] * 0.5  # hot cores go towards white
    if s.texture == "grainy":
        img = img + rng.normal(0, 0.07, img.shape).astype(np.float32)
    if s.motif == "nebula":  # a spiral or cloud of gas with stars
        img = img * (0.55 + 0.6 * _smooth_noise(w, h, rng, 5)[..., None])
        stars = (rng.random((h, w)) > 0.985).astype(np.float32)
        img = img + stars[..., None] * 0.8
    if s.motif == "ocean":  # foam on the crests, deeper water below
        img = img * (0.6 + 0.4 * np.linspace(1, 0.5, h, dtype=np.float32)[:, None, None]) \
            + np.clip(m - 0.85, 0, 1)[..., None] * 1.5
    return np.clip(img, 0, 1).astype(np.float32)
