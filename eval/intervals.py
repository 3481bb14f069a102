"""Intervals for accuracies (proportions) that stay inside [0, 1], and for paired differences of them.

The normal approximation p ± 1.96 sqrt(p(1-p)/n) fails exactly where small benchmarks live: it has zero
width at p = 0 or 1 and runs past the bounds (6 examples gave [+0.253, +1.080]). Wilson's score
interval (Wilson 1927) and Newcombe's hybrid score interval for a paired difference of proportions
(Newcombe 1998, "Improved confidence intervals for the difference between binomial proportions based
on paired data", method 10) do neither, and are the standard recommendation (Brown, Cai & DasGupta 2001).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959964  # two-sided 95 % normal quantile
# Below this many examples the report gives intervals but no verdict: at n = 30 a Wilson interval
# around 50 % is still ±17 points wide, so fewer examples cannot separate two models worth comparing.
MIN_EXAMPLES = 30


def too_few(n: int | None) -> str | None:
    """The verdict to give instead of a comparison when n is under MIN_EXAMPLES (None otherwise)."""
    if n is not None and n < MIN_EXAMPLES:
        return f"too few examples (n={n} < {MIN_EXAMPLES})"
    return None


def wilson(k: float, n: int, z: float = Z95) -> list[float] | None:
    """Wilson score interval of a proportion k/n; None for n = 0."""
    if n <= 0:
        return None
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def is_binary(values: Sequence[float]) -> bool:
    return len(values) > 0 and all(v in (0.0, 1.0) for v in values)


def newcombe_paired(ref: Sequence[float], other: Sequence[float], z: float = Z95) -> list[float] | None:
    """95 % interval of mean(other) - mean(ref) for 0/1 scores of the same examples (Newcombe method 10).

    Each model's Wilson interval is combined through the phi correlation of the 2x2 table of paired
    outcomes, so the interval lies in [-1, 1] and has width even when no example differs.
    """
    a = np.asarray(ref, dtype=float)
    b = np.asarray(other, dtype=float)
    n = len(a)
    if n == 0 or len(b) != n:
        return None
    p1, p2 = float(b.mean()), float(a.mean())  # other, ref
    l1, u1 = wilson(b.sum(), n, z)
    l2, u2 = wilson(a.sum(), n, z)
    both = float(np.sum((a == 1) & (b == 1)))
    other_only = float(np.sum((a == 0) & (b == 1)))
    ref_only = float(np.sum((a == 1) & (b == 0)))
    neither = n - both - other_only - ref_only
    margins = (both + other_only) * (ref_only + neither) * (both + ref_only) * (other_only + neither)
    phi = (both * neither - other_only * ref_only) / math.sqrt(margins) if margins > 0 else 0.0
    d = p1 - p2
    lo = d - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = d + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return [max(-1.0, lo), min(1.0, hi)]


def newcombe_unpaired(p_ref: float, n_ref: int, p_other: float, n_other: int, z: float = Z95) -> list[float] | None:
    """95 % interval of p_other - p_ref for two independent samples (Newcombe 1998b, method 10: phi = 0)."""
    if n_ref <= 0 or n_other <= 0:
        return None
    l1, u1 = wilson(p_other * n_other, n_other, z)
    l2, u2 = wilson(p_ref * n_ref, n_ref, z)
    d = p_other - p_ref
    return [max(-1.0, d - math.sqrt((p_other - l1) ** 2 + (u2 - p_ref) ** 2)),
            min(1.0, d + math.sqrt((u1 - p_other) ** 2 + (p_ref - l2) ** 2))]


def mover_average(diffs: Sequence[float], intervals: Sequence[Sequence[float]]) -> list[float]:
    """95 % interval of the mean of k independent differences from each one's own interval (MOVER, Zou &
    Donner 2008: the distances to each end add in quadrature), so an average inherits the per-task
    intervals' bounds and width: it is never of zero width when no example differs, and stays in [-1, 1]."""
    k = len(diffs)
    mean = sum(diffs) / k
    below = math.sqrt(sum((d - ci[0]) ** 2 for d, ci in zip(diffs, intervals))) / k
    above = math.sqrt(sum((ci[1] - d) ** 2 for d, ci in zip(diffs, intervals))) / k
    return [max(-1.0, mean - below), min(1.0, mean + above)]
