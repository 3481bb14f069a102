"""The whole chain (`dapt run`) on a small embedded sample: every stage real, properties checked."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from dapt.cli import main

REPO = Path(__file__).resolve().parents[1]

# The tiny config shrunk further so the chain (two pre-training runs included) takes about a minute.
SMALL = [
    "--sample.docs_per_domain=60", "--sample.general_docs=90", "--sample.web_docs=120",
    "--tokenizer.vocab_size=768", "--tokenizer.min_sample_bytes=5000",
    "--pretrain.model.seq_len=64", "--pretrain.token_target=40000", "--pretrain.global_batch=16",
    "--pretrain.micro_batch=8", "--pretrain.eval_interval=10", "--pretrain.checkpoint_interval=20",
    "--eval.max_docs=8", "--eval.tasks=[dapt_fpb, dapt_arc]", "--eval.bootstrap_iters=50",
]


@pytest.mark.slow
def test_dapt_run_end_to_end(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", str(REPO / "configs" / "tiny.yaml"), "--run-dir", str(run_dir), *SMALL]) == 0
    out = capsys.readouterr().out
    assert f"report: {run_dir / 'report' / 'report.md'}" in out

    # Curate: every record has exactly one outcome, per source and in total.
    stats = json.loads((run_dir / "curated" / "stats.json").read_text())
    truth = json.loads((run_dir / "raw" / "ground_truth.json").read_text())
    for name, entry in stats["sources"].items():
        docs = entry["docs"]
        assert docs["in"] == docs["kept"] + sum(docs["dropped"].values()) + docs["duplicates"] + docs["malformed"]
    # ... and the planted defects are caught: every malformed line dead-lettered, every exact copy removed.
    assert stats["total"]["docs"]["malformed"] == truth["outcomes"]["malformed"]
    assert stats["total"]["docs"]["duplicates"] == truth["outcomes"]["exact_duplicate"]
    selected = json.loads((run_dir / "selected" / "stats.json").read_text())
    assert selected["reconciled"] is True
    assert selected["totals"]["in"]["docs"] == stats["total"]["docs"]["kept"]

    # Tokenizer: loads in transformers and round-trips domain text.
    tok = AutoTokenizer.from_pretrained(run_dir / "tokenizer")
    text = "The court held that res judicata barred the claim; Sig: 1 tab po qid pc & hs; EBITDA $1,234.56."
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text

    # Pre-training: both models learned something and stopped by themselves.
    for folder in ("model", "baseline/model"):
        summary = json.loads((run_dir / folder / "summary.json").read_text())
        assert summary["final_train_loss"] < summary["initial_train_loss"] - 0.5
        assert summary["stop_reason"] in {"token_target", "early_stopping"}
        assert (run_dir / folder / "hf" / "config.json").is_file()

    # Eval: finite bits-per-byte for both groups and both models.
    results = json.loads((run_dir / "eval" / "results.json").read_text())
    for model in ("domain-mix", "general-only"):
        for group in ("domain", "general"):
            assert math.isfinite(results["intrinsic"][model][group]["bits_per_byte"])
    report = (run_dir / "report" / "report.md").read_text()
    assert "Data funnel" in report and "![loss curves](losses.png)" in report
    assert not re.search(r"\bnan\b", report, re.IGNORECASE)  # every figure in the report is a real number

    # A second run changes nothing: every stage is cached.
    assert main(["run", str(REPO / "configs" / "tiny.yaml"), "--run-dir", str(run_dir), *SMALL]) == 0
    out = capsys.readouterr().out
    assert " ran " not in out and "pretrain           cached" in out


@pytest.mark.slow
def test_a_changed_lr_trains_a_new_model_and_a_new_shape_is_one_line(tmp_path, capsys):
    """Issue 18: `dapt run` then `--pretrain.lr=1e-3` "resumed" the finished run and exported its weights
    as the lr=1e-3 model; `--pretrain.model.n_layers=3` ended in DeepSpeed's traceback."""
    import hashlib

    run_dir = tmp_path / "run"
    argv = ["run", str(REPO / "configs" / "tiny.yaml"), "--run-dir", str(run_dir), "--until", "pretrain",
            "--baseline.enabled=false", *SMALL, "--pretrain.token_target=8192"]  # 8 steps

    def weights() -> str:
        return hashlib.sha256((run_dir / "model" / "hf" / "model.safetensors").read_bytes()).hexdigest()

    def one_error_line() -> str:
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("dapt: error:")]
        assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and "Traceback" not in err
        return errors[0]

    assert main(argv) == 0
    first = weights()
    assert main([*argv, "--pretrain.lr=1e-3"]) == 2
    refused = one_error_line()
    assert "pretrain.lr 0.003 -> 0.001" in refused and "--fresh" in refused
    assert weights() == first  # nothing was trained or exported under the new name
    assert main([*argv, "--pretrain.lr=1e-3", "--fresh"]) == 0
    assert weights() != first
    assert "lr: 0.001" in (run_dir / "config.resolved.yaml").read_text()
    assert json.loads((run_dir / "model" / "manifest.json").read_text())["config"]["pretrain"]["lr"] == 1e-3
    assert json.loads((run_dir / "model" / "_SUCCESS.json").read_text())["summary"]["steps"] == 8
    assert (run_dir / "model" / "checkpoints.stale-step-00000008").is_dir()  # the lr=3e-3 run, kept
    assert main([*argv, "--pretrain.lr=1e-3", "--pretrain.model.n_layers=3"]) == 2
    assert "pretrain.model.n_layers 2 -> 3" in one_error_line()


