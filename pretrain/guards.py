"""Small stateful helpers of the training loop: early stopping and the loss-spike guard.

Both are plain Python (no torch), checkpointed through ``state_dict()`` / ``load_state_dict()``, and
fed numbers that every rank already agrees on (all-reduced losses), so every rank decides the same.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from dapt.pretrain.config import EarlyStoppingConfig, SpikeConfig

# Stable reasons, used as counter names in metrics.jsonl and summary.json.
NONFINITE_LOSS = "spike/nonfinite_loss"
LOSS_SPIKE = "spike/loss"
NONFINITE_GRAD = "spike/nonfinite_grad"
GRAD_SPIKE = "spike/grad_norm"
LOSS_SCALE_SKIP = "skip/loss_scale_overflow"  # fp16's dynamic loss scale at work: not counted as a spike


class EarlyStopping:
    """Patience on a monitored validation loss: improved when it beats the best by more than min_delta."""

    def __init__(self, cfg: EarlyStoppingConfig) -> None:
        self.cfg = cfg
        self.best = math.inf
        self.best_step: int | None = None
        self.bad_evals = 0
        self.history: list[tuple[int, float]] = []

    def update(self, value: float, step: int) -> bool:
        """Records one evaluation; returns True when it is a new best (the caller saves it)."""
        self.history.append((step, float(value)))
        if math.isfinite(value) and value < self.best - self.cfg.min_delta:
            self.best, self.best_step, self.bad_evals = float(value), step, 0
            return True
        self.bad_evals += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.cfg.enabled and self.bad_evals >= self.cfg.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "bad_evals": self.bad_evals, "history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = float(state["best"]), state["best_step"]
        self.bad_evals = int(state["bad_evals"])
        self.history = [(int(s), float(v)) for s, v in state["history"]]


class SpikeGuard:
    """Flags non-finite or spiking losses (before backward) and gradient norms (before the update).

    A value spikes when it exceeds factor x the mean of the last `window` good values, once at least
    `warmup_steps` good values are known. `record_spike` says when spikes come so often
    (`rollback_after` within `rollback_within` steps) that the caller should roll back.
    """

    def __init__(self, cfg: SpikeConfig) -> None:
        self.cfg = cfg
        self.losses: deque[float] = deque(maxlen=cfg.window)
        self.grad_norms: deque[float] = deque(maxlen=cfg.window)
        self.counts: dict[str, int] = {}
        self.recent: list[int] = []  # steps of recent spikes (for the rollback rule)
        self.rollbacks = 0

    def _spikes(self, value: float, history: deque[float], factor: float) -> bool:
        if len(history) < max(2, self.cfg.warmup_steps):
            return False
        return value > factor * (sum(history) / len(history))

    def check_loss(self, loss: float) -> str | None:
        """None when the loss is fine, else the reason to skip this batch."""
        if not self.cfg.enabled:
            return None
        if not math.isfinite(loss):
            return NONFINITE_LOSS
        return LOSS_SPIKE if self._spikes(loss, self.losses, self.cfg.loss_factor) else None

    def check_grad_norm(self, norm: float | None) -> str | None:
        if not self.cfg.enabled or norm is None:
            return None
        if not math.isfinite(norm):
            return NONFINITE_GRAD
        return GRAD_SPIKE if self._spikes(norm, self.grad_norms, self.cfg.grad_factor) else None

    def record_good(self, loss: float, grad_norm: float | None) -> None:
        self.losses.append(float(loss))
        if grad_norm is not None and math.isfinite(grad_norm):
            self.grad_norms.append(float(grad_norm))

    def record_spike(self, reason: str, step: int) -> bool:
        """Counts a spike; True when the caller should roll back to the last good checkpoint."""
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.recent = [s for s in self.recent if s > step - self.cfg.rollback_within] + [step]
        return len(self.recent) >= self.cfg.rollback_after

    def record_rollback(self) -> None:
        self.rollbacks += 1
        self.recent = []

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def state_dict(self) -> dict[str, Any]:
        return {
            "losses": list(self.losses),
            "grad_norms": list(self.grad_norms),
            "counts": dict(self.counts),
            "recent": list(self.recent),
            "rollbacks": self.rollbacks,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.losses = deque((float(x) for x in state["losses"]), maxlen=self.cfg.window)
        self.grad_norms = deque((float(x) for x in state["grad_norms"]), maxlen=self.cfg.window)
        self.counts = {str(k): int(v) for k, v in state["counts"].items()}
        self.recent = [int(s) for s in state["recent"]]
        self.rollbacks = int(state["rollbacks"])
