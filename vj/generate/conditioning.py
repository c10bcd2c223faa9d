"""What a prompt becomes for the UNet: its token states (and SDXL's pooled vector), and how several
are blended, by weight or along the great circle between them (prompts.py encodes and caches them;
a model that takes no text, the GAN, maps them to its own latent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class Conditioning:
    embeds: torch.Tensor  # (1, 77, D): token states the UNet cross-attends to
    pooled: torch.Tensor | None = None  # (1, P): SDXL's pooled text embedding

    def lerp(self, other: "Conditioning", t: float) -> "Conditioning":
        pooled = None if self.pooled is None else self.pooled + t * (other.pooled - self.pooled)
        return Conditioning(self.embeds + t * (other.embeds - self.embeds), pooled)

    @staticmethod
    def blend(parts: Sequence[tuple[float, "Conditioning"]], slerp: float = 0.0) -> "Conditioning":
        """Weighted sum (slerp 0), per-token slerp (1), or between. Weights need not sum to 1: their
        total is a gain in both (weights outside 0..1 extrapolate)."""
        embeds = sum(w * c.embeds for w, c in parts)
        pooled = None if parts[0][1].pooled is None else sum(w * c.pooled for w, c in parts)
        linear = Conditioning(embeds, pooled)
        if slerp <= 0.0 or len(parts) < 2:
            return linear
        arced = _slerp_all(parts)
        return linear if arced is None else linear.lerp(arced, min(1.0, slerp))


def _slerp_rows(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Slerp of each row (last axis) of a towards b; the norm moves linearly between theirs."""
    a32, b32 = a.float(), b.float()
    na, nb = a32.norm(dim=-1, keepdim=True), b32.norm(dim=-1, keepdim=True)
    ua, ub = a32 / na.clamp_min(1e-8), b32 / nb.clamp_min(1e-8)
    dot = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(dot)
    so = torch.sin(omega)
    straight = so < 1e-4  # (anti)parallel rows: plain lerp of the directions
    safe = torch.where(straight, torch.ones_like(so), so)
    wa = torch.where(straight, torch.full_like(so, 1.0 - t), torch.sin((1.0 - t) * omega) / safe)
    wb = torch.where(straight, torch.full_like(so, t), torch.sin(t * omega) / safe)
    direction = wa * ua + wb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return (direction * (na + t * (nb - na))).to(a.dtype)


def _slerp_all(parts: Sequence[tuple[float, Conditioning]]) -> Conditioning | None:
    """Fold the parts in one by one (each step a slerp by its share of the weight so far), then
    scale by the total weight. None when the weights cancel (no direction to speak of)."""
    w0, c0 = parts[0]
    total = w0
    embeds, pooled = c0.embeds, c0.pooled
    for w, c in parts[1:]:
        if abs(total + w) < 1e-3:
            return None
        t = w / (total + w)
        embeds = _slerp_rows(embeds, c.embeds, t)
        if pooled is not None:
            pooled = _slerp_rows(pooled, c.pooled, t)
        total += w
    return Conditioning(embeds * total, None if pooled is None else pooled * total)
