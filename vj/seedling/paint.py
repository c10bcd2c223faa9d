"""The procedural painter: a captioned Scene (grammar.py) and the noise's Layout (layout.py) -> an
RGB picture, drawn with numpy.

Every picture is a mask (where the shape is, 0..1) filled with a colour or a material over a
background; light and texture change the mask and how it is lit. What the caption says holds
(its colour, shape, material, size, composition, light, texture, background); everything it does
not say, and the whole layout (where the pattern is centred, how it bends, its rhythm and scale,
which objects are there and how many), is read from the layout, itself read from the starting
noise. Every reading is a smooth function of the noise (no thresholds that jump: an unsaid shape
crossfades into the next one over the last part of its share), so a picture moves as its noise
moves. Nothing here draws random numbers: the same scene and noise paint the same picture.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, replace

import numpy as np

from vj.seedling.grammar import COLOURS, HELD_OUT, OBJECTS, SHAPES, Scene, allowed
from vj.seedling.layout import Layout, unframe

# which scalar of the layout decides what (layout.SCALARS of them)
S_SHAPE, S_HUE, S_BACKGROUND, S_LIGHT, S_TEXTURE, S_COUNT, S_SHADE = range(7)
SECOND_SHIFT = 8  # the second thing of a scene reads the scalars 8 places on (and other fields)
FADE = 0.15  # an unsaid shape crossfades into the next over this share of its range of the noise


def smoothstep(e0: float, e1: float, v):
    t = np.clip((v - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def rgb_of(name: str, hue_shift: float = 0.0, shade: float = 0.0) -> np.ndarray:
    """A colour word's RGB (0..1): its hue turned by hue_shift degrees, its saturation and value
    moved by shade (-1..1: a little paler and darker, or brighter)."""
    hue, sat, val = COLOURS[name]
    if sat > 0:
        sat = float(np.clip(sat + 0.06 * shade, 0, 1))
    val = float(np.clip(val - 0.08 + 0.08 * shade, 0, 1))
    return np.array(colorsys.hsv_to_rgb(((hue + hue_shift) % 360) / 360.0, sat, val), np.float32)


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


def _edge(m: np.ndarray) -> np.ndarray:
    """Where the mask changes: a line about as wide at any size."""
    gy, gx = np.gradient(m)
    return np.clip(np.hypot(gx, gy) * 2.5 * m.shape[0] / 64, 0, 1)


@dataclass
class Frame:
    """Where one shape is drawn: coordinates bent by the noise, its centre, rhythm and sharpness."""

    x: np.ndarray  # (H, W) frame coordinates, y in -1..1, x in -aspect..aspect
    y: np.ndarray
    xw: np.ndarray  # the same, warped by the broad fields (the pattern bends and moves with the noise)
    yw: np.ndarray
    cx: float  # the pattern's centre (rings, spiral, circle, rays; the objects' lattice)
    cy: float
    scale: float  # 1 = the canonical size; large 1.7, small 0.5
    sharp: float  # edge hardness (larger is harder)
    lay: Layout
    scene: Scene


def frame_of(s: Scene, lay: Layout, w: int, h: int) -> Frame:
    x, y = _grid(w, h)
    a = w / h
    comp = s.composition
    cx = {"on the left": -a * 0.5, "on the right": a * 0.5}.get(comp or "", 0.0)
    scale = {"large": 1.7, "small": 0.5}.get(s.size or "", 1.0)
    if s.texture is not None:
        sharp = {"soft": 8.0, "sharp": 40.0}.get(s.texture, 18.0)
    else:
        sharp = 18.0 * math.exp(0.45 * math.tanh(lay.s(S_TEXTURE)))
    return Frame(x, y, lay.xw, lay.yw, cx, 0.0, scale, sharp, lay, s)


def _rot(f: Frame, angle) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    u, v = f.xw - f.cx, f.yw - f.cy
    return u * c + v * s, -u * s + v * c


def _freq(f: Frame) -> float:
    return 2.6 / f.scale  # periods across the height


def _rings(f: Frame) -> np.ndarray:
    return _band(np.hypot(f.xw - f.cx, f.yw - f.cy) * _freq(f) / 2, 0.45, f.sharp / 2)


def _stripes(f: Frame) -> np.ndarray:
    u, _ = _rot(f, math.pi / 4)  # on the diagonal (bent with the warp)
    return _band(u * _freq(f) / 2, 0.45, f.sharp / 2)


def _grid_shape(f: Frame) -> np.ndarray:
    u, v = _rot(f, 0.0)
    g, width = _freq(f) / 2, (0.12 if f.scene.texture == "wireframe" else 0.22)
    return np.maximum(_band(u * g, width, f.sharp / 2), _band(v * g, width, f.sharp / 2))


def _checker(f: Frame) -> np.ndarray:
    u, v = _rot(f, 0.0)
    g = _freq(f) / 2
    return (_band(u * g, 0.5, f.sharp / 2) - 0.5) * (_band(v * g, 0.5, f.sharp / 2) - 0.5) * 2 + 0.5


def _spiral(f: Frame) -> np.ndarray:
    u, v = f.xw - f.cx, f.yw - f.cy
    r = np.hypot(u, v)
    m = _band(np.arctan2(v, u) * 2 / (2 * math.pi) + r * _freq(f) / 2, 0.45, f.sharp / 2)
    return m * np.clip(1.6 - r * 0.9 / f.scale ** 0.5, 0, 1)  # two arms, fading out


def _waves(f: Frame) -> np.ndarray:
    small = f.scene.size == "small"
    amp = 0.14
    k = 2.2 * (1.5 if small else 1.0) / f.scale ** 0.5
    swell = f.yw + amp * np.sin(f.xw * k * math.pi)
    return _band(swell * _freq(f) / 2, 0.45, f.sharp / 2)


def _noise(f: Frame) -> np.ndarray:
    v = 0.75 * f.lay.medium[0] + 0.5 * f.lay.broad[2]
    return np.clip(v * f.sharp / 14 + 0.5, 0, 1)


def _gradient(f: Frame) -> np.ndarray:
    return np.clip((f.yw + 1.1) / 2.2, 0, 1)  # dark at the top, light at the bottom


def _blobs(f: Frame) -> np.ndarray:
    v = 0.8 * f.lay.broad[2] + 0.45 * f.lay.medium[0] + 0.35 * math.tanh(f.lay.s(S_COUNT))
    return np.clip((v - 0.2) * f.sharp / 3 + 0.5, 0, 1)


def _contours(f: Frame) -> np.ndarray:
    v = 0.9 * f.lay.broad[2] + 0.3 * f.lay.medium[0]
    return _band(v * 1.4 / f.scale, 0.28, f.sharp / 3)


def _rays(f: Frame) -> np.ndarray:
    u, v = f.xw - f.cx, f.yw - f.cy
    n = {"small": 20, "large": 7}.get(f.scene.size or "", 12)
    m = _band(np.arctan2(v, u) * n / (2 * math.pi), 0.4, f.sharp / 3)
    return m * np.clip(np.hypot(u, v) * 4 - 0.2, 0, 1)


def _at(field: np.ndarray, f: Frame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A field's values where frame coordinates land on the picture (nearest pixel, clamped)."""
    h, w = field.shape
    a = w / h
    x, y = unframe(f.lay.scalars, x, y)
    i = np.clip(((np.asarray(y) + 1) / 2 * h).astype(np.int32), 0, h - 1)
    j = np.clip(((np.asarray(x) + a) / (2 * a) * w).astype(np.int32), 0, w - 1)
    return field[i, j]


