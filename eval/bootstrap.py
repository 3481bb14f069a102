"""Intervals for bits per byte: a percentile bootstrap over documents, paired between models.

Bits per byte of a held-out set is a ratio, -sum(log-likelihood) / (ln 2 * sum(bytes)), not a mean of
per-document values, so the harness gives it no standard error. Resampling the documents with
replacement and recomputing the ratio gives an interval that respects the unit that varies (a hard
document is hard for every model). Two models scored on the same documents are compared on the same
resamples: most of the spread is which documents are hard, which both share, so the paired interval
of the difference is far narrower than the two intervals side by side.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

CHUNK = 256  # resamples drawn at once: bounds memory at CHUNK x documents indices


def bits_per_byte(loglik: np.ndarray, nbytes: np.ndarray) -> float:
    return float(-np.sum(loglik) / (math.log(2) * np.sum(nbytes)))


def _resamples(n: int, iters: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for start in range(0, iters, CHUNK):
        yield rng.integers(0, n, size=(min(CHUNK, iters - start), n))


def _ratios(loglik: np.ndarray, nbytes: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return -loglik[idx].sum(axis=1) / (math.log(2) * nbytes[idx].sum(axis=1))


def bpb_interval(loglik: np.ndarray, nbytes: np.ndarray, iters: int, seed: int = 0) -> list[float] | None:
    """95 % percentile interval of one model's bits per byte; None without resamples or documents."""
    if iters <= 0 or len(loglik) == 0:
        return None
    draws = np.concatenate([_ratios(loglik, nbytes, idx) for idx in _resamples(len(loglik), iters, seed)])
    return [float(v) for v in np.percentile(draws, [2.5, 97.5])]


def paired_difference(ref: np.ndarray, other: np.ndarray, nbytes: np.ndarray, iters: int,
                      ref_name: str, other_name: str, seed: int = 0) -> dict:
    """other - ref in bits per byte (negative: other is better) with a paired 95 % interval and a verdict.

    `ref` and `other` are the two models' log-likelihoods of the same documents, in the same order.
    """
    if len(ref) != len(other):
        raise ValueError(f"paired comparison needs the same documents: {len(ref)} vs {len(other)}")
    if not (np.isfinite(ref).all() and np.isfinite(other).all()):
        return {"diff": None, "ci95": None, "verdict": "missing"}  # a diverged model: no number to compare
    diff = bits_per_byte(other, nbytes) - bits_per_byte(ref, nbytes)
    if iters <= 0 or len(ref) == 0:
        return {"diff": diff, "ci95": None, "verdict": "no interval"}
    draws = np.concatenate([_ratios(other, nbytes, idx) - _ratios(ref, nbytes, idx)
                            for idx in _resamples(len(ref), iters, seed)])
    lo, hi = (float(v) for v in np.percentile(draws, [2.5, 97.5]))
    return {"diff": diff, "ci95": [lo, hi], "verdict": verdict(diff, lo, hi, ref_name, other_name, lower_is_better=True)}


def verdict(diff: float, lo: float, hi: float, ref_name: str, other_name: str, lower_is_better: bool = False) -> str:
    """What a difference other - ref with its 95 % interval [lo, hi] says: "within noise" when the
    interval holds 0, else which model is better. Every comparison in eval is decided here."""
    if lo <= 0.0 <= hi:
        return "within noise"
    return f"{other_name} better" if (diff < 0) == lower_is_better else f"{ref_name} better"
