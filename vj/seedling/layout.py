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
Fields are in cells of the latent, so a bigger frame is more of the same world, not a zoom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

GROUPS = 24
BROAD, MEDIUM, FINE = 4, 2, 2  # fields of each kind, in that order of groups; the rest are scalars
SCALARS = GROUPS - BROAD - MEDIUM - FINE
BROAD_SIGMA, MEDIUM_SIGMA, FINE_SIGMA = 3.0, 1.4, 0.7  # Gaussian blur, in latent cells
WARP = 0.2  # the painter's coordinates move by WARP * the first two broad fields (frame units: the height is 2)
WARP_FREQS = (0.5, 1.0, 1.3, 2.0, 2.6, 4.0)  # periods across the height of the warped coordinates' sines


@dataclass(frozen=True)
class Layout:
    """One picture's share of its noise, at the picture's size (numpy, float32)."""

    broad: np.ndarray  # (BROAD, H, W), each cell N(0, 1): warp x, warp y, presence, scale/phase
    medium: np.ndarray  # (MEDIUM, H, W): veins, smoke, the noise pattern
    fine: np.ndarray  # (FINE, H, W): fur, pits, grain
    scalars: np.ndarray  # (SCALARS,), N(0, 1): see paint.py's S_* names

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


FEATURES = BROAD + MEDIUM + FINE + SCALARS + 3 * 2 * len(WARP_FREQS)  # channels of features()


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


def warped_grid(fields: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The frame's coordinates at the cells' centres (x across in units of the height, -aspect..aspect;
    y down, -1..1), moved by WARP times the first two broad fields, as the painter moves them."""
    h, w = fields.shape[-2:]
    ys = (torch.arange(h, dtype=fields.dtype) + 0.5) / h * 2 - 1
    xs = ((torch.arange(w, dtype=fields.dtype) + 0.5) / w * 2 - 1) * (w / h)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return x + WARP * fields[:, 0], y + WARP * fields[:, 1]


def features(z: torch.Tensor) -> torch.Tensor:
    """What the painter reads, as the UNet is told it (model.py): the fields, the scalars spread over
    every cell, and sines and cosines of the warped coordinates (x, y and the distance from the
    centre) at WARP_FREQS: (B, FEATURES, h, w)."""
    fields, scalars = fields_and_scalars(z)
    xw, yw = warped_grid(fields)
    where = [f(c * k * math.pi) for c in (xw, yw, torch.hypot(xw, yw)) for k in WARP_FREQS for f in (torch.sin, torch.cos)]
    return torch.cat([fields, scalars[:, :, None, None].expand(-1, -1, *fields.shape[-2:]), torch.stack(where, 1)], 1)


def read(z: torch.Tensor, size: tuple[int, int]) -> list[Layout]:
    """Each row of a batch of latent noise (B, C, h, w) -> its Layout at size (width, height)."""
    w, h = size
    fields, scalars = fields_and_scalars(z)
    f = F.interpolate(fields, size=(h, w), mode="bilinear", align_corners=False).numpy()
    s = scalars.numpy()
    b, m = BROAD, BROAD + MEDIUM
    return [Layout(f[i, :b], f[i, b:m], f[i, m:], s[i]) for i in range(z.shape[0])]
