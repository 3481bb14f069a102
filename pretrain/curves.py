"""Loss curves out of a run's metrics.jsonl, the file pretrain/train.py writes (one JSON object a line).

Interval rows hold ``loss`` (train), validation rows ``val.<group>`` and ``val.monitored`` (the
early-stopping value, a copy of one of them); event rows (``event``: a loss spike, a skipped step, a
rollback) may hold a ``loss`` too, but they are not points of the curve. Reading it needs no torch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path


def loss_curves(metrics_path: Path, x: str = "step") -> dict[str, list[tuple[float, float]]]:
    """``{"train": [(x, loss), ...], "domain": [...], "general": [...]}`` (one list per validation group
    in the file) with x the row's ``step`` or ``tokens``; empty where the file is missing."""
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list, train=[])
    if not Path(metrics_path).is_file():
        return dict(curves)
    for line in Path(metrics_path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if "event" in r:
            continue
        if "loss" in r:
            curves["train"].append((r[x], _number(r["loss"])))
        for key, value in r.items():
            if key.startswith("val.") and key != "val.monitored":
                curves[key[len("val."):]].append((r[x], _number(value)))
    return dict(curves)


def _number(value: float | None) -> float:
    """A loss as written by strict_json: null (a NaN or inf the run hit) reads back as NaN."""
    return float("nan") if value is None else value
