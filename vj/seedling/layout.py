"""The starting noise decides the picture: smooth fields and scalars read from the latent noise.

Why: a model that predicts the clean picture from pure noise in one step paints the average of
what a caption means when any picture of it may come from any noise (the first season's seeds
differed by 6.2 / 255: one picture per caption). So the painter reads the picture's layout from
the very noise the model starts from (as a teacher's ODE coupling does in one-step
distillation): each training pair is (noise, the picture that noise makes), and one step learns
noise -> its own picture instead of noise -> the average.

What is read, all linear in the noise and then fixed scalings (a small move of the noise is a
small move of every field and scalar: a slow walk drifts the picture, a kick jumps it):
- the latent's channels are dealt into GROUPS groups (channel c into group c % GROUPS); a group's
  mean at each cell, times the square root of its size, is white noise N(0, 1), independent
  across groups;
- broad fields (BROAD of them): that white noise blurred by a Gaussian of BROAD_SIGMA cells,
  scaled back to unit variance at every cell: where things go (warps), how big, whether there;
- medium and fine fields (MEDIUM_SIGMA, FINE_SIGMA cells): veins, smoke, fur, rust, grain;
- scalars: the whole frame's mean of a group, times the square root of its cell count, N(0, 1):
  choices for the whole picture (an unsaid colour or shape, the light, the rhythm, the centre).
- the frame: where the picture's coordinates are, read from four scalars kept for it (a zoom, a
  turn, a shift across and down) and bent by the first two broad fields: frame_grid(). The model
  is told these coordinates (model.py's _Framed, as the first season was told the straight ones)
  and the painter draws in them, so a seed moves, turns, scales and bends the whole picture.
Fields are in cells of the latent, so a bigger frame is more of the same world, not a zoom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

GROUPS = 48  # one channel a group in the first season's 48; four in the second's 192
BROAD, MEDIUM, FINE = 4, 2, 2  # fields of each kind, in that order of groups; the rest are scalars
SCALARS = GROUPS - BROAD - MEDIUM - FINE
S_ZOOM, S_TURN, S_SHIFT_X, S_SHIFT_Y = 32, 33, 34, 35  # the frame's scalars (the painter's are 0..15)
ZOOM, TURN, SHIFT = 0.4, 0.4, 0.3  # the frame: zoom exp(+-ZOOM), a turn of TURN radians and a shift per unit of its scalar
BROAD_SIGMA, MEDIUM_SIGMA, FINE_SIGMA = 3.0, 1.4, 0.7  # Gaussian blur, in latent cells
WARP = 0.2  # the painter's coordinates move by WARP * the first two broad fields (frame units: the height is 2)


@dataclass(frozen=True)
class Layout:
    """One picture's share of its noise, at the picture's size (numpy, float32)."""

    broad: np.ndarray  # (BROAD, H, W), each cell N(0, 1): warp x, warp y, presence, scale/phase
    medium: np.ndarray  # (MEDIUM, H, W): veins, smoke, the noise pattern
    fine: np.ndarray  # (FINE, H, W): fur, pits, grain
    scalars: np.ndarray  # (SCALARS,), N(0, 1): see paint.py's S_* names and the frame's above
    xw: np.ndarray  # (H, W): the frame's coordinates at each pixel (frame_grid)
    yw: np.ndarray

    def u(self, i: int) -> float:
        """Scalar i as a uniform number in 0..1 (its normal CDF)."""
        return 0.5 * (1.0 + math.erf(float(self.scalars[i]) / math.sqrt(2.0)))

    def s(self, i: int) -> float:
        return float(self.scalars[i])


@lru_cache(maxsize=16)
def _kernel(sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    return k / k.norm()  # unit energy: blurred unit white noise keeps unit variance away from the edges


def _blur(white: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, G, h, w) white noise -> the same blurred, unit variance at every cell (zero padding, and
    each cell divided by the energy of the kernel that fell inside the frame)."""
    k = _kernel(sigma).to(white.dtype)
    r = (k.numel() - 1) // 2
    g = white.shape[1]
    kx, ky = k.view(1, 1, 1, -1).repeat(g, 1, 1, 1), k.view(1, 1, -1, 1).repeat(g, 1, 1, 1)
    out = F.conv2d(F.conv2d(white, kx, padding=(0, r), groups=g), ky, padding=(r, 0), groups=g)
    ones = torch.ones(1, 1, *white.shape[-2:], dtype=white.dtype)
    k2x, k2y = (k * k).view(1, 1, 1, -1), (k * k).view(1, 1, -1, 1)
    energy = F.conv2d(F.conv2d(ones, k2x, padding=(0, r)), k2y, padding=(r, 0))
    return out / energy.sqrt()


