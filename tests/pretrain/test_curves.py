"""Loss curves read from metrics.jsonl: interval and validation rows are points, event rows are not."""

from __future__ import annotations

import json

from dapt.pretrain.curves import loss_curves


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
