"""Every shipped YAML validates, the cluster configs are self-consistent, the study reads the real corpus.

The finance/legal/medical configs point at user data that does not exist here: validation does not look
at the files, and nothing below reads them.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

import pytest

from dapt.config import load_config
from dapt.pretrain.mixture import plan_mixture
from dapt.pretrain.model import model_shape
from dapt.pretrain.plan import run_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
CLUSTER = ["finance.yaml", "legal.yaml", "medical.yaml"]
BEAM_SCRIPTS = sorted((REPO / "configs" / "beam").glob("*.sh"))


def test_the_configs_this_issue_promises_are_shipped():
    assert {"tiny.yaml", "study.yaml", *CLUSTER} <= set(SHIPPED)


def _load(name):
    path = REPO / "configs" / name
    if "\nstudy:" in path.read_text():  # a `dapt study` config: the run config plus its study section
        from dapt.study import load_study

        return load_study(path)[0]
    return load_config(path)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_validates(name):
    cfg = _load(name)
    assert cfg.curate.sources, f"{name} has no sources"
    names = {s.name for s in cfg.curate.sources}
    groups = {"general" if s.domain == "general" else "domain" for s in cfg.curate.sources}
    assert groups == {"domain", "general"}, f"{name} must feed both mixture groups"
    assert set(cfg.select.selection.keep_token_fraction) <= names


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_writes_tensorboard_logs(name):
    """Issue 18: TensorBoard logs by default; tiny.yaml and study.yaml used to turn it off."""
    assert _load(name).pretrain.tensorboard, name


def _fake_sources(cfg) -> dict[str, dict]:
    return {
        s.name: {"group": "general" if s.domain == "general" else "domain", "domain": s.domain,
                 "train_tokens": 10**12}
        for s in cfg.curate.sources
    }


def test_finance_mixture_reproduces_bloomberggpt_table_1():
    cfg = load_config(REPO / "configs" / "finance.yaml")
    plan = plan_mixture(cfg.mix, _fake_sources(cfg), total_tokens=10**9)
    shares = {row["name"]: row["share"] for row in plan["sources"]}
    # Wu et al. 2023, Table 1: percentages of all training tokens.
    expected = {"fin_web": 42.01, "fin_news": 5.31, "fin_filings": 2.04, "fin_press": 1.21, "fin_internal": 0.70,
                "pile": 25.90, "cc_web": 19.48, "wikipedia": 3.35}
    for name, pct in expected.items():
        assert shares[name] == pytest.approx(pct / 100, abs=5e-4), name
    assert sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", CLUSTER)
def test_cluster_config_is_consistent(name, tmp_path):
    cfg = load_config(REPO / "configs" / name)
    # Every source of a group has a weight or none does (plan_mixture refuses a partial list).
    plan = plan_mixture(cfg.mix, _fake_sources(cfg), total_tokens=10**9)
    assert {row["name"] for row in plan["sources"]} == {s.name for s in cfg.curate.sources}
    # Raw crawl keeps 1-3 % of its tokens; curated sources keep everything.
    web = cfg.select.selection.keep_token_fraction
    assert web and all(0.01 <= f <= 0.03 for f in web.values())
    # The DeepSpeed launch: the global batch splits evenly over micro-batches on every GPU.
    ranks = cfg.plan.num_gpus
    assert cfg.pretrain.global_batch % (cfg.pretrain.micro_batch * ranks) == 0
    assert cfg.plan.micro_batch == cfg.pretrain.micro_batch and cfg.plan.zero_stage == cfg.pretrain.zero_stage
    assert cfg.pretrain.precision == cfg.plan.precision == "bf16"
    # The planner's budget buys a Chinchilla-ish token count for this model, and it fits the named GPU.
    shape = model_shape(cfg.pretrain.model, cfg.tokenizer.padded_vocab_size)
    summary = run_plan(cfg.plan.model_copy(update={"plot": False}), tmp_path, shape=shape)
    assert 2e8 <= summary["n_params"] <= 1e10
    assert 15 <= summary["token_target"] / summary["n_params"] <= 40
    assert summary["memory"]["configured"]["fits"]


def test_study_reads_the_shared_corpus_relative_to_the_repository(shared_corpus):
    cfg = load_config(REPO / "configs" / "study.yaml")
    for source in cfg.curate.sources:
        for pattern in source.paths:
            assert pattern.startswith("../shared/corpus/"), pattern
            assert glob.glob(str(REPO / pattern)), f"{source.name}: {pattern} matches nothing"
    domains = {s.domain for s in cfg.curate.sources}
    assert domains == {"legal", "medical", "financial", "general"}
    assert cfg.baseline.enabled


@pytest.mark.parametrize("script", BEAM_SCRIPTS, ids=lambda p: p.name)
def test_beam_runner_example_is_valid_shell(script):
    text = script.read_text()
    assert "dapt curate" in text or "dapt run" in text
    assert "--setup_file" in text or "--extra_package" in text
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    subprocess.run([bash, "-n", str(script)], check=True)
