"""Pure pieces of the trainer: lr and batch schedules, precision choice, FLOPs per token, init std."""

from __future__ import annotations

import math

import pytest
import torch

from dapt.pretrain.config import ModelConfig
from dapt.pretrain.model import build_model, device_peak_flops, flops_per_token, init_std, model_shape
from dapt.pretrain.schedule import batch_at, lr_at
from dapt.pretrain.shape import count_params
from dapt.pretrain.engine import resolve_precision


def test_lr_warms_up_then_cosine_to_ten_percent() -> None:
    peak, warm, total = 1e-3, 1_000, 11_000
    assert lr_at(0, peak, warm, total) == pytest.approx(peak / 1001)
    assert lr_at(999, peak, warm, total) == pytest.approx(peak * 1000 / 1001)
    assert lr_at(warm, peak, warm, total) == pytest.approx(peak)
    assert lr_at(warm + 5_000, peak, warm, total) == pytest.approx(peak * 0.55)  # half way: (1 + 0.1) / 2
    assert lr_at(total, peak, warm, total) == pytest.approx(peak * 0.1)
    assert lr_at(10 * total, peak, warm, total) == pytest.approx(peak * 0.1)
    lrs = [lr_at(t, peak, warm, total) for t in range(warm, total, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))  # monotone decay after warm-up


def test_batch_warmup_grows_in_whole_micro_batches() -> None:
    sizes = [batch_at(t, 32, 256, 10_000, unit=16) for t in range(0, 12_000, 500)]
    assert sizes[0] == 32 and sizes[-1] == 256
    assert all(s % 16 == 0 for s in sizes) and all(a <= b for a, b in zip(sizes, sizes[1:]))
    assert batch_at(5_000, 32, 256, 0, unit=16) == 256  # warm-up off


def test_precision_is_fp32_on_cpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "fp32"


def test_model_shape_init_and_flops() -> None:
    cfg = ModelConfig(n_layers=2, d_model=64, n_heads=4, seq_len=32)
    assert init_std(cfg) == pytest.approx(math.sqrt(1 / 192))  # BloombergGPT: sqrt(1 / (3 d))
    shape = model_shape(cfg, vocab_size=1000)
    assert shape.vocab_size == 1024 and shape.d_ff == 256  # padded to 64; 8d/3 rounded up to 256
    model = build_model(cfg, 1000, seed=1)
    assert sum(p.numel() for p in model.parameters()) == count_params(shape)
    w = model.model.layers[0].mlp.up_proj.weight
    assert float(w.std()) == pytest.approx(init_std(cfg), rel=0.05)
    assert torch.equal(build_model(cfg, 1000, seed=1).lm_head.weight, model.lm_head.weight)  # seeded
    # PaLM: 6N (N without the input embedding lookup) + 12 L d T
    n = count_params(shape) - 1024 * 64
    assert flops_per_token(shape) == 6 * n + 12 * 2 * 64 * 32
    assert device_peak_flops("NVIDIA H100 80GB HBM3") == pytest.approx(989.4e12)
    assert device_peak_flops("NVIDIA H100 PCIe") == pytest.approx(756e12)
    assert device_peak_flops("NVIDIA A100-SXM4-80GB") == pytest.approx(312e12)
    assert device_peak_flops("cpu") is None
