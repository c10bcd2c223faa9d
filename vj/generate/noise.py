"""The noise field: seeded latent noise that walks along great circles.

Each seed s gives two directions a_s, b_s (orthogonal, with the norm of a Gaussian sample); the
first seed also gives a third, c. The latent is

    x = cos(phi) * sum_s w_s (cos(theta) a_s + sin(theta) b_s) / |w|  +  sin(phi) c
    theta = 2 pi * phase (the walk, in turns)      phi = kick * pi/2 (a pulse pushes towards c)
    w_s   = the seed weights (`noise.seed.<n>.weight`; one seed: w = 1)

Independent Gaussian samples mixed with weights w and divided by |w| are again a Gaussian sample,
so every x has the norm the UNet expects at any setting; a crossfade between two seeds with equal
power (cos/sin weights) is itself a great circle. A small move of phase, kick or a weight is a
small move of the latent, and phase 1.0 comes back home.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch


def _directions(shape: tuple[int, ...], seed: int, count: int) -> list[torch.Tensor]:
    g = torch.Generator("cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)  # same noise on every device
    raw = [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(count)]
    norm = raw[0].norm()
    basis: list[torch.Tensor] = []
    for v in raw:  # Gram-Schmidt, then back to the norm of the first sample
        for u in basis:
            v = v - (v * u).sum() * u
        basis.append(v / v.norm())
    return [u * norm for u in basis]


class NoiseField:
    def __init__(self, shape: tuple[int, ...], seeds: Sequence[int] | int, device: torch.device,
                 dtype: torch.dtype) -> None:
        seeds = (seeds,) if isinstance(seeds, int) else tuple(seeds)
        if not seeds:
            raise ValueError("a noise field needs at least one seed")
        self.shape = shape
        self.seeds = seeds
        self.seed = seeds[0]
        # drawn in float64 on the CPU (the same noise on every device), kept in float32 where the
        # frames are made: a frame's latent is a few multiply-adds there, no copy from the host
        on = dict(device=device, dtype=torch.float32)
        a, b, c = (v.to(**on) for v in _directions(shape, seeds[0], 3))
        self._c = c
        self._planes = [(a, b)] + [tuple(v.to(**on) for v in _directions(shape, s, 2)) for s in seeds[1:]]
        self.device, self.dtype = device, dtype

    def at(self, phase: float, kick: float, weights: Sequence[float] | None = None) -> torch.Tensor:
        theta = 2.0 * math.pi * phase
        phi = 0.5 * math.pi * max(-1.0, min(1.0, kick))
        ct, st = math.cos(theta), math.sin(theta)
        ws = list(weights or [1.0])[:len(self._planes)]
        ws += [0.0] * (len(self._planes) - len(ws))
        norm = math.sqrt(sum(w * w for w in ws))
        if norm < 1e-9:  # every weight at 0: the first seed alone
            ws, norm = [1.0] + [0.0] * (len(ws) - 1), 1.0
        walk = sum((w / norm) * (ct * a + st * b) for w, (a, b) in zip(ws, self._planes) if w != 0.0)
        x = math.cos(phi) * walk + math.sin(phi) * self._c
        return x.to(device=self.device, dtype=self.dtype)


def snapshot_point(field: NoiseField | None, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype,
                   snap) -> tuple[NoiseField, torch.Tensor]:
    """Where a snapshot stands in the noise field: (the field, made anew when its seeds changed; its
    point at the walk's phase, the kick -- noise.kick plus noise.pulse times the newest transient --
    and the seeds' weights noise.seed.<n>.weight). Every model family walks its latent by this."""
    seeds = (snap.seed,) + tuple(snap.seeds)
    if field is None or field.seeds != seeds:
        field = NoiseField(shape, seeds, device, dtype)
    v = snap.values
    weights = [v.get(f"noise.seed.{i}.weight", 1.0 if i == 1 else 0.0) for i in range(1, len(seeds) + 1)]
    a = snap.audio
    pulse = max(a.bass_pulse, a.mid_pulse, a.high_pulse)  # a transient jumps to 1 and decays
    kick = v.get("noise.kick", 0.0) + v.get("noise.pulse", 0.0) * pulse
    return field, field.at(v.get("noise.phase", 0.0), kick, weights)
