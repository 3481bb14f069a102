"""MinHash signatures, LSH band keys, template sketches, connected components and survivor choice (numpy, no Beam).

MinHasher's defaults are FineWeb's (Penedo et al. 2024, datatrove ``MinhashConfig``): word 5-grams, 112 hash
functions as 14 bands x 8 rows, whose S-curve 1 - (1 - s^8)^14 is at 50 % near Jaccard 0.69. The select
stage bands 22 x 5 instead (``NearDedupConfig``) and checks every removal on the exact shingle Jaccard.

Hash family: multiply-shift (Dietzfelbinger et al. 1997), h_i(x) = (a_i * x + b_i mod 2^64) >> 32 with odd
a_i; on 64-bit shingle hashes it is cheap in numpy (no modulo) and universal enough for MinHash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np
import xxhash

from dapt.pipeline.rules.ngrams import ngram_hashes, words

# Shingles per block when hashing a long document: bounds the (block x num_hashes) matrix to ~4 MiB.
_BLOCK = 4096
_SHIFT = np.uint64(32)


@dataclasses.dataclass(frozen=True)
class MinHasher:
    """Hash coefficients for ``bands * rows`` hash functions, drawn from a fixed seed (deterministic)."""

    ngram: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1

    @property
    def num_hashes(self) -> int:
        return self.bands * self.rows

    def coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        hi = np.iinfo(np.uint64).max
        a = rng.integers(1, hi, size=self.num_hashes, dtype=np.uint64, endpoint=True) | np.uint64(1)
        b = rng.integers(0, hi, size=self.num_hashes, dtype=np.uint64, endpoint=True)
        return a, b

    def signature(self, text: str, coeffs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """The MinHash signature (uint32, ``num_hashes`` values) of a text's word n-gram set."""
        a, b = coeffs if coeffs is not None else self.coefficients()
        return signature_of(shingles(text, self.ngram), a, b)

    def band_keys(self, sig: np.ndarray) -> list[tuple[int, int]]:
        """One (band index, 64-bit hash of that band's rows) key per band; equal keys = LSH candidates."""
        return band_keys(sig, self.bands, self.rows)


def shingles(text: str, n: int) -> np.ndarray:
    """The sorted distinct word n-gram hashes of a text (uint64): the set MinHash estimates Jaccard on."""
    return np.unique(ngram_hashes(words(text), n))


def shingle_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted distinct shingle arrays (1.0 for two empty ones), as ``ngrams.jaccard``."""
    if not a.size and not b.size:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def signature_of(shingles: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Min over shingles of every hash function; an empty shingle set gets the all-max signature."""
    sig = np.full(a.shape[0], np.iinfo(np.uint32).max, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for start in range(0, shingles.shape[0], _BLOCK):
            block = shingles[start : start + _BLOCK, None]
            hashed = ((block * a[None, :] + b[None, :]) >> _SHIFT).astype(np.uint32)
            np.minimum(sig, hashed.min(axis=0), out=sig)
    return sig


class ShingleSketch:
    """Count-min sketch (Cormode & Muthukrishnan 2005) of how many documents of a source hold each shingle.

    Fixed size whatever the source's size (``depth`` x ``width`` uint32 counters, 8 MiB at the defaults), so
    a source's counts merge by addition across workers. Counts only over-estimate (collisions add, never
    subtract); taking the minimum over ``depth`` independent rows makes a rare shingle read as frequent only
    when it collides with frequent ones in every row.
    """

    def __init__(self, width_bits: int = 20, depth: int = 2, counts: np.ndarray | None = None):
        self.width_bits, self.depth = width_bits, depth
        self.counts = counts if counts is not None else np.zeros((depth, 1 << width_bits), dtype=np.uint32)
        # Odd multipliers of a multiply-shift hash per row (splitmix64 / golden-ratio constants, fixed).
        self._mult = np.array([0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93][:depth],
                              dtype=np.uint64)

    def _buckets(self, shingles: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (shingles[None, :] * self._mult[:, None]) >> np.uint64(64 - self.width_bits)

    def add(self, shingles: np.ndarray) -> None:
        """Counts one document holding these (distinct) shingles: each counter at most once per document."""
        for row, idx in enumerate(self._buckets(shingles)):
            self.counts[row, idx] += 1  # buffered fancy-index add: a counter hit twice by one document adds 1

    def merge(self, other: ShingleSketch) -> None:
        self.counts += other.counts

    def docs_with(self, shingles: np.ndarray) -> np.ndarray:
        """Estimated documents holding each shingle (never below the true count)."""
        if not shingles.size:
            return np.zeros(0, dtype=np.uint32)
        idx = self._buckets(shingles)
        return np.min(self.counts[np.arange(self.depth)[:, None], idx], axis=0)


def content_shingles(shingles: np.ndarray, docs_with: np.ndarray, max_docs: int, min_fraction: float) -> np.ndarray:
    """The shingles held by at most ``max_docs`` documents of the source: the page without its template.

    A page that is nearly all template (less than ``min_fraction`` of its shingles left: a stub, or one of
    many copies of a page) keeps all its shingles, so copies of it are still found.
    """
    content = shingles[docs_with <= max_docs]
    return content if content.size >= min_fraction * shingles.size and content.size else shingles


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[tuple[int, int]]:
    """LSH band keys of a signature: (band, xxh64 of the band's bytes)."""
    if sig.shape[0] != bands * rows:
        raise ValueError(f"signature has {sig.shape[0]} values, expected bands*rows = {bands * rows}")
    sig = np.ascontiguousarray(sig)
    return [(i, xxhash.xxh64_intdigest(sig[i * rows : (i + 1) * rows].tobytes())) for i in range(bands)]


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of equal signature values: an unbiased estimate of the Jaccard similarity."""
    return float(np.mean(sig_a == sig_b))


def detection_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that a pair at this Jaccard shares at least one band (the LSH S-curve)."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


class UnionFind:
    """Disjoint sets over string ids; the root of every set is its smallest id (order-independent)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, x: str, y: str) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            lo, hi = (rx, ry) if rx < ry else (ry, rx)
            self.parent[hi] = lo


def connected_components(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Clusters (size >= 2) of an undirected edge list: {smallest member id: sorted member ids}."""
    uf = UnionFind()
    for x, y in edges:
        uf.union(x, y)
    clusters: dict[str, list[str]] = {}
    for node in uf.parent:
        clusters.setdefault(uf.find(node), []).append(node)
    return {root: sorted(members) for root, members in clusters.items() if len(members) > 1}


def choose_survivor(members: Iterable[str], scores: Mapping[str, float]) -> str:
    """The member kept from a cluster: highest quality score, ties broken by the lowest id."""
    return min(members, key=lambda m: (-scores.get(m, 0.0), m))
