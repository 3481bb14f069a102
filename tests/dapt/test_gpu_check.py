"""bench/gpu_check.sh on a CPU machine: valid bash, and a --dry-run that builds every check's config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "gpu_check.sh"


def test_gpu_check_is_valid_bash():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_gpu_check_dry_run_builds_the_configs(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT_DIR": str(tmp_path)}
    subprocess.run(["bash", str(SCRIPT), "--dry-run"], check=True, env=env, cwd=REPO, capture_output=True, timeout=300)
    configs = json.loads((tmp_path / "gpu_check_configs.json").read_text())
    mfu, fp16, rung = configs["mfu"], configs["fp16"], configs["rung"]
    assert 3e8 < mfu["params"] < 4.5e8  # ~350M parameters
    assert mfu["deepspeed"]["bf16"]["enabled"] and mfu["deepspeed"]["zero_optimization"]["stage"] == 2
    assert fp16["deepspeed"]["fp16"]["enabled"] and fp16["deepspeed"]["fp16"]["loss_scale"] == 0  # dynamic
    assert fp16["deepspeed"]["fp16"]["initial_scale_power"] == 32  # overflows at once
    assert rung["token_target"] == 20 * rung["params"]