@pytest.mark.slow
def test_a_sweep_shares_the_finished_data_stages_of_another_run(tmp_path, capsys):
    """Issue 18, sweeps: `--run.name=lr1e-3` recomputed every data stage; `--data-from` links them instead."""
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["run", str(REPO / "configs" / "tiny.yaml"), "--until", "mix", *SMALL]
    assert main([*common, "--run-dir", str(a)]) == 0
    capsys.readouterr()
    assert main([*common, "--run-dir", str(b), "--data-from", str(a), "--pretrain.lr=1e-3"]) == 0
    out = capsys.readouterr().out
    assert " ran " not in out and "tokenize           shared" in out
    assert (b / "tokens").is_symlink() and (b / "tokens").resolve() == (a / "tokens").resolve()
    # a change from tokenize on: the stages before it stay shared, tokenize runs into b's own folder, a is untouched
    a_marker = (a / "tokens" / "_SUCCESS.json").read_text()
    assert main([*common, "--run-dir", str(b), "--data-from", str(a), "--tokenize.val_fraction=0.2"]) == 0
    out = capsys.readouterr().out
    assert "tokenizer          cached" in out and "tokenize           ran" in out
    assert (b / "tokens").is_dir() and not (b / "tokens").is_symlink()
    assert (a / "tokens" / "_SUCCESS.json").read_text() == a_marker


@pytest.mark.slow
def test_a_changed_lr_in_a_sweep_gives_two_models_each_with_its_own_config(tmp_path, capsys):
    """Issue 18, done-when: `dapt run` twice with a changed --pretrain.lr gives two different models with the
    right configs recorded; the second run shares the first's data stages and leaves its model alone."""
    import hashlib

    a, b = tmp_path / "a", tmp_path / "b"
    common = ["run", str(REPO / "configs" / "tiny.yaml"), "--until", "pretrain", "--baseline.enabled=false",
              *SMALL, "--pretrain.token_target=8192"]  # 8 steps

    def weights(run: Path) -> str:
        return hashlib.sha256((run / "model" / "hf" / "model.safetensors").read_bytes()).hexdigest()

    assert main([*common, "--run-dir", str(a)]) == 0
    first = weights(a)
    capsys.readouterr()
    assert main([*common, "--run-dir", str(b), "--data-from", str(a), "--pretrain.lr=1e-3"]) == 0
    out = capsys.readouterr().out
    assert "tokenize           shared" in out and "pretrain           ran" in out
    assert weights(a) == first != weights(b)
    for run, lr in ((a, 3e-3), (b, 1e-3)):
        assert f"lr: {lr}" in (run / "config.resolved.yaml").read_text()
        assert json.loads((run / "model" / "manifest.json").read_text())["config"]["pretrain"]["lr"] == lr
        assert json.loads((run / "model" / "_SUCCESS.json").read_text())["summary"]["steps"] == 8
