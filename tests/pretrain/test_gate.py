"""StepGate on a real DeepSpeed engine (CPU, gloo; ZeRO 0, 2 and 3): the norm it judges is the true
pre-clip norm, and a refused update leaves weights and optimizer state untouched."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from dapt.pretrain.config import SpikeConfig
from dapt.pretrain.gate import ROLLBACK, StepGate
from dapt.pretrain.guards import GRAD_SPIKE, LOSS_SCALE_SKIP, NONFINITE_GRAD, SpikeGuard
from dapt.pretrain.engine import init_distributed, optimizer_args


def _engine(stage: int, model: torch.nn.Module, offload: bool = False):
    import deepspeed

    init_distributed()
    zero = {"stage": stage, **({"offload_optimizer": {"device": "cpu"}} if offload else {})}
    config = {"train_batch_size": 4, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 1,
              "gradient_clipping": 1.0, "zero_optimization": zero,
              "optimizer": {"type": "AdamW", "params": {"lr": 1e-2, "betas": [0.9, 0.95], "weight_decay": 0.1}}}
    engine, *_ = deepspeed.initialize(model=model, **optimizer_args(config, model, 0.1))
    return engine


def _loss(model: torch.nn.Module, scale: float = 1.0) -> torch.Tensor:
    x = torch.linspace(-1, 1, 4 * 8).reshape(4, 8)
    return model(x).pow(2).mean() * scale


def _weights(engine) -> list[torch.Tensor]:
    """The full weights (ZeRO-3 keeps only a partition in each parameter: gathered for the copy)."""
    import deepspeed

    params = list(engine.module.parameters())
    with deepspeed.zero.GatheredParameters(params):
        return [p.detach().clone() for p in params]


@pytest.mark.parametrize(("stage", "offload"), [(0, False), (2, False), (3, False), (2, True)])
def test_gate_judges_the_true_norm_and_refuses_a_spike(stage: int, offload: bool) -> None:
    """ZeRO-Offload included: there the inner optimizer is DeepSpeed's CPU Adam, built from the config."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    reference = copy.deepcopy(model)
    engine = _engine(stage, model, offload)
    guard = SpikeGuard(SpikeConfig(warmup_steps=2, grad_factor=10.0))
    gate = StepGate(engine, guard)
    assert [w.shape for w in _weights(engine)] == [p.shape for p in reference.parameters()]  # really gathered

    # an ordinary step: the judged norm is torch's norm of the same gradients, before clipping
    _loss(reference, scale=10.0).backward()
    expected = float(torch.nn.utils.get_total_norm([p.grad for p in reference.parameters()]))
    assert expected > 1.0  # above gradient_clipping: a norm read after clipping would say 1.0
    engine.backward(_loss(engine, scale=10.0))
    gate.arm()
    engine.step()
    reason, norm = gate.outcome("fp32")
    assert reason is None and norm == pytest.approx(expected, rel=1e-5)
    assert not all(torch.equal(a, b) for a, b in zip(reference.parameters(), _weights(engine), strict=True))

    # a 1000x gradient after two good steps: refused, weights and Adam state exactly as they were
    guard.record_good(1.0, norm)
    guard.record_good(1.0, norm)
    before = _weights(engine)
    adam_steps = [int(s["step"]) for s in engine.basic_optimizer.state.values()]
    assert adam_steps and all(n == 1 for n in adam_steps)
    engine.backward(_loss(engine, scale=1e6))
    gate.arm()
    engine.step()
    reason, norm = gate.outcome("fp32")
    assert reason == GRAD_SPIKE and norm > 1000 * expected
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(engine), strict=True))
    assert [int(s["step"]) for s in engine.basic_optimizer.state.values()] == adam_steps

    # a refused batch (ending one cut short by a rollback) is dropped whole: the next update judges
    # only its own gradient, that of a fresh copy at the unchanged weights
    engine.backward(_loss(engine, scale=3.0))
    gate.arm(refuse=True)
    engine.step()
    assert gate.outcome("fp32")[0] == ROLLBACK
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(engine), strict=True))
    fresh = copy.deepcopy(reference)
    with torch.no_grad():
        for p, w in zip(fresh.parameters(), before, strict=True):
            p.copy_(w)
            p.grad = None
    _loss(fresh).backward()
    engine.backward(_loss(engine))
    gate.arm()
    engine.step()
    reason, norm = gate.outcome("fp32")
    assert reason is None and norm == pytest.approx(float(torch.nn.utils.get_total_norm([p.grad for p in fresh.parameters()])), rel=1e-5)


def test_an_update_deepspeed_skipped_itself_is_a_loss_scale_skip_only_in_fp16() -> None:
    torch.manual_seed(0)
    engine = _engine(0, torch.nn.Linear(8, 4))
    gate = StepGate(engine, SpikeGuard(SpikeConfig()))
    gate.arm()  # and DeepSpeed never reaches the inner step (its fp16 overflow path)
    assert gate.outcome("fp16") == (LOSS_SCALE_SKIP, math.inf)
    assert gate.outcome("bf16") == (NONFINITE_GRAD, math.inf)