def _objects(f: Frame) -> np.ndarray:
    """Discs, triangles or squares on a lattice bent by the warp; each sized and left out by the
    noise where its cell's centre is (how many there are is the noise's); "scattered": fewer,
    smaller; "centred" and "circle": one."""
    shape, comp = f.scene.shape, f.scene.composition
    b = f.lay.broad
    if shape == "circle" or comp == "centred":  # one, moved and bent with the warp
        fu, fv = _rot(f, 0.0)
        r = (0.55 if shape == "circle" else 0.3) * f.scale * (1 + 0.1 * math.tanh(float(_at(b[3], f, f.cx, f.cy))))
    else:
        spacing = 0.55 * f.scale ** 0.8
        u, v = f.xw - f.cx, f.yw - f.cy  # the lattice bends with the warp
        iu, iv = np.round(u / spacing) * spacing, np.round(v / spacing) * spacing
        xc, yc = f.cx + iu, f.cy + iv  # the cell's centre: the noise there sizes it and leaves it out or not
        fu, fv = u - iu, v - iv
        scattered = comp == "scattered"
        present = smoothstep(-0.3, 0.3, _at(b[2], f, xc, yc) + 0.5 * math.tanh(f.lay.s(S_COUNT))
                             - (0.6 if scattered else -0.2))
        r = (0.26 if scattered else 0.34) * spacing * (0.85 + 0.2 * np.tanh(_at(b[3], f, xc, yc))) * present
    hard = f.sharp * 3
    if shape == "triangles":
        d = np.full(fu.shape, np.inf, np.float32)
        for k in range(3):
            ang = math.pi / 2 + k * 2 * math.pi / 3
            d = np.minimum(d, r * 0.8 - (fu * math.cos(ang) + fv * math.sin(ang)))
        return np.clip(d * hard + 0.5, 0, 1)
    if shape == "squares":
        return np.clip((r * 0.85 - np.maximum(np.abs(fu), np.abs(fv))) * hard + 0.5, 0, 1)
    return np.clip((r - np.hypot(fu, fv)) * hard + 0.5, 0, 1)


