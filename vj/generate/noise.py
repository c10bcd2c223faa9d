"""The noise field: seeded latent noise that moves along great circles.

Three seeded directions a, b, c are made orthogonal with equal norms. The latent is

    x = cos(phi) * (cos(theta) a + sin(theta) b) + sin(phi) c
    theta = 2 pi * phase (the walk, in turns)     phi = kick * pi/2 (audio pushes towards c)

so every x has the norm of a Gaussian sample (the UNet sees well-formed noise at any setting),
a small move of phase or kick is a small move of the latent, and phase 1.0 comes back home.
"""

from __future__ import annotations

import math

import torch


class NoiseField:
    def __init__(self, shape: tuple[int, ...], seed: int, device: torch.device, dtype: torch.dtype) -> None:
        self.shape = shape
        self.seed = seed
        g = torch.Generator("cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)  # same noise on every device
        raw = [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3)]
        norm = raw[0].norm()
        basis: list[torch.Tensor] = []
        for v in raw:  # Gram-Schmidt, then back to the norm of the first sample
            for u in basis:
                v = v - (v * u).sum() * u
            basis.append(v / v.norm())
        self._a, self._b, self._c = (u * norm for u in basis)
        self.device, self.dtype = device, dtype

    def at(self, phase: float, kick: float) -> torch.Tensor:
        theta = 2.0 * math.pi * phase
        phi = 0.5 * math.pi * max(-1.0, min(1.0, kick))
        x = math.cos(phi) * (math.cos(theta) * self._a + math.sin(theta) * self._b) + math.sin(phi) * self._c
        return x.to(device=self.device, dtype=self.dtype)