def white(z: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) latent noise -> (B, GROUPS, h, w) unit white noise, one map per channel group."""
    b, c, h, w = z.shape
    if c % GROUPS:
        raise ValueError(f"layout: {c} latent channels do not deal into {GROUPS} groups")
    return z.float().reshape(b, c // GROUPS, GROUPS, h, w).mean(1) * math.sqrt(c // GROUPS)


PATTERN_FREQS = (2.6 / 1.7, 2.6, 2.6 / 0.5)  # the painter's rhythms (periods across the height): large, plain, small
FEATURES = BROAD + MEDIUM + FINE + SCALARS + 4 * 2 * len(PATTERN_FREQS)  # channels of features()


def fields_and_scalars(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, h, w) latent noise -> its fields at the latent's cells (B, BROAD + MEDIUM + FINE, h, w)
    and its scalars (B, SCALARS)."""
    wn = white(z)
    parts, start = [], 0
    for n, sigma in ((BROAD, BROAD_SIGMA), (MEDIUM, MEDIUM_SIGMA), (FINE, FINE_SIGMA)):
        parts.append(_blur(wn[:, start:start + n], sigma))
        start += n
    cells = wn.shape[-2] * wn.shape[-1]
    return torch.cat(parts, 1), wn[:, start:].mean((-2, -1)) * math.sqrt(cells)


def plain_grid(h: int, w: int, dtype=torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The straight frame's coordinates at the centres of an h x w grid of cells, (h, w) each: x
    across in units of the height (-aspect..aspect), y down (-1..1). The first season is told these
    (model._Placed); frame_grid moves them by the noise."""
    ys = (torch.arange(h, dtype=dtype, device=device) + 0.5) / h * 2 - 1
    xs = ((torch.arange(w, dtype=dtype, device=device) + 0.5) / w * 2 - 1) * (w / h)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return x, y


def frame_grid(fields: torch.Tensor, scalars: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The picture's coordinates at the centres of the fields' cells (B, h, w) each: the frame's
    (x across in units of the height, -aspect..aspect; y down, -1..1) shifted, turned and zoomed by
    the frame's scalars, then bent by WARP times the first two broad fields. All smooth in the
    noise. The model reads them at its latent's cells, the painter at its pixels."""
    b, h, w = fields.shape[0], *fields.shape[-2:]
    x, y = plain_grid(h, w, fields.dtype, fields.device)
    zoom, turn, sx, sy = (torch.as_tensor(v, dtype=fields.dtype).view(b, 1, 1) for v in frame_affine(scalars))
    u, v = x - sx, y - sy
    c, s = torch.cos(turn), torch.sin(turn)
    return (u * c + v * s) * zoom + WARP * fields[:, 0], (-u * s + v * c) * zoom + WARP * fields[:, 1]


def frame_affine(scalars):
    """The frame's zoom, turn (radians) and shift (x, y) from the scalars ((B, SCALARS) or (SCALARS,))."""
    sc = scalars
    tanh, exp = (torch.tanh, torch.exp) if isinstance(sc, torch.Tensor) else (np.tanh, np.exp)
    return (exp(ZOOM * tanh(sc[..., S_ZOOM] / 1.5)), TURN * sc[..., S_TURN],
            SHIFT * sc[..., S_SHIFT_X], SHIFT * sc[..., S_SHIFT_Y])


def unframe(scalars: np.ndarray, xf, yf):
    """Frame coordinates -> the plain frame's (the inverse of frame_grid's zoom, turn and shift; the
    warp, at most a few tenths, left out): where on the picture a thing drawn at (xf, yf) lands."""
    zoom, turn, sx, sy = frame_affine(scalars)
    u, v = np.asarray(xf) / zoom, np.asarray(yf) / zoom
    c, s = math.cos(turn), math.sin(turn)
    return u * c - v * s + sx, u * s + v * c + sy


def features(z: torch.Tensor | None = None, fields: torch.Tensor | None = None, scalars: torch.Tensor | None = None,
             grid: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """What the painter reads from the noise, as the UNet is told it besides the frame's own
    coordinates (model.py): the fields, the scalars spread over every cell, and the sines and
    cosines of the frame's x, y, distance from the centre and diagonal at the painter's rhythms
    (PATTERN_FREQS): (B, FEATURES, h, w). From the noise z, or from its fields, scalars and
    frame_grid when they are at hand."""
    if z is not None:
        fields, scalars = fields_and_scalars(z)
    xw, yw = grid if grid is not None else frame_grid(fields, scalars)
    coords = (xw, yw, torch.sqrt(xw * xw + yw * yw), (xw + yw) * math.sqrt(0.5))
    rhythm = [f(c * k * math.pi) for c in coords for k in PATTERN_FREQS for f in (torch.sin, torch.cos)]
    return torch.cat([fields, scalars[:, :, None, None].expand(-1, -1, *fields.shape[-2:]), torch.stack(rhythm, 1)], 1)


def read(z: torch.Tensor, size: tuple[int, int]) -> list[Layout]:
    """Each row of a batch of latent noise (B, C, h, w) -> its Layout at size (width, height)."""
    w, h = size
    fields, scalars = fields_and_scalars(z)
    up = F.interpolate(fields, size=(h, w), mode="bilinear", align_corners=False)
    xw, yw = (g.numpy() for g in frame_grid(up, scalars))
    f, s = up.numpy(), scalars.numpy()
    b, m = BROAD, BROAD + MEDIUM
    return [Layout(f[i, :b], f[i, b:m], f[i, m:], s[i], xw[i], yw[i]) for i in range(z.shape[0])]