SHAPE_MASKS = {"rings": _rings, "stripes": _stripes, "grid": _grid_shape, "spiral": _spiral, "waves": _waves,
               "checker": _checker, "noise": _noise, "gradient": _gradient, "blobs": _blobs, "contours": _contours,
               "rays": _rays, **{s: _objects for s in ("dots", "triangles", "circle", "squares")}}
assert set(SHAPE_MASKS) == set(SHAPES)


def _free_shapes(colour: str | None, material: str | None) -> list[str]:
    return [s for s in SHAPES if allowed(colour, s, material)]


def shape_mask(s: Scene, f: Frame) -> np.ndarray:
    """Where the shape is: (H, W) in 0..1. An unsaid shape is the noise's choice among the allowed
    ones, crossfading into the next over the last FADE of its share."""
    if s.shape is not None:
        m = SHAPE_MASKS[s.shape](f)
    else:
        shapes = _free_shapes(s.colour, s.material)
        pos = f.lay.u(S_SHAPE) * len(shapes)
        i, frac = int(pos) % len(shapes), pos - int(pos)
        m = SHAPE_MASKS[shapes[i]](replace(f, scene=replace(s, shape=shapes[i])))
        mix = float(smoothstep(1 - FADE, 1.0, frac))
        if mix > 0:
            nxt = shapes[(i + 1) % len(shapes)]
            m = m * (1 - mix) + SHAPE_MASKS[nxt](replace(f, scene=replace(s, shape=nxt))) * mix
    if s.composition in ("on the left", "on the right") and s.shape not in OBJECTS | {"circle"}:
        side = f.x if s.composition == "on the right" else -f.x
        m = m * np.clip(side * 6 + 0.5, 0, 1)
    if s.texture == "wireframe":  # the outline only
        m = _edge(m)
    return m.astype(np.float32)


def colour_of(s: Scene, lay: Layout) -> np.ndarray:
    """The scene's colour, moved a little by the noise; an unsaid one anywhere on the wheel (paler
    near the hue of a colour whose pair with this shape is held out: those are never painted)."""
    shade = math.tanh(lay.s(S_SHADE))
    if s.colour is not None:
        return rgb_of(s.colour, 7.0 * math.tanh(lay.s(S_HUE)), shade)
    hue = 360.0 * lay.u(S_HUE)
    sat = 0.85
    for c, shape in HELD_OUT:
        if shape in (s.shape, s.material) and COLOURS[c][1] > 0.3:
            sat *= float(smoothstep(20.0, 35.0, abs((hue - COLOURS[c][0] + 180) % 360 - 180)))
    return np.array(colorsys.hsv_to_rgb(hue / 360.0, max(sat, 0.05), 0.95), np.float32)


def background_of(s: Scene, lay: Layout, fg: np.ndarray) -> np.ndarray:
    if s.background == "black":
        return np.zeros(3, np.float32)
    if s.background == "white":
        return np.ones(3, np.float32)
    if s.background is not None:
        return rgb_of(s.background) * 0.35
    v = lay.s(S_BACKGROUND)  # unsaid: black; now and then white, or a dark tint of the opposite hue
    white, tint = float(smoothstep(1.1, 1.6, v)), float(smoothstep(1.0, 1.6, -v))
    return (np.full(3, white, np.float32) + tint * 0.3 * (1 - fg)).astype(np.float32)


