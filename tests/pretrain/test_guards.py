"""EarlyStopping and SpikeGuard on their own, then a real run with an injected NaN, spike and poisoning."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from dapt.pretrain.config import EarlyStoppingConfig, SpikeConfig
from dapt.pretrain.guards import GRAD_SPIKE, LOSS_SPIKE, NONFINITE_GRAD, NONFINITE_LOSS, EarlyStopping, SpikeGuard


def test_early_stopping_patience_and_min_delta() -> None:
    stop = EarlyStopping(EarlyStoppingConfig(patience=2, min_delta=0.05))
    assert stop.update(3.0, 10) and stop.best_step == 10
    assert not stop.update(2.97, 20)  # better, but not by more than min_delta
    assert stop.update(2.90, 30) and stop.bad_evals == 0
    assert not stop.update(2.89, 40) and not stop.should_stop
    assert not stop.update(float("nan"), 50) and stop.should_stop
    restored = EarlyStopping(EarlyStoppingConfig(patience=2, min_delta=0.05))
    restored.load_state_dict(json.loads(json.dumps(stop.state_dict())))
    assert (restored.best, restored.best_step, restored.bad_evals, len(restored.history)) == (2.90, 30, 2, 5)
    assert restored.should_stop
    assert not EarlyStopping(EarlyStoppingConfig(enabled=False, patience=1)).should_stop


@pytest.mark.parametrize(
    ("history", "loss", "expected"),
    [
        ([2.0] * 10, float("nan"), NONFINITE_LOSS),
        ([2.0] * 10, float("inf"), NONFINITE_LOSS),
        ([2.0] * 10, 6.5, LOSS_SPIKE),  # > 3 x the running mean
        ([2.0] * 10, 5.9, None),
        ([2.0] * 3, 100.0, None),  # fewer than warmup_steps good steps: no spike test yet
    ],
)
def test_spike_guard_loss(history: list[float], loss: float, expected: str | None) -> None:
    guard = SpikeGuard(SpikeConfig(loss_factor=3.0, warmup_steps=5))
    for value in history:
        guard.record_good(value, 1.0)
    assert guard.check_loss(loss) == expected


def test_spike_guard_grad_norm_and_rollback_rule() -> None:
    guard = SpikeGuard(SpikeConfig(grad_factor=10.0, warmup_steps=2, rollback_after=3, rollback_within=5))
    for _ in range(4):
        guard.record_good(2.0, 0.5)
    assert guard.check_grad_norm(4.0) is None and guard.check_grad_norm(6.0) == GRAD_SPIKE
    assert guard.check_grad_norm(float("inf")) == NONFINITE_GRAD
    assert not guard.record_spike(LOSS_SPIKE, 10)
    assert not guard.record_spike(LOSS_SPIKE, 16)  # step 10 is out of the 5-step window now
    assert not guard.record_spike(GRAD_SPIKE, 17)
    assert guard.record_spike(NONFINITE_LOSS, 18)  # three within 5 steps: roll back
    guard.record_rollback()
    assert guard.rollbacks == 1 and guard.total == 4 and guard.counts[LOSS_SPIKE] == 2
    restored = SpikeGuard(guard.cfg)
    restored.load_state_dict(json.loads(json.dumps(guard.state_dict())))
    assert restored.state_dict() == guard.state_dict()
    assert SpikeGuard(SpikeConfig(enabled=False)).check_loss(float("nan")) is None


def test_run_survives_nan_spike_and_poisoned_weights(tmp_path: Path) -> None:
    """Step 5: NaN logits once -> skipped. Step 12: logits x 50 once -> loss spike, skipped.
    Step 22: weights poisoned -> every batch spikes -> rolled back to step 20 and its data window skipped."""
    from dapt.pretrain.tiny import SEQ, make_inputs, read_metrics, tiny_config

    from dapt.pretrain.train import run_pretrain

    inputs = make_inputs(tmp_path)
    fired: set[int] = set()

    def once(module: torch.nn.Module, fn) -> None:
        handle = None

        def hook(mod, args, output):
            handle.remove()
            output.logits = fn(output.logits)
            return output

        handle = module.register_forward_hook(hook)

    def inject(step: int, module: torch.nn.Module) -> None:
        if step in fired:
            return
        if step == 5:
            once(module, lambda x: x * float("nan"))
        elif step == 12:
            once(module, lambda x: x * 50.0)
        elif step == 22:
            with torch.no_grad():
                for p in module.parameters():
                    p.add_(torch.randn_like(p) * 5.0)
        else:
            return
        fired.add(step)

    cfg = tiny_config(spike=SpikeConfig(warmup_steps=5, loss_factor=3.0, rollback_after=3, rollback_within=5),
                      checkpoint_interval=10, eval_interval=100)
    out = tmp_path / "model"
    summary = run_pretrain(cfg, **inputs, out_dir=out, token_target=30 * 8 * SEQ, step_hook=inject)
    assert summary["stop_reason"] == "token_target" and summary["steps"] == 30
    assert summary["spikes"][NONFINITE_LOSS] == 1
    assert summary["spikes"][LOSS_SPIKE] == 1 + 3  # the injected one + the three poisoned batches
    assert summary["rollbacks"] == 1
    events = [r for r in read_metrics(out / "metrics.jsonl") if "event" in r]
    assert [e["event"] for e in events] == [NONFINITE_LOSS, LOSS_SPIKE, LOSS_SPIKE, LOSS_SPIKE, LOSS_SPIKE, "rollback"]
    rollback = events[-1]
    assert rollback["step"] == 20 and rollback["from_step"] == 22 and rollback["skipped_micro_batches"] == 5
    # skipped: 1 + 1 + 3 spiking micro-batches, and the 2 good ones between the checkpoint and the spike
    assert summary["skipped_samples"] == (1 + 1 + 3 + 2) * 8
    assert math.isfinite(summary["final_train_loss"]) and summary["final_train_loss"] < summary["initial_train_loss"] - 1.0


@pytest.mark.parametrize("stage", [0, 2])
def test_grad_norm_spike_is_refused_before_the_update(tmp_path: Path, stage: int) -> None:
    """Step 12: one parameter's gradient x 1000 (the loss itself is normal). The update must not happen:
    the weights seen when step 12 is retried are exactly those of before, and the next real step moves them.
    ZeRO-0 measures the norm itself; ZeRO-2 reads DeepSpeed's norm of the partitioned gradients."""
    from dapt.pretrain.tiny import SEQ, make_inputs, read_metrics, tiny_config

    from dapt.pretrain.train import run_pretrain

    inputs = make_inputs(tmp_path)
    calls: list[int] = []
    snapshots: dict[int, list[torch.Tensor]] = {}
    handles: list = []

    def inject(step: int, module: torch.nn.Module) -> None:
        calls.append(step)
        for handle in handles:
            handle.remove()
        handles.clear()
        if step in (12, 13) and step not in snapshots:
            snapshots[step] = [p.detach().clone() for p in module.parameters()]
        elif step == 12:  # step 12 again: the refused update left every weight as it was
            assert all(torch.equal(a, p) for a, p in zip(snapshots[12], module.parameters(), strict=True))
        if step == 12 and calls.count(12) == 1:
            handles.append(next(module.parameters()).register_hook(lambda g: g * 1000.0))

    cfg = tiny_config(zero_stage=stage, spike=SpikeConfig(warmup_steps=5, grad_factor=10.0), eval_interval=100)
    out = tmp_path / "model"
    summary = run_pretrain(cfg, **inputs, out_dir=out, token_target=20 * 8 * SEQ, step_hook=inject)
    assert calls.count(12) == 2 and summary["steps"] == 20
    assert summary["spikes"] == {GRAD_SPIKE: 1} and summary["skipped_samples"] == 8
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[12], snapshots[13], strict=True))  # a real step moves them
    records = read_metrics(out / "metrics.jsonl")
    events = [r for r in records if "event" in r]
    assert [(e["event"], e["step"]) for e in events] == [(GRAD_SPIKE, 12)]
    norms = [r["grad_norm"] for r in records if "loss" in r and "event" not in r]
    assert len(norms) == 20 and all(n is not None and math.isfinite(n) for n in norms)  # logged on every stage
    assert events[0]["grad_norm"] > 10.0 * max(norms[6:12])


