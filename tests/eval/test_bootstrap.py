"""The bits-per-byte bootstrap on constructed per-document log-likelihoods with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dapt.eval.bootstrap import bits_per_byte, bpb_interval, paired_difference, verdict


def docs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n documents of 200-5000 bytes whose difficulty varies a lot (0.8-3 bits per byte)."""
    rng = np.random.default_rng(seed)
    nbytes = rng.integers(200, 5000, n).astype(float)
    return -nbytes * rng.uniform(0.8, 3.0, n) * math.log(2), nbytes


def test_bits_per_byte_is_the_ratio_of_sums() -> None:
    assert bits_per_byte(np.array([-2 * math.log(2), -6 * math.log(2)]), np.array([1.0, 3.0])) == pytest.approx(2.0)


def test_interval_holds_the_estimate_and_narrows_with_more_documents() -> None:
    small, large = docs(30), docs(3000)
    ci_small, ci_large = bpb_interval(*small, iters=1000), bpb_interval(*large, iters=1000)
    assert ci_small[0] < bits_per_byte(*small) < ci_small[1]
    assert ci_large[0] < bits_per_byte(*large) < ci_large[1]
    assert (ci_large[1] - ci_large[0]) < 0.25 * (ci_small[1] - ci_small[0])  # ~ 1/sqrt(100) = 0.1
    assert bpb_interval(*small, iters=0) is None
    assert bpb_interval(*small, iters=500, seed=3) == bpb_interval(*small, iters=500, seed=3)


def test_paired_difference_sees_a_small_uniform_gain_that_unpaired_intervals_miss() -> None:
    loglik, nbytes = docs(40)
    better = loglik + 0.02 * nbytes * math.log(2)  # 0.02 bits per byte better on every document
    cmp = paired_difference(loglik, better, nbytes, iters=1000, ref_name="a", other_name="b")
    assert cmp["diff"] == pytest.approx(-0.02)
    assert cmp["ci95"][1] < 0 and cmp["verdict"] == "b better"
    # side by side, the two models' own intervals overlap: only the pairing resolves the difference
    ci_a, ci_b = bpb_interval(loglik, nbytes, 1000), bpb_interval(better, nbytes, 1000)
    assert ci_b[1] > ci_a[0]


def test_paired_difference_of_a_model_with_itself_and_of_noise() -> None:
    loglik, nbytes = docs(50)
    same = paired_difference(loglik, loglik, nbytes, iters=200, ref_name="a", other_name="b")
    assert same == {"diff": 0.0, "ci95": [0.0, 0.0], "verdict": "within noise"}
    rng = np.random.default_rng(1)
    noisy = loglik + rng.normal(0, 0.05, 50) * nbytes * math.log(2)  # no systematic gain
    assert paired_difference(loglik, noisy, nbytes, iters=1000, ref_name="a", other_name="b")["verdict"] == "within noise"


def test_paired_difference_refuses_unpaired_input_and_reports_a_diverged_model() -> None:
    loglik, nbytes = docs(10)
    with pytest.raises(ValueError, match="same documents"):
        paired_difference(loglik, loglik[:9], nbytes, iters=10, ref_name="a", other_name="b")
    diverged = loglik.copy()
    diverged[3] = -np.inf
    assert paired_difference(loglik, diverged, nbytes, iters=10, ref_name="a", other_name="b")["verdict"] == "missing"


@pytest.mark.parametrize("diff, lo, hi, lower_is_better, said", [
    (0.01, -0.02, 0.04, False, "within noise"),
    (0.05, 0.01, 0.09, False, "b better"),   # accuracy: higher is better
    (-0.05, -0.09, -0.01, False, "a better"),
    (-0.05, -0.09, -0.01, True, "b better"),  # bits per byte: lower is better
    (0.05, 0.01, 0.09, True, "a better"),
])
def test_one_verdict_for_every_comparison(diff, lo, hi, lower_is_better, said) -> None:
    assert verdict(diff, lo, hi, "a", "b", lower_is_better=lower_is_better) == said