def material(name: str | None, m: np.ndarray, fg: np.ndarray, bg: np.ndarray, f: Frame):
    """What the shape is made of: -> (its mask, its fill (H, W, 3))."""
    lay = f.lay
    fill = np.broadcast_to(fg, m.shape + (3,))
    if name == "smoke":  # wisps: softened, eaten away by turbulence, paler
        wisps = smoothstep(-0.9, 1.0, 0.8 * lay.medium[0] + 0.5 * lay.fine[0] + 0.3 * lay.broad[3])
        m = _blur(m, max(1, m.shape[0] // 24)) * wisps
        fill = fill * 0.75 + 0.2
    elif name == "marble":  # a pale stone with veins of the colour along the noise's contour lines
        veins = np.clip(1 - np.abs(np.sin(math.pi * (1.3 * lay.medium[0] + 0.45 * lay.fine[0]
                                                     + 0.5 * f.xw + 0.7 * f.yw))) * 2.5, 0, 1)[..., None]
        fill = (fg * 0.35 + 0.58) * (1 - veins) + fg * 0.5 * veins
    elif name == "fur":  # fine strands combed along a direction the noise bends, the edge ragged with them
        ang = math.pi / 3 + 0.5 * lay.medium[1]
        along = f.x * np.cos(ang) + f.y * np.sin(ang)
        strands = _band(along * 0.1 * m.shape[0] + 1.2 * lay.fine[0], 0.5, 2.0)  # a strand about 5 pixels apart
        ragged = np.clip(m * (1 - m) * 4, 0, 1)
        m = np.clip(m + ragged * (strands - 0.4), 0, 1)
        fill = fill * (0.35 + 0.75 * strands[..., None])
    elif name == "glass":  # see-through, a bright rim, a highlight where the noise puts one
        rim = _edge(m)[..., None]
        hi = smoothstep(0.9, 1.8, lay.broad[3] + 0.5 * lay.medium[1])[..., None]
        fill = bg * 0.55 + fg * 0.35 + rim * (fg * 0.5 + 0.5) + hi * 0.6
    elif name == "rust":  # patches of rust over the colour, pitted
        patches = smoothstep(-0.4, 0.6, lay.medium[1] + 0.5 * lay.fine[1])[..., None]
        pits = smoothstep(1.0, 1.8, lay.fine[0])[..., None]
        fill = (fg * (1 - 0.8 * patches) + np.array([0.55, 0.24, 0.08], np.float32) * 0.8 * patches) * (1 - 0.6 * pits)
    return m, np.asarray(fill, np.float32)


def _light(s: Scene, lay: Layout, m: np.ndarray):
    """Light: glowing (a halo), neon (a bright thin line with a halo), dim. Unsaid: now and then a
    glow, more rarely neon, read from the noise as amounts (0..1), never a jump."""
    h = m.shape[0]
    if s.light is not None:
        glow, neon = float(s.light in ("glowing", "neon")), float(s.light == "neon")
    else:
        v = lay.s(S_LIGHT)
        glow, neon = float(smoothstep(0.3, 1.2, v)), float(smoothstep(1.4, 1.9, -v))
        glow = max(glow, neon)
    if neon > 0 and s.texture != "wireframe":
        m = m * (1 - neon) + _edge(m) * neon
    light = m
    if glow > 0:
        light = np.clip(m + _blur(m, max(2, h // 12)) * 1.2 * glow, 0, 1.4)
    return m, light, glow


def _layer(s: Scene, lay: Layout, w: int, h: int, bg: np.ndarray):
    """One thing of a scene: -> (mask, light, fill, glow)."""
    f = frame_of(s, lay, w, h)
    m = shape_mask(s, f)
    fg = colour_of(s, lay)
    if s.texture == "soft":
        m = _blur(m, max(1, h // 40))
    m, fill = material(s.material, m, fg, bg, f)
    m, light, glow = _light(s, lay, m)
    if s.light == "dim":
        fill = fill * 0.4
    return m, light, fill, glow


def _second_layout(lay: Layout) -> Layout:
    """The second thing of a scene reads other parts of the same noise."""
    b = lay.broad  # the same warp (the space both live in), other presences and sizes
    return Layout(np.stack([b[0], b[1], -b[2], -b[3]]), lay.medium[::-1].copy(), lay.fine[::-1].copy(),
                  np.roll(lay.scalars, -SECOND_SHIFT), lay.xw, lay.yw)


def paint(s: Scene, lay: Layout, w: int, h: int) -> np.ndarray:
    """A captioned scene and its noise's layout -> (h, w, 3) float32 RGB in 0..1."""
    fg = colour_of(s, lay)
    bg = background_of(s, lay, fg)
    m, light, fill, glow = _layer(s, lay, w, h, bg)
    img = bg[None, None, :] * (1 - np.clip(light, 0, 1)[..., None]) + fill * light[..., None]
    if glow > 0:
        img = img + np.clip(m - 0.6, 0, 1)[..., None] * 0.5 * glow  # hot cores go towards white
    if s.second is not None:
        second = replace(s.second, light=s.light, texture=s.texture, size=s.size)
        m2, light2, fill2, _ = _layer(second, _second_layout(lay), w, h, bg)
        img = img * (1 - np.clip(light2, 0, 1)[..., None]) + fill2 * light2[..., None]
    if s.texture == "grainy":
        img = img + (lay.fine[1] * 0.07)[..., None]
    if s.motif == "nebula":  # a cloud of gas with stars
        img = img * (0.55 + 0.3 * (1 + np.tanh(lay.medium[1])))[..., None]
        img = img + smoothstep(2.0, 2.6, lay.fine[0])[..., None] * 0.8
    if s.motif == "ocean":  # foam on the crests, deeper water below
        img = img * (0.6 + 0.4 * np.linspace(1, 0.5, h, dtype=np.float32)[:, None, None]) \
            + np.clip(m - 0.85, 0, 1)[..., None] * 1.5
    return np.clip(img, 0, 1).astype(np.float32)
