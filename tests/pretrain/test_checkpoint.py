"""Checkpoints: exact resume after SIGKILL (mid-run and mid-save), pruning, and rank-count refusal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dapt.errors import UserError
from dapt.pretrain.checkpoint import LATEST, latest_tag, read_trainer_state
from dapt.pretrain.train import run_pretrain

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Runs the trainer in a fresh process and kills it with SIGKILL (no cleanup, no atexit): at the start
# of step `kill_step`, or inside the save of checkpoint `kill_save` after DeepSpeed wrote its files.
SCRIPT = """
import json, os, signal, sys
import torch
torch.set_num_threads(1)
import dapt.pretrain.checkpoint as ckpt
from dapt.pretrain.train import run_pretrain
from dapt.pretrain.tiny import tiny_config
args = json.loads(sys.argv[1])

def hook(step, module):
    if step == args.get("kill_step"):
        os.kill(os.getpid(), signal.SIGKILL)

real_rng_state = ckpt.rng_state
def rng_state():  # called by save_checkpoint between DeepSpeed's files and the rename into place
    saves = [p for p in os.listdir(args["out_dir"] + "/checkpoints") if p.startswith(".tmp-step-")]
    if args.get("kill_save") and any(p.endswith(f"{{args['kill_save']:08d}}") for p in saves):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_rng_state()
ckpt.rng_state = rng_state

summary = run_pretrain(tiny_config(**args["cfg"]), args["tokens_dir"], args["mix_path"], args["tokenizer_dir"],
                       args["out_dir"], args["token_target"], step_hook=hook)
