"""Word tokens and hashed word n-grams (shingles): one definition shared by MinHash dedup and decontamination.

Words are lower-cased runs of letters/digits (punctuation dropped), as GPT-3's contamination check
(Brown et al. 2020, App. C) and FineWeb's MinHash shingles (datatrove ``simplify_text``) both normalise.
An n-gram is hashed to 64 bits by combining per-word xxh64 hashes with a vectorised polynomial,
so a document is hashed in numpy rather than one Python string join per n-gram.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import xxhash

_WORD = re.compile(r"\w+", re.UNICODE)

# Odd 64-bit multipliers (golden-ratio and splitmix64 constants): the polynomial base and the finaliser.
_BASE = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of a text (letters/digits runs; punctuation and whitespace dropped)."""
    return _WORD.findall(text.lower())


@lru_cache(maxsize=1 << 20)
def word_hash(word: str) -> int:
    """Stable 64-bit hash of one word (cached: word frequencies are Zipfian, most lookups hit)."""
    return xxhash.xxh64_intdigest(word.encode("utf-8"))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the polynomial's bits so every output bit depends on every word."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def ngram_hashes(tokens: list[str], n: int) -> np.ndarray:
    """64-bit hashes of every word n-gram of ``tokens`` (uint64, in order, duplicates kept).

    A text shorter than ``n`` words yields one shingle of all its words (as datatrove does), so short
    documents still get a signature; an empty text yields an empty array.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    h = np.fromiter(map(word_hash, tokens), dtype=np.uint64, count=len(tokens))  # map: no generator frame per word
    m = max(len(tokens) - n + 1, 1)
    width = min(n, len(tokens))
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(width):
            # Horner step: acc = acc * B + h[i + k]; uint64 arithmetic wraps modulo 2**64 by design.
            acc = acc * _BASE + h[k : k + m]
        return _mix(acc + np.uint64(width))


def text_ngram_hashes(text: str, n: int) -> np.ndarray:
    """Hashes of the word n-grams of a text (see :func:`ngram_hashes`)."""
    return ngram_hashes(words(text), n)


def ngram_set(text: str, n: int) -> set[int]:
    """The distinct n-gram hashes of a text, as Python ints (for Jaccard and contamination look-ups)."""
    return {int(x) for x in np.unique(text_ngram_hashes(text, n))}


def jaccard(a: set[int], b: set[int]) -> float:
    """Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
