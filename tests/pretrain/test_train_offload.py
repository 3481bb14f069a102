"""ZeRO-Offload (optimizer state and step on the CPU, DeepSpeed's CPU Adam) and ZeRO-3 parameter offload.

Slow: the first run JIT-builds DeepSpeed's cpu_adam extension (cached afterwards in ~/.cache/torch_extensions).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "offload_params"), [(1, False), (2, False), (3, True)])
def test_offloaded_runs_learn_and_export(tmp_path: Path, stage: int, offload_params: bool) -> None:
    from dapt.pretrain.tiny import SEQ, make_inputs, tiny_config
    from transformers import AutoModelForCausalLM

    from dapt.pretrain.train import run_pretrain

    torch.set_num_threads(1)
    inputs = make_inputs(tmp_path)
    cfg = tiny_config(zero_stage=stage, offload_optimizer=True, offload_params=offload_params, eval_interval=10)
    out = tmp_path / "model"
    summary = run_pretrain(cfg, **inputs, out_dir=out, token_target=15 * 8 * SEQ)
    assert summary["steps"] == 15 and summary["zero_stage"] == stage
    assert summary["final_train_loss"] < summary["initial_train_loss"] - 0.3
    resolved = json.loads((out / "manifest.json").read_text())["config"]["deepspeed"]["zero_optimization"]
    assert resolved["offload_optimizer"]["device"] == "cpu" and ("offload_param" in resolved) == offload_params
    model = AutoModelForCausalLM.from_pretrained(out / "hf")
    assert sum(p.numel() for p in model.parameters()) == summary["n_params"]