print("SUMMARY", json.dumps(summary))
"""


def run_child(tmp: Path, inputs: dict[str, Path], out: Path, cfg: dict, target: int, **kill) -> subprocess.CompletedProcess:
    script = tmp / "child.py"
    script.write_text(SCRIPT.format())
    args = {k: str(v) for k, v in inputs.items()} | {"out_dir": str(out), "cfg": cfg, "token_target": target, **kill}
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    env.pop("WORLD_SIZE", None)
    return subprocess.run([sys.executable, str(script), json.dumps(args)], capture_output=True, text=True, env=env, timeout=600, cwd=REPO)


class Evil:
    """Unpickling this creates a file: what a hostile checkpoint could do with torch.load(weights_only=False)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_rng_state_round_trips_through_a_weights_only_load(tmp_path: Path) -> None:
    import random

    import numpy as np

    from dapt.pretrain.checkpoint import load_rng_state, rng_state, set_rng_state

    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.gauss(0, 1), np.random.standard_normal()  # cached Gaussians are part of the state too
    torch.save(rng_state(), tmp_path / "rng.pt")
    want = (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == want
    marker = tmp_path / "pwned"
    torch.save({"torch": Evil(marker)}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="holds more than tensors"):
        load_rng_state(tmp_path / "evil.pt")
    assert not marker.exists()


def step_losses(metrics: Path) -> dict[int, float]:
    """Per-step training loss; a step logged twice (before a kill and after the resume) keeps its last value."""
    out = {}
    for line in metrics.read_text().splitlines():
        r = json.loads(line)
        if "loss" in r and "event" not in r:
            out[r["step"]] = r["loss"]
    return out


@pytest.mark.slow
def test_sigkill_resume_gives_the_same_losses_step_for_step(tmp_path: Path) -> None:
    from dapt.pretrain.tiny import SEQ, make_inputs, tiny_config

    inputs = make_inputs(tmp_path)
    cfg = {"checkpoint_interval": 5, "eval_interval": 5, "keep_checkpoints": 2}
    target = 20 * 8 * SEQ
    reference = run_pretrain(tiny_config(**cfg), **inputs, out_dir=tmp_path / "ref", token_target=target)
    expected = step_losses(tmp_path / "ref" / "metrics.jsonl")
    assert sorted(expected) == list(range(1, 21))

    # killed in the middle of step 14 (last checkpoint: step 10), then resumed
    out = tmp_path / "killed"
    first = run_child(tmp_path, inputs, out, cfg, target, kill_step=13)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert latest_tag(out / "checkpoints") == "step-00000010"
    second = run_child(tmp_path, inputs, out, cfg, target)
    assert second.returncode == 0, second.stderr[-3000:]
    assert step_losses(out / "metrics.jsonl") == expected  # bit for bit: CPU fp32 is deterministic
    resumed = json.loads(second.stdout.split("SUMMARY ", 1)[1])
    assert resumed["val_losses"] == reference["val_losses"] and resumed["steps"] == 20

    # killed inside the save of the step-10 checkpoint: step 5 stays loadable and the run still matches
    out = tmp_path / "killed_in_save"
    first = run_child(tmp_path, inputs, out, cfg, target, kill_save=10)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert (out / "checkpoints" / LATEST).read_text() == "step-00000005"
    assert (out / "checkpoints" / ".tmp-step-00000010").is_dir()  # the torn save, ignored
    second = run_child(tmp_path, inputs, out, cfg, target)
    assert second.returncode == 0, second.stderr[-3000:]
    assert step_losses(out / "metrics.jsonl") == expected
    assert not (out / "checkpoints" / ".tmp-step-00000010").exists()


def test_checkpoints_pruned_and_resume_on_other_rank_count_refused(tmp_path: Path) -> None:
    from dapt.pretrain.tiny import SEQ, make_inputs, tiny_config

    inputs = make_inputs(tmp_path)
    out = tmp_path / "model"
    cfg = tiny_config(checkpoint_interval=3, keep_checkpoints=2, eval_interval=100)
    summary = run_pretrain(cfg, **inputs, out_dir=out, token_target=10 * 8 * SEQ)
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step-"))
    assert ckpts == ["step-00000009", "step-00000010"]  # periodic 3, 6 pruned; the final save added
    state = read_trainer_state(out / "checkpoints", "step-00000010")
    assert state["step"] == 10 and state["tokens"] == summary["tokens"] and state["sampler"]["next_sample"] == 80
    assert set(state) >= {"early_stopping", "spike_guard", "cursor", "world"}
    saved_config = json.loads((out / "checkpoints" / "step-00000010" / "config.json").read_text())
    assert saved_config["pretrain"]["lr"] == cfg.lr and saved_config["deepspeed"]["train_batch_size"] == 8
    rng_file = out / "checkpoints" / "step-00000010" / "rng-rank0.pt"
    assert set(torch.load(rng_file, weights_only=True)) >= {"python_state", "numpy_keys", "torch"}  # no pickled objects
    # a checkpoint that smuggles code into its RNG file is refused before the code runs
    good = rng_file.read_bytes()
    marker = tmp_path / "pwned"
    torch.save({"torch": Evil(marker)}, rng_file)
    with pytest.raises(UserError, match="holds more than tensors"):
        run_pretrain(cfg, **inputs, out_dir=out, token_target=10 * 8 * SEQ)
    assert not marker.exists()
    rng_file.write_bytes(good)
    # a finished run resumed asks for nothing more: it stops at once with the same summary
    again = run_pretrain(cfg, **inputs, out_dir=out, token_target=10 * 8 * SEQ)
    assert again["steps"] == 10 and again["stop_reason"] == "token_target"
    # pretend the checkpoint came from 2 ranks: resuming on 1 is refused with what to do
    path = out / "checkpoints" / "step-00000010" / "trainer_state.json"
    path.write_text(json.dumps(state | {"world": 2}))
    with pytest.raises(UserError, match="written by 2 ranks but this run has 1"):
        run_pretrain(cfg, **inputs, out_dir=out, token_target=10 * 8 * SEQ)


def test_a_checkpoint_of_another_config_is_refused_or_set_aside_never_resumed(tmp_path: Path) -> None:
    """Issue 18: a finished run re-run with another lr "resumed" its last checkpoint and exported the old
    weights under the new config; a new shape died in DeepSpeed's load with a traceback."""
    from dapt.pretrain.tiny import SEQ, make_inputs, read_metrics, tiny_config

    from dapt.pretrain.config import ModelConfig

    inputs = make_inputs(tmp_path)
    out = tmp_path / "model"
    target = 4 * 8 * SEQ
    run_pretrain(tiny_config(eval_interval=100), **inputs, out_dir=out, token_target=target)
    old_weights = (out / "hf" / "model.safetensors").read_bytes()
    # logging and checkpoint keys change no trajectory: the same run, finished, so nothing more to do
    assert run_pretrain(tiny_config(eval_interval=100, log_interval=2), **inputs, out_dir=out, token_target=target)["steps"] == 4
    three_layers = ModelConfig(n_layers=3, d_model=64, n_heads=4, d_ff=128, seq_len=SEQ)
    for change, target_now, named in [({"lr": 1e-3}, target, "pretrain.lr 0.003 -> 0.001"),
                                      ({"model": three_layers}, target, "pretrain.model.n_layers 2 -> 3"),
                                      ({}, 2 * target, f"token_target {target} -> {2 * target}")]:
        with pytest.raises(UserError, match=named) as refused:
            run_pretrain(tiny_config(eval_interval=100, **change), **inputs, out_dir=out, token_target=target_now)
        assert "--fresh" in str(refused.value) and "\n" not in str(refused.value)
    # --fresh: the old checkpoints and curve are kept aside and a new model is trained from scratch
    summary = run_pretrain(tiny_config(eval_interval=100, lr=1e-3), **inputs, out_dir=out, token_target=target, fresh=True)
    assert summary["steps"] == 4 and (out / "hf" / "model.safetensors").read_bytes() != old_weights
    assert json.loads((out / "checkpoints" / "step-00000004" / "config.json").read_text())["pretrain"]["lr"] == 1e-3
    assert json.loads((out / "manifest.json").read_text())["config"]["pretrain"]["lr"] == 1e-3
    stale = out / "checkpoints.stale-step-00000004"
    assert json.loads((stale / "step-00000004" / "config.json").read_text())["pretrain"]["lr"] == 3e-3
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl") if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in read_metrics(stale / "metrics.jsonl") if "loss" in r] == [1, 2, 3, 4]


def test_config_changes_name_the_training_keys_and_ignore_logging(tmp_path: Path) -> None:
    from dapt.pretrain.checkpoint import config_changes, set_aside

    ckpt = tmp_path / "checkpoints"
    (ckpt / "step-00000010").mkdir(parents=True)
    saved = {"pretrain": {"lr": 3e-3, "log_interval": 1, "model": {"n_layers": 2}}, "token_target": 100}
    (ckpt / "step-00000010" / "config.json").write_text(json.dumps(saved))
    assert config_changes(ckpt, "step-00000010", saved) == []
    later = {"pretrain": {"lr": 1e-3, "log_interval": 50, "model": {"n_layers": 3}}, "token_target": 200}
    assert config_changes(ckpt, "step-00000010", later) == [
        "pretrain.lr 0.003 -> 0.001", "pretrain.model.n_layers 2 -> 3", "token_target 100 -> 200"]
    moved = set_aside(ckpt, "step-00000010")
    assert not ckpt.exists() and (moved / "step-00000010" / "config.json").is_file()
    assert moved.name == "checkpoints.stale-step-00000010"
