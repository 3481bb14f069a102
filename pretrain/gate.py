"""Refusing an optimizer update whose gradient norm spikes, before it touches the weights.

DeepSpeed computes the global gradient norm inside `engine.step()`: after the gradients are reduced
(and, under ZeRO 1-3, partitioned across ranks), before its wrapper calls the inner optimizer's
`step()`. The inner `step()` is therefore the one place that both knows the true pre-clipping norm of
the whole model and can still refuse the update, so the gate wraps it. A refused step leaves the fp32
master weights and the Adam moments exactly as they were (the wrapper copies the unchanged master
weights back and clears the gradients): the batch is skipped as PaLM and OPT skipped batches, which a
zeroed gradient would not do (momentum and weight decay would still move the weights).

ZeRO-0 in fp32 has no wrapper and keeps no norm, and DeepSpeed clips those gradients in place before
the inner step, so there the gate measures the norm itself in `arm()`, before `engine.step()`.
"""

from __future__ import annotations

from typing import Any

import torch

from dapt.pretrain.guards import LOSS_SCALE_SKIP, NONFINITE_GRAD, SpikeGuard

ROLLBACK = "rollback"  # the reason of a refused update that only ends a batch cut short by a rollback


class StepGate:
    """Wraps the engine's inner optimizer: `arm()` before each update, `outcome()` after it."""

    def __init__(self, engine: Any, guard: SpikeGuard) -> None:
        self.engine, self.guard = engine, guard
        self.own_norm = engine.optimizer is engine.basic_optimizer
        self.norm: float | None = None
        self.reason: str | None = None  # why the last armed update was refused; None when it was not
        self.consulted = False  # False after step() when DeepSpeed itself skipped (fp16 overflow)
        self.refuse = False
        inner = engine.basic_optimizer
        step = inner.step

        def gated_step(*args: Any, **kwargs: Any) -> Any:
            return None if self._decide() is not None else step(*args, **kwargs)

        inner.step = gated_step

    def arm(self, refuse: bool = False) -> None:
        """Call right before the `engine.step()` that ends a global batch; `refuse` discards the batch."""
        self.reason, self.consulted, self.refuse = None, False, refuse
        self.norm = _grad_norm(self.engine.module) if self.own_norm else None

    def outcome(self, precision: str) -> tuple[str | None, float | None]:
        """After the armed `engine.step()`: (why the update was refused, or None; the gradient norm)."""
        if self.consulted:
            return self.reason, self.norm
        # DeepSpeed refused the update itself, on non-finite gradients: what fp16's dynamic loss scale
        # expects now and then (it lowers the scale), and a real fault in bf16 or fp32
        return (LOSS_SCALE_SKIP if precision == "fp16" else NONFINITE_GRAD), float("inf")

    def _decide(self) -> str | None:
        # ZeRO 1/2 call the inner step once per parameter group: decide once per update
        if not self.consulted:
            if not self.own_norm:  # every DeepSpeed wrapper sets it before the inner step; the public
                # engine.get_global_grad_norm() copies it only after the step returns
                self.norm = _as_float(self.engine.optimizer._global_grad_norm)
            self.reason = ROLLBACK if self.refuse else self.guard.check_grad_norm(self.norm)
            self.consulted = True
        return self.reason


def _grad_norm(module: torch.nn.Module) -> float | None:
    """L2 norm of all gradients (ZeRO-0 has all-reduced them at the boundary: every rank agrees)."""
    norms = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else None


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)
