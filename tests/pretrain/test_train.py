"""The trainer end to end on a tiny model (2 layers, d=64) through real DeepSpeed on CPU (gloo).

Inputs are real stage outputs at toy size (dapt.pretrain.tiny): token files written with the tokenize
stage's writer, a mixture planned by `run_mix`, and a byte-level BPE tokenizer saved as an HF folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dapt.errors import UserError
from dapt.pretrain.config import PretrainConfig
from dapt.pretrain.engine import deepspeed_config, merge_user_config
from dapt.pretrain.tiny import EOS, SEQ, make_inputs, read_metrics, tiny_config
from dapt.pretrain.train import run_pretrain


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


def test_tiny_run_learns_and_exports(inputs: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "model"
    target = 30 * 8 * SEQ  # 30 steps of 8 sequences
    summary = run_pretrain(tiny_config(), **inputs, out_dir=out, token_target=target)
    assert summary["stop_reason"] == "token_target"
    assert summary["steps"] == 30 and summary["tokens"] == target
    assert summary["final_train_loss"] < summary["initial_train_loss"] - 1.0  # ln(256) = 5.5 -> well below
    assert set(summary["val_losses"]) == {"domain", "general"}
    assert all(math.isfinite(v) for v in summary["val_losses"].values())
    assert summary["zero_stage"] == 2 and summary["precision"] == "fp32" and summary["device"] == "cpu"
    # metrics: one line per step, learning rate warmed up then decayed towards 10 %
    rows = [r for r in read_metrics(out / "metrics.jsonl") if "loss" in r and "event" not in r]
    assert [r["step"] for r in rows] == list(range(1, 31))
    lrs = [r["lr"] for r in rows]
    assert max(lrs) == pytest.approx(3e-3, rel=0.05) and lrs[-1] < 0.2 * 3e-3
    assert (out / "loss.png").stat().st_size > 1000
    assert json.loads((out / "summary.json").read_text())["steps"] == 30
    # the export is a plain HF folder with the tokenizer; its loss on a val batch matches training's
    model = AutoModelForCausalLM.from_pretrained(out / "hf")
    tok = AutoTokenizer.from_pretrained(out / "hf")
    vocab = json.loads((inputs["tokenizer_dir"] / "manifest.json").read_text())["vocab_size"]
    assert model.config.vocab_size == -(-vocab // 64) * 64 and tok.eos_token_id == EOS  # padded to a multiple of 64
    from dapt.pretrain.data import validation_batches

    losses = []
    with torch.no_grad():
        for b in validation_batches(inputs["tokens_dir"], "general", SEQ, 8, 2):  # the trainer's val batches
            b = torch.from_numpy(b)
            losses.append(float(model(input_ids=b, labels=b).loss))  # HF shifts the labels itself
    assert np.mean(losses) == pytest.approx(summary["val_losses"]["general"], rel=1e-4)
    assert summary["val_losses"]["general"] < math.log(256) - 0.5


def test_deepspeed_config_states_batch_and_lr_once(tmp_path: Path) -> None:
    cfg = tiny_config(global_batch=32, micro_batch=4, zero_stage=3, offload_optimizer=True, offload_params=True)
    ds = deepspeed_config(cfg, world=2, precision="bf16")
    assert ds["train_batch_size"] == 32 and ds["gradient_accumulation_steps"] == 4
    assert ds["optimizer"]["params"]["lr"] == cfg.lr and ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]
    assert ds["zero_optimization"]["offload_param"]["device"] == "cpu"
    with pytest.raises(UserError, match="multiple of micro_batch x ranks"):
        deepspeed_config(tiny_config(global_batch=8, micro_batch=8), world=3, precision="fp32")
    # a user JSON: "auto" is filled from ours, a conflicting batch size is refused with the key named
    user = {"train_batch_size": "auto", "optimizer": {"type": "AdamW", "params": {"lr": "auto"}}, "zero_optimization": {"stage": 1}}
    merged = merge_user_config(user, ds, "my.json")
    assert merged["train_batch_size"] == 32 and merged["optimizer"]["params"]["lr"] == cfg.lr
    assert merged["zero_optimization"] == {"stage": 1}
    with pytest.raises(UserError, match="train_batch_size=64 disagrees"):
        merge_user_config({"train_batch_size": 64}, ds, "my.json")
    with pytest.raises(UserError, match="remove managed_gradient_accumulation"):
        merge_user_config({"managed_gradient_accumulation": False}, ds, "my.json")


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="offload_params needs zero_stage 3"):
        PretrainConfig(zero_stage=2, offload_params=True)
    with pytest.raises(ValueError, match="extra"):
        PretrainConfig(learning_rate=1e-3)
    assert PretrainConfig().model.n_layers == 12  # every field defaulted: an empty YAML section works


def test_early_stopping_keeps_and_exports_the_best(inputs: dict[str, Path], tmp_path: Path) -> None:
    """min_delta so large that nothing after the first evaluation counts as better: stop after `patience`."""
    from transformers import AutoModelForCausalLM

    from dapt.pretrain.config import EarlyStoppingConfig
    from dapt.pretrain.data import validation_batches

    cfg = tiny_config(eval_interval=2, early_stopping=EarlyStoppingConfig(patience=2, min_delta=10.0), checkpoint_interval=100)
    out = tmp_path / "model"
    summary = run_pretrain(cfg, **inputs, out_dir=out, token_target=100 * 8 * SEQ)
    assert summary["stop_reason"] == "early_stopping" and summary["stop_step"] == 6
    assert summary["best_step"] == 2 and summary["exported"] == "best (step 2)"
    vals = {r["step"]: r for r in read_metrics(out / "metrics.jsonl") if "val.monitored" in r}
    assert sorted(vals) == [2, 4, 6] and vals[6]["val.monitored"] < vals[2]["val.monitored"]  # it still learnt
    # the export holds the step-2 weights: its validation loss is the step-2 one, not the last one
    model = AutoModelForCausalLM.from_pretrained(out / "hf")
    with torch.no_grad():
        losses = {g: np.mean([float(model(input_ids=torch.from_numpy(b), labels=torch.from_numpy(b)).loss)
                              for b in validation_batches(inputs["tokens_dir"], g, SEQ, 8, 2)]) for g in ("domain", "general")}
    assert np.mean(list(losses.values())) == pytest.approx(vals[2]["val.monitored"], rel=1e-4)
    assert (out / "checkpoints" / "best").is_dir()


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "configs" / "deepspeed").glob("*.json")), ids=lambda p: p.name)
def test_example_deepspeed_configs_resolve(path: Path) -> None:
    """Every example JSON in configs/deepspeed is accepted and leaves no "auto" behind."""
    ds = deepspeed_config(tiny_config(global_batch=16, micro_batch=4, deepspeed_config=path), world=2, precision="fp32")
    assert "auto" not in json.dumps(ds)
    assert ds["train_batch_size"] == 16 and ds["gradient_accumulation_steps"] == 2
    assert ds["optimizer"]["params"]["lr"] == 3e-3 and ds["optimizer"]["params"]["betas"] == [0.9, 0.95]


def test_grad_accumulation_batch_warmup_and_tensorboard(inputs: dict[str, Path], tmp_path: Path) -> None:
    """16 sequences per step as 4 micro-batches of 4, starting from 4 sequences (batch-size warm-up)."""
    out = tmp_path / "model"
    cfg = tiny_config(global_batch=16, micro_batch=4, batch_warmup_start=4, batch_warmup_tokens=6 * 16 * SEQ,
                      tensorboard=True, eval_interval=100)
    summary = run_pretrain(cfg, **inputs, out_dir=out, token_target=12 * 16 * SEQ)
    rows = [r for r in read_metrics(out / "metrics.jsonl") if "loss" in r and "event" not in r]
    batches = [r["batch"] for r in rows]
    assert batches[0] == 4 and batches[-1] == 16 and batches == sorted(batches) and len(set(batches)) >= 3
    assert [r["tokens"] for r in rows] == list(np.cumsum([b * SEQ for b in batches]))
    assert summary["tokens"] >= 12 * 16 * SEQ and summary["steps"] == len(rows)
    assert summary["final_train_loss"] < summary["initial_train_loss"]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
