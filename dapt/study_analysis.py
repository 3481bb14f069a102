"""The study's numbers from per-document scores: bits per byte two ways, the frontier choice, the
saturating power-law fit and the seed spread. Pure functions over arrays and dicts; no training, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

GROUPS = ("legal", "medical", "financial", "general")
DOMAINS = ("legal", "medical", "financial")
LN2 = math.log(2)


def bpb_byte_weighted(loglik: np.ndarray, nbytes: np.ndarray) -> float | None:
    """-sum(log-likelihood) / (ln 2 x sum(bytes)): the corpus-level figure, where long pages weigh most."""
    if len(loglik) == 0 or not np.isfinite(loglik).all():
        return None
    return float(-np.sum(loglik) / (LN2 * np.sum(nbytes)))


def bpb_doc_mean(loglik: np.ndarray, nbytes: np.ndarray) -> float | None:
    """The mean of each document's own bits per byte: every document one vote, so one long repetitive
    page (general_news_web has one of 13k sentences, 341 distinct) cannot carry a group alone."""
    if len(loglik) == 0 or not np.isfinite(loglik).all():
        return None
    return float(np.mean(-loglik / (LN2 * nbytes)))


def group_scores(docs: Mapping[str, tuple[np.ndarray, np.ndarray]], members: Sequence[str]) -> dict[str, Any]:
    """Both figures over the pooled documents of `members` (source names)."""
    ll = np.concatenate([docs[m][0] for m in members]) if members else np.zeros(0)
    nb = np.concatenate([docs[m][1] for m in members]) if members else np.zeros(0)
    return {"docs": int(len(ll)), "bytes": int(nb.sum()), "byte_weighted": bpb_byte_weighted(ll, nb),
            "doc_mean": bpb_doc_mean(ll, nb)}


def paired_bootstrap(ref: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray], metric: str,
                     iters: int, seed: int = 0) -> dict[str, Any]:
    """other - ref on the same documents with a 95 % percentile interval over resampled documents."""
    (ll_a, nb), (ll_b, _) = ref, other
    if len(ll_a) != len(ll_b) or len(ll_a) == 0 or not (np.isfinite(ll_a).all() and np.isfinite(ll_b).all()):
        return {"diff": None, "ci95": None}
    per_a, per_b = -ll_a / (LN2 * nb), -ll_b / (LN2 * nb)

    def stat(idx: np.ndarray) -> np.ndarray:
        if metric == "doc_mean":
            return per_b[idx].mean(axis=-1) - per_a[idx].mean(axis=-1)
        return -(ll_b[idx].sum(axis=-1) - ll_a[idx].sum(axis=-1)) / (LN2 * nb[idx].sum(axis=-1))

    diff = float(stat(np.arange(len(nb))))
    if iters <= 0:
        return {"diff": diff, "ci95": None}
    idx = np.random.default_rng(seed).integers(0, len(nb), size=(iters, len(nb)))
    lo, hi = np.percentile(stat(idx), [2.5, 97.5])
    return {"diff": diff, "ci95": [float(lo), float(hi)]}


def domain_loss(bpb: Mapping[str, float | None]) -> float | None:
    """The frontier's domain axis: the mean over the three domains (each domain counts once)."""
    values = [bpb.get(d) for d in DOMAINS if bpb.get(d) is not None]
    return float(np.mean(values)) if values else None


def choose_share(points: Sequence[Mapping[str, Any]], max_general_penalty: float) -> dict[str, Any]:
    """The share with the lowest domain loss among those whose general bits/byte is at most
    (1 + max_general_penalty) x the general-only baseline's (share 0). Points: {share, domain, general}."""
    base = next((p for p in points if p["share"] == 0.0), None)
    if base is None or base["general"] is None:
        return {"share": None, "reason": "no general-only point (share 0) to measure the penalty against"}
    limit = base["general"] * (1 + max_general_penalty)
    rows = [{**p, "general_penalty": p["general"] / base["general"] - 1} for p in points if p["general"] is not None]
    ok = [p for p in rows if p["general"] <= limit and p["domain"] is not None]
    best = min(ok, key=lambda p: (p["domain"], p["share"]))
    return {"share": best["share"], "domain": best["domain"], "general": best["general"],
            "general_penalty": best["general_penalty"], "limit": limit, "max_general_penalty": max_general_penalty,
            "points": rows}


def fit_power_law(n: Sequence[float], loss: Sequence[float], alphas: np.ndarray | None = None) -> dict[str, Any]:
    """L(N) = E + A N^-alpha by least squares (Chinchilla Approach 3's form in N alone, on compute-optimal
    runs): for each alpha on a grid, E and A >= 0 are linear least squares; the alpha with the least
    squared error wins. Deterministic; returns the parameters, each point's residual and the RMSE.
    With two sizes only (a miniature) E is fixed at 0: A N^-alpha through both, no residual to speak of."""
    n_arr, y = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
    n_sizes = len(np.unique(n_arr))
    if n_sizes < 2 or not np.isfinite(y).all():
        raise ValueError(f"a power law needs at least 2 sizes with finite losses, got {sorted(set(n_arr.tolist()))}")
    saturating = n_sizes >= 3
    grid = np.linspace(0.02, 2.0, 397) if alphas is None else alphas
    best: tuple[float, float, float, float] | None = None
    for alpha in grid:
        x = n_arr ** -alpha
        e, a = _nonneg_lstsq(x, y) if saturating else (0.0, max(float(np.dot(x, y) / np.dot(x, x)), 0.0))
        sse = float(np.sum((e + a * x - y) ** 2))
        if best is None or sse < best[0] - 1e-15:
            best = (sse, float(alpha), e, a)
    sse, alpha, e, a = best
    pred = e + a * n_arr ** -alpha
    return {"E": e, "A": a, "alpha": alpha, "points": [{"n": float(ni), "loss": float(li), "fit": float(pi),
                                                         "residual": float(li - pi)} for ni, li, pi in zip(n_arr, y, pred)],
            "rmse": math.sqrt(sse / len(y)), "n_points": int(len(y)), "n_sizes": n_sizes,
            "form": "E + A N^-alpha" if saturating else "A N^-alpha (E = 0: two sizes only)",
            "n_range": [float(n_arr.min()), float(n_arr.max())]}


def _nonneg_lstsq(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """min ||E + A x - y|| with E, A >= 0 (two unknowns: the unconstrained solution or a boundary)."""
    design = np.stack([np.ones_like(x), x], axis=1)
    (e, a), *_ = np.linalg.lstsq(design, y, rcond=None)
    if e >= 0 and a >= 0:
        return float(e), float(a)
    candidates = [(max(float(np.mean(y)), 0.0), 0.0)]  # A = 0
    a0 = max(float(np.dot(x, y) / np.dot(x, x)), 0.0)  # E = 0
    candidates.append((0.0, a0))
    return min(candidates, key=lambda c: float(np.sum((c[0] + c[1] * x - y) ** 2)))


def predict(fit: Mapping[str, Any], n: float) -> float:
    return float(fit["E"] + fit["A"] * n ** -fit["alpha"])


def seed_spread(diffs: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation, min and max of one difference over seeds."""
    arr = np.asarray([d for d in diffs if d is not None], dtype=float)
    if len(arr) == 0:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None, "values": []}
    return {"n": int(len(arr)), "mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else None,
            "min": float(arr.min()), "max": float(arr.max()), "values": [float(v) for v in arr]}
