"""Loss curves read from metrics.jsonl: interval and validation rows are points, event rows are not."""

from __future__ import annotations

import json

import math

import torch

from dapt.pretrain.curves import loss_curves
from dapt.pretrain.metrics import MetricsLog


def test_event_rows_are_not_points(tmp_path):
    rows = [
        {"step": 1, "loss": 4.0, "tokens": 64},
        {"event": "skip/loss_spike", "step": 2, "loss": "nan", "cursor": 1},  # no tokens: not a point
        {"step": 2, "tokens": 128, "val.domain": 3.5, "val.general": 3.7, "val.monitored": 3.5},
        {"step": 3, "loss": 3.0, "tokens": 192},
    ]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    assert loss_curves(path, x="tokens") == {"train": [(64, 4.0), (192, 3.0)], "domain": [(128, 3.5)],
                                             "general": [(128, 3.7)]}
    assert loss_curves(path)["train"] == [(1, 4.0), (3, 3.0)]
    assert loss_curves(tmp_path / "missing.jsonl") == {"train": []}


def test_metrics_rows_are_strict_json_and_a_nan_reads_back_as_nan(tmp_path):
    """metrics.jsonl goes through the one strict-JSON helper: a NaN validation loss is null, not bare NaN."""
    log = MetricsLog(tmp_path, rank=0, tensorboard=False, token_target=100, tokens=0, device=torch.device("cpu"),
                     flops_per_token_peak=None)
    log.emit({"step": 1, "tokens": 64, "loss": 4.0})
    log.emit({"step": 1, "tokens": 64, "val.domain": float("nan"), "val.general": 3.5})
    log.emit({"event": "skip/nonfinite_loss", "step": 2, "loss": float("inf"), "cursor": 1})
    log.close()

    def refuse(constant: str) -> None:
        raise ValueError(f"bare {constant} in metrics.jsonl")

    rows = [json.loads(line, parse_constant=refuse) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[1]["val.domain"] is None and rows[2]["loss"] is None
    curves = loss_curves(tmp_path / "metrics.jsonl")
    assert curves["train"] == [(1, 4.0)] and math.isnan(curves["domain"][0][1]) and curves["general"] == [(1, 3.5)]
