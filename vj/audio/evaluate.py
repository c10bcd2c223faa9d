"""Scoring detections against the truth, the way the MIR literature does it (mir_eval's rules):
a detection matches at most one true event within +-tolerance; F = 2PR / (P + R)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Score:
    f: float
    precision: float
    recall: float
    matched: int
    detections: int
    truth: int
    errors: tuple[float, ...]  # detection - truth, seconds, for each match


def match(detected: Sequence[float], truth: Sequence[float], tolerance: float) -> Score:
    """Greedy one-to-one matching in time order (both lists sorted)."""
    d, t = sorted(detected), sorted(truth)
    i = j = 0
    errors = []
    used = [False] * len(t)
    while i < len(d):
        # the earliest unused truth event within the window
        while j < len(t) and t[j] < d[i] - tolerance:
            j += 1
        k = j
        while k < len(t) and (used[k]) and t[k] <= d[i] + tolerance:
            k += 1
        if k < len(t) and not used[k] and abs(t[k] - d[i]) <= tolerance:
            used[k] = True
            errors.append(d[i] - t[k])
        i += 1
    m = len(errors)
    p = m / len(d) if d else 0.0
    r = m / len(t) if t else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return Score(f, p, r, m, len(d), len(t), tuple(errors))
