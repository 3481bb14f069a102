"""MinHash, n-gram shingles and connected components: pure functions, no Beam."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dapt.pipeline.rules.minhash import (
    MinHasher,
    choose_survivor,
    connected_components,
    detection_probability,
    estimated_jaccard,
)
from dapt.pipeline.rules.ngrams import jaccard, ngram_hashes, ngram_set, words


def _text(seed: int, n: int = 400) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(n))


def _edit(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)
    toks = text.split()
    for i in rng.sample(range(len(toks)), int(rate * len(toks))):
        toks[i] = f"x{rng.randrange(10**6)}"
    return " ".join(toks)


def test_words_lowercase_and_drop_punctuation():
    assert words("The Court, in Re: X-ray 42!") == ["the", "court", "in", "re", "x", "ray", "42"]


@pytest.mark.parametrize(
    "text, n, expected",
    [("", 5, 0), ("one two", 5, 1), ("a b c d e", 5, 1), ("a b c d e f g", 5, 3), ("a b c", 1, 3)],
)
def test_ngram_counts(text, n, expected):
    assert ngram_hashes(words(text), n).shape == (expected,)


def test_ngram_hash_depends_on_order_and_is_stable():
    a = ngram_hashes(["a", "b", "c"], 3)
    assert a.dtype == np.uint64
    assert a[0] != ngram_hashes(["c", "b", "a"], 3)[0]
    assert a[0] == ngram_hashes(["a", "b", "c"], 3)[0]  # no per-process salt (unlike Python's hash())


def test_signature_is_deterministic_and_matches_jaccard():
    h = MinHasher()
    base = _text(1)
    near = _edit(base, 0.05, 2)
    other = _text(3)
    sig_base, sig_near, sig_other = h.signature(base), h.signature(near), h.signature(other)
    assert sig_base.shape == (112,) and sig_base.dtype == np.uint32
    assert np.array_equal(sig_base, MinHasher().signature(base))
    true_j = jaccard(ngram_set(base, 5), ngram_set(near, 5))
    # 112 hashes: the estimate's standard error is sqrt(J(1-J)/112) <= 0.05
    assert abs(estimated_jaccard(sig_base, sig_near) - true_j) < 0.15
    assert estimated_jaccard(sig_base, sig_other) < 0.05


def test_band_keys_share_a_band_for_near_duplicates_only():
    h = MinHasher()
    base = _text(4)
    keys = set(h.band_keys(h.signature(base)))
    assert len(keys) == 14
    assert keys & set(h.band_keys(h.signature(_edit(base, 0.02, 5))))
    assert not keys & set(h.band_keys(h.signature(_text(6))))


def test_s_curve_fineweb_defaults():
    assert detection_probability(0.8, 14, 8) > 0.9
    assert detection_probability(0.5, 14, 8) < 0.06


def test_connected_components_and_survivor():
    clusters = connected_components([("c", "b"), ("b", "a"), ("x", "y"), ("a", "c")])
    assert clusters == {"a": ["a", "b", "c"], "x": ["x", "y"]}
    assert choose_survivor(["a", "b", "c"], {"a": 0.1, "b": 0.9, "c": 0.9}) == "b"
    assert choose_survivor(["b", "a"], {}) == "a"
