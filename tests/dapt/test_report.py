"""The run report: headline per domain in one sign convention, tokens per parameter, the synthetic notice.

The inputs are the files the stages write (eval/results.json, model/summary.json), in their formats, at
toy size: the report only lays out what is in the run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

from dapt.config import load_config
from dapt.report import write_run_report

REPO = Path(__file__).resolve().parents[2]


def _bpb(value: float) -> dict:
    return {"docs": 10, "bytes": 5000, "bits_per_byte": value, "bits_per_byte_ci95": [value - 0.05, value + 0.05]}


def _diff(value: float, verdict: str) -> dict:
    return {"diff": value, "ci95": [value - 0.02, value + 0.02], "verdict": verdict}


def _write_run(run_dir: Path) -> None:
    results = {
        "reference": "domain-mix",
        "models": {"domain-mix": "model/hf", "general-only": "baseline/model/hf"},
        "intrinsic": {"domain-mix": {"domain": _bpb(1.76), "general": _bpb(0.68)},
                      "general-only": {"domain": _bpb(3.12), "general": _bpb(0.43)}},
        "intrinsic_vs_reference": {"general-only": {"domain": _diff(1.35, "domain-mix better"),
                                                    "general": _diff(-0.25, "general-only better")}},
        "intrinsic_by_domain": {m: {"legal": _bpb(v), "medical": _bpb(v + 0.1), "financial": _bpb(v + 0.2),
                                    "general": _bpb(g)} for m, v, g in (("domain-mix", 1.7, 0.68), ("general-only", 3.0, 0.43))},
        "intrinsic_by_domain_vs_reference": {"general-only": {
            "legal": _diff(1.3, "domain-mix better"), "medical": _diff(1.3, "domain-mix better"),
            "financial": _diff(-0.01, "within noise"), "general": _diff(-0.25, "general-only better")}},
    }
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "eval" / "results.json").write_text(json.dumps(results))
    (run_dir / "eval" / "report.md").write_text(  # the eval report's own statement of the convention
        "# Evaluation report\n\n**Sign convention** (the one used everywhere below): a difference is ...\n")
    for folder, loss in (("model", 3.25), ("baseline/model", 1.43)):
        (run_dir / folder).mkdir(parents=True)
        summary = {"steps": 98, "tokens": 401_408, "n_params": 393_536, "initial_train_loss": 7.7,
                   "final_train_loss": loss, "stop_reason": "token_target",
                   "val_losses": {"domain": loss + 1.0, "general": loss + 0.5}}
        (run_dir / folder / "summary.json").write_text(json.dumps(summary))
        (run_dir / folder / "metrics.jsonl").write_text(json.dumps({"step": 1, "tokens": 4096, "loss": 7.7}) + "\n")


def test_run_report_states_domains_signs_tokens_per_parameter_and_the_synthetic_corpus(tmp_path):
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    cfg = load_config(REPO / "configs" / "tiny.yaml", run_dir=run_dir)
    md = Path(write_run_report(cfg, run_dir)["report"]).read_text()
    headline = md.split("## 1.")[0]
    # every domain, not only the pooled group; the difference in the eval's sign, not flipped
    for domain in ("legal", "medical", "financial", "general", "all domains pooled"):
        assert domain in headline
    assert "| general-only − domain-mix | +1.3500 [+1.3300, +1.3700] (domain-mix better) |" in headline
    assert md.count("Sign convention") == 1
    # tokens per parameter for every trained model, against Chinchilla's 20
    assert md.count(f"| {401_408 / 393_536:.2f} |") == 2 and "20 tokens per parameter" in md
    # training losses were measured on different mixtures: not compared; validation losses on the same tokens are
    pretraining = md.split("## 5. Pre-training")[1].split("## 6.")[0]
    assert "3.2500" not in pretraining and "1.4300" not in pretraining  # the two final training losses
    assert "| 4.2500 | 3.7500 |" in pretraining and "| 2.4300 | 1.9300 |" in pretraining
    assert "Training losses are not compared" in pretraining and "same held-out tokens" in pretraining
    # the tiny config generates its corpus: said so before any number
    assert "Synthetic corpus" in headline


def test_run_report_on_real_text_carries_no_synthetic_notice(tmp_path):
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    cfg = load_config(REPO / "configs" / "finance.yaml", run_dir=run_dir)
    md = Path(write_run_report(cfg, run_dir)["report"]).read_text()
    assert cfg.sample is None and "Synthetic corpus" not in md
