"""Two CPU ranks under `torchrun`: ZeRO-2 and ZeRO-3 really shard, and the ZeRO-3 export is gathered."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Both stages in the same two processes: the second run_pretrain reuses the process group.
SCRIPT = """
import json, os, sys
import torch
torch.set_num_threads(1)
from dapt.pretrain.train import run_pretrain
from dapt.pretrain.tiny import tiny_config
args = json.loads(sys.argv[1])
out = {{}}
for stage in (2, 3):
    cfg = tiny_config(zero_stage=stage, micro_batch=4, eval_interval=5, checkpoint_interval=5)
    out[stage] = run_pretrain(cfg, args["tokens_dir"], args["mix_path"], args["tokenizer_dir"],
                              args["out_dir"] + f"/zero{{stage}}", args["token_target"])
if int(os.environ["RANK"]) == 0:
    print("SUMMARIES", json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_two_ranks_shard_optimizer_state_and_export(tmp_path: Path) -> None:
    from dapt.pretrain.tiny import SEQ, make_inputs, tiny_config
    from transformers import AutoModelForCausalLM

    from dapt.pretrain.data import validation_batches
    from dapt.pretrain.train import run_pretrain

    inputs = make_inputs(tmp_path)
    target = 10 * 8 * SEQ
    torch.set_num_threads(1)
    single = run_pretrain(tiny_config(eval_interval=5), **inputs, out_dir=tmp_path / "single", token_target=target)
    assert single["world"] == 1 and single["optimizer_state_numel"] == [2 * single["n_params"]]  # exp_avg + exp_avg_sq

    script = tmp_path / "two_ranks.py"
    script.write_text(SCRIPT.format())
    args = {k: str(v) for k, v in inputs.items()} | {"out_dir": str(tmp_path / "two"), "token_target": target}
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env |= {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()), str(script), json.dumps(args)],
        capture_output=True, text=True, env=env, timeout=900, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    summaries = {int(k): v for k, v in json.loads(proc.stdout.split("SUMMARIES ", 1)[1].splitlines()[0]).items()}
    full = single["optimizer_state_numel"][0]
    for stage, s in summaries.items():
        assert s["world"] == 2 and s["steps"] == 10 and s["zero_stage"] == stage
        assert s["final_train_loss"] < s["initial_train_loss"] - 0.3
        # each rank holds about half the single-rank optimizer state (partitions are padded a little)
        for numel in s["optimizer_state_numel"]:
            assert numel == pytest.approx(full / 2, rel=0.05), (stage, s["optimizer_state_numel"], full)
    assert summaries[2]["param_numel"] == [single["n_params"]] * 2  # ZeRO-2 keeps whole weights
    for numel in summaries[3]["param_numel"]:  # ZeRO-3 partitions the weights too
        assert numel == pytest.approx(single["n_params"] / 2, rel=0.05)

    # the ZeRO-3 export gathered the shards: a whole model whose val loss is the trained one
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "two" / "zero3" / "hf")
    assert sum(p.numel() for p in model.parameters()) == single["n_params"]
    with torch.no_grad():
        losses = [float(model(input_ids=torch.from_numpy(b), labels=torch.from_numpy(b)).loss)
                  for b in validation_batches(inputs["tokens_dir"], "general", SEQ, 4, 2)]  # the trainer's
    assert np.mean(losses) == pytest.approx(summaries[3]["val_losses"]["general"], rel=1e-3)
