"""Mixture plan, MixtureSampler and validation batches over real token files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapt.errors import UserError
from dapt.pipeline.tokens.shards import TokenFile, write_token_file
from dapt.pretrain.scaling_laws import R_STAR_D
from dapt.pretrain.data import (
    MixConfig,
    MixturePlan,
    MixtureSampler,
    blend_counts,
    build_blend,
    effective_tokens,
    run_mix,
    validation_batches,
)

EOS = 0
# name -> (group, train tokens, val tokens); each source's tokens live in its own id range (base+1..)
SOURCES = {"fin": ("domain", 5_000, 300), "law": ("domain", 2_000, 100), "web": ("general", 9_000, 500), "books": ("general", 1_000, 0)}
BASE = {"fin": 1000, "law": 2000, "web": 3000, "books": 4000}


def make_tokens(root: Path, sources: dict = SOURCES) -> Path:
    """Token files as the tokenize stage writes them: documents of 1..40 tokens closed by EOS."""
    rng = np.random.default_rng(0)
    manifest = {"dtype": "uint16", "eos_id": EOS, "vocab_size": 5000, "sources": {}}
    for name, (group, n_train, n_val) in sources.items():
        entry = {"group": group, "domain": "general" if group == "general" else "financial"}
        for split, n in (("train", n_train), ("val", n_val)):
            docs, total = [], 0
            while total < n:
                size = int(min(rng.integers(1, 40), n - total))
                docs.append(BASE[name] + 1 + np.arange(total, total + size) % 900)
                total += size + 1
            tokens, n_docs = write_token_file(root / split / name, docs, "uint16", EOS)
            entry[f"{split}_tokens"], entry[f"{split}_docs"] = tokens, n_docs
        manifest["sources"][name] = entry
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture()
def tokens(tmp_path: Path) -> Path:
    return make_tokens(tmp_path / "tokens")


def source_of_row(row: np.ndarray) -> set[str]:
    return {name for name, base in BASE.items() if np.any((row > base) & (row <= base + 900))}


# -- the plan -------------------------------------------------------------------------------------
def test_run_mix_default_shares(tokens: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plan = run_mix(MixConfig(), tokens, tmp_path / "mix", total_tokens=100_000)
    rows = {r["name"]: r for r in plan["sources"]}
    assert sum(r["share"] for r in rows.values()) == pytest.approx(1.0)
    assert rows["fin"]["share"] + rows["law"]["share"] == pytest.approx(0.51)
    # inside a group, default weights are proportional to tokens: every source is read equally often
    assert rows["fin"]["epochs"] == pytest.approx(rows["law"]["epochs"], rel=1e-3)
    general = rows["web"]["available_tokens"] + rows["books"]["available_tokens"]
    assert rows["web"]["planned_tokens"] == round(0.49 * 100_000 * rows["web"]["available_tokens"] / general)
    assert (tmp_path / "mix" / "mix.md").read_text().count("|") > 20
    assert "fin" in capsys.readouterr().out
    loaded = MixturePlan.load(tmp_path / "mix" / "mix.json")
    assert [s.name for s in loaded.active] == ["fin", "law", "books", "web"]
    # 100k tokens from 7k domain tokens is > 4 epochs: warned, with effective data below planned
    assert plan["warnings"] and all(r["effective_tokens"] < r["planned_tokens"] for r in rows.values())


def test_general_only_plan(tokens: Path, tmp_path: Path) -> None:
    plan = run_mix(MixConfig(shares={"domain": 0.0, "general": 1.0}), tokens, tmp_path, total_tokens=1000)
    shares = {r["name"]: r["share"] for r in plan["sources"]}
    assert shares["fin"] == shares["law"] == 0 and shares["web"] + shares["books"] == pytest.approx(1.0)
    sampler = MixtureSampler(MixturePlan.load(tmp_path / "mix.json"), tokens, seq_len=16, seed=0)
    assert all(source_of_row(sampler[k]) <= {"web", "books"} for k in range(50))


def test_zero_weight_source_is_never_sampled(tokens: Path, tmp_path: Path) -> None:
    cfg = MixConfig(weights={"fin": 1.0, "law": 0.0})
    run_mix(cfg, tokens, tmp_path, total_tokens=1000)
    sampler = MixtureSampler(tmp_path / "mix.json", tokens, seq_len=8, seed=1)
    assert not any("law" in source_of_row(sampler[k]) for k in range(200))


@pytest.mark.parametrize(
    "cfg, message",
    [
        (MixConfig(shares={"domain": 0.6, "general": 0.6}), "sum to 1.2"),
        (MixConfig(shares={"domain": 0.5, "code": 0.5}), "unknown group"),
        (MixConfig(weights={"fin": -1.0, "law": 1.0}), ">= 0"),
        (MixConfig(weights={"fin": 0.0, "law": 0.0}), "weight 0"),
        (MixConfig(weights={"nope": 1.0}), "unknown source"),
        (MixConfig(weights={"fin": 1.0}), "but not \\['law'\\]"),
    ],
)
def test_impossible_plans_say_what_to_change(tokens: Path, tmp_path: Path, cfg: MixConfig, message: str) -> None:
    with pytest.raises(UserError, match=message):
        run_mix(cfg, tokens, tmp_path, total_tokens=1000)


def test_share_for_an_empty_group(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path / "t", {"web": SOURCES["web"]})
    with pytest.raises(UserError, match="no domain sources; set mix.shares.domain: 0"):
        run_mix(MixConfig(), tokens, tmp_path / "mix", total_tokens=1000)


def test_source_without_a_group_is_refused(tokens: Path, tmp_path: Path) -> None:
    manifest = json.loads((tokens / "manifest.json").read_text())
    manifest["sources"]["web"]["group"] = "code"
    (tokens / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="no mixture group"):
        run_mix(MixConfig(), tokens, tmp_path, total_tokens=1000)


def test_effective_tokens_formula() -> None:
    assert effective_tokens(100, 0.5) == 50 and effective_tokens(100, 1.0) == 100
    assert effective_tokens(100, 5.0) == pytest.approx(100 + 100 * R_STAR_D * (1 - math.exp(-4 / R_STAR_D)))
    assert effective_tokens(100, 1000.0) < 100 * 16.4  # saturates at U * (1 + R*)


def test_mixture_and_plan_discount_repeats_alike() -> None:
    from dapt.pretrain.scaling_laws import effective_data

    assert effective_tokens(1e9, 7.5) == effective_data(1e9, 7.5e9)


# -- blending -------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.001, max_value=1.0), min_size=1, max_size=12), st.integers(1, 600))
def test_blend_every_prefix_within_one_sample(weights: list[float], n: int) -> None:
    shares = np.array(weights) / sum(weights)
    src, counts = build_blend(shares, n)
    prefix = blend_counts(src, len(shares))
    target = np.outer(np.arange(1, n + 1), shares)
    assert np.abs(prefix - target).max() <= 1.0
    assert counts.tolist() == prefix[-1].tolist()


def test_blend_resumes_from_counts() -> None:
    shares = np.array([0.5, 0.3, 0.2])
    whole, _ = build_blend(shares, 1000)
    first, counts = build_blend(shares, 400)
    rest, _ = build_blend(shares, 600, counts, start=400)
    assert np.array_equal(whole, np.concatenate([first, rest]))


# -- the sampler ----------------------------------------------------------------------------------
@pytest.fixture()
def sampler(tokens: Path, tmp_path: Path) -> MixtureSampler:
    run_mix(MixConfig(), tokens, tmp_path / "mix", total_tokens=50_000)
    return MixtureSampler(tmp_path / "mix" / "mix.json", tokens, seq_len=32, seed=7)


def test_samples_are_packed_windows_of_one_source(sampler: MixtureSampler) -> None:
    for k in range(300):
        row = sampler[k]
        assert row.dtype == np.int64 and row.shape == (33,)
        names = source_of_row(row)
        assert names == {sampler.sources[sampler.source_of(k)].name}


def test_sampler_is_seekable_and_deterministic(sampler: MixtureSampler, tokens: Path, tmp_path: Path) -> None:
    stream = [sampler[k] for k in range(400)]
    fresh = MixtureSampler(tmp_path / "mix" / "mix.json", tokens, seq_len=32, seed=7)
    for k in (399, 0, 250, 17):  # random access, no replay
        assert np.array_equal(fresh[k], stream[k])
    other = MixtureSampler(tmp_path / "mix" / "mix.json", tokens, seq_len=32, seed=8)
    assert not all(np.array_equal(other[k], stream[k]) for k in range(20))


def test_each_epoch_reads_every_chunk_once(sampler: MixtureSampler, tokens: Path) -> None:
    i = [s.name for s in sampler.sources].index("law")
    n = sampler.n_chunks[i]
    ks = [k for k in range(20_000) if sampler.source_of(k) == i][: 2 * n]
    assert len(ks) == 2 * n
    stream = TokenFile(tokens / "train" / "law").tokens
    windows = sorted(tuple(np.take(stream, np.arange(c * 32, c * 32 + 33) % len(stream))) for c in range(n))
    epochs = [[tuple(sampler[k]) for k in ks[:n]], [tuple(sampler[k]) for k in ks[n:]]]
    # two epochs: every window of the stream exactly once per epoch, in different orders
    assert sorted(epochs[0]) == windows and sorted(epochs[1]) == windows
    assert epochs[0] != epochs[1]


def test_batches_split_across_ranks_are_the_single_stream(sampler: MixtureSampler) -> None:
    for step in (0, 3):
        whole = sampler.batch(step, 12)
        parts = [sampler.batch(step, 12, rank=r, world=4) for r in range(4)]
        assert all(p.shape == (3, 33) for p in parts)
        assert np.array_equal(np.concatenate(parts), whole)
        assert np.array_equal(whole, np.stack([sampler[step * 12 + j] for j in range(12)]))
    with pytest.raises(UserError, match="divisible"):
        sampler.batch(0, 10, rank=0, world=4)


def test_resume_from_state_dict_repeats_and_skips_nothing(sampler: MixtureSampler, tokens: Path, tmp_path: Path) -> None:
    seen = [sampler.batch(s, 8) for s in range(5)]
    state = sampler.state_dict()
    resumed = MixtureSampler(tmp_path / "mix" / "mix.json", tokens, seq_len=32, seed=7)
    resumed.load_state_dict(state)
    step = resumed.next_sample // 8
    assert step == 5
    after = [resumed.batch(s, 8) for s in range(step, step + 3)]
    straight = [sampler.batch(s, 8) for s in range(8)]
    assert all(np.array_equal(a, b) for a, b in zip(seen + after, straight))
    with pytest.raises(UserError, match="seq_len"):
        MixtureSampler(tmp_path / "mix" / "mix.json", tokens, seq_len=16, seed=7).load_state_dict(state)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3), st.lists(st.integers(0, 5000), min_size=1, max_size=8), st.sampled_from([1, 2, 3, 4, 6]))
def test_random_access_and_ranks_match_the_single_stream(tmp_path_factory: pytest.TempPathFactory, seed: int, ks: list[int], world: int) -> None:
    root = tmp_path_factory.getbasetemp() / "hyp"
    if not (root / "mix" / "mix.json").is_file():
        make_tokens(root / "tokens")
        run_mix(MixConfig(), root / "tokens", root / "mix", total_tokens=50_000)
    plan = MixturePlan.load(root / "mix" / "mix.json")
    a = MixtureSampler(plan, root / "tokens", seq_len=24, seed=seed)
    b = MixtureSampler(plan, root / "tokens", seq_len=24, seed=seed)
    for k in ks:  # sample k alone equals row k of the batched stream
        step, row = divmod(k, 12)
        assert np.array_equal(a[k], b.batch(step, 12)[row])
        parts = [a.batch(step, 12, rank=r, world=world) for r in range(world)]
        assert np.array_equal(np.concatenate(parts), b.batch(step, 12))


def test_epochs_read(sampler: MixtureSampler) -> None:
    for step in range(40):
        sampler.batch(step, 16)
    epochs = sampler.epochs_read()
    planned = {s.name: s.share * 640 * 32 / s.available_tokens for s in sampler.sources}
    assert epochs.keys() == planned.keys()
    assert all(abs(epochs[n] - planned[n]) < 0.05 * planned[n] + 0.01 for n in epochs)


def test_stream_shares_match_the_plan(sampler: MixtureSampler) -> None:
    n = 5000
    counts = np.bincount([sampler.source_of(k) for k in range(n)], minlength=len(sampler.sources))
    assert np.abs(counts - n * sampler.shares).max() <= 1.0


# -- validation --------------------------------------------------------------------------------------
def test_validation_batches_are_fixed_and_per_group(tokens: Path) -> None:
    a = list(validation_batches(tokens, "domain", seq_len=16, batch_size=4, max_batches=None))
    b = list(validation_batches(tokens, "domain", seq_len=16, batch_size=4, max_batches=None))
    assert len(a) > 3 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(x.shape[1] == 17 and x.shape[0] <= 4 and x.dtype == np.int64 for x in a)
    rows = np.concatenate(a)
    assert set().union(*(source_of_row(r) for r in rows)) == {"fin", "law"}
    assert source_of_row(a[0][1]) == {"law"}  # round-robin: the first batch already covers both sources
    general = list(validation_batches(tokens, "general", seq_len=16, batch_size=4, max_batches=2))
    assert len(general) == 2 and all(source_of_row(r) == {"web"} for x in general for r in x)


def test_validation_without_held_out_tokens_is_a_user_error(tmp_path: Path) -> None:
    tokens = make_tokens(tmp_path, {"books": SOURCES["books"], "fin": SOURCES["fin"]})
    with pytest.raises(UserError, match="val_fraction"):
        next(validation_batches(tokens, "general", seq_len=16, batch_size=4))