def test_rollback_in_the_middle_of_a_batch_discards_its_partial_gradients(tmp_path: Path) -> None:
    """Two micro-batches per step (ZeRO-0, so the accumulated gradients sit in p.grad). At step 22 the first
    micro-batch is fine and backpropagated, then three spike in a row: rollback. The half-accumulated
    gradient must not leak into the first step after the rollback."""
    from dapt.pretrain.tiny import SEQ, make_inputs, tiny_config

    from dapt.pretrain.train import run_pretrain

    inputs = make_inputs(tmp_path, total_tokens=40_000)
    seen: list[int] = []
    grads_after_rollback: list[bool] = []

    def inject(step: int, module: torch.nn.Module) -> None:
        seen.append(step)
        if step == 22 and seen.count(22) == 1:
            forwards = [0]

            def hook(mod, args, output):
                forwards[0] += 1
                if forwards[0] == 4:
                    handle.remove()
                if forwards[0] >= 2:
                    output.logits = output.logits * 50.0
                return output

            handle = module.register_forward_hook(hook)
        elif seen[-2:] == [22, 20]:  # the first step after rolling back to the step-20 checkpoint
            grads_after_rollback.append(all(p.grad is None or not p.grad.any() for p in module.parameters()))

    cfg = tiny_config(zero_stage=0, global_batch=16, micro_batch=8, checkpoint_interval=10, eval_interval=100,
                      spike=SpikeConfig(warmup_steps=5, loss_factor=3.0, rollback_after=3, rollback_within=5))
    summary = run_pretrain(cfg, **inputs, out_dir=tmp_path / "model", token_target=26 * 16 * SEQ, step_hook=inject)
    assert summary["rollbacks"] == 1 and summary["spikes"] == {LOSS_SPIKE: 3}
    assert grads_after_rollback == [True]
    assert summary["steps"] == 26 and math.isfinite(summary["final_train_loss"])
