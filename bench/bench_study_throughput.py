"""Tokens per CPU-second of the study's ladder shapes (issue 17), measured before sizing the study.

Real DeepSpeed ZeRO-2 on CPU/gloo, one intra-op thread, the toy token files of dapt.pretrain.tiny with a
2,048-entry vocabulary and the study's batch (32 x 256 tokens). CPU seconds are this process's user+system
time, so other jobs on a shared machine change the wall time, not the figure.

    OMP_NUM_THREADS=1 python bench/bench_study_throughput.py   # -> bench/results/study_scale_throughput.json
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from dapt.pretrain.config import ModelConfig
from dapt.pretrain.shape import count_params
from dapt.pretrain.model import model_shape
from dapt.pretrain.tiny import make_inputs, tiny_config
from dapt.pretrain.train import run_pretrain

SHAPES = {"s": (3, 48, 128), "m": (4, 64, 176), "l": (4, 96, 256)}
VOCAB = 2048


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(tokens: int = 8192 * 12) -> None:
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp))
        manifest = inputs["tokenizer_dir"] / "manifest.json"
        meta = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**meta, "vocab_size": VOCAB}))  # the study's vocabulary size
        for name, (layers, d, ff) in SHAPES.items():
            model = ModelConfig(n_layers=layers, d_model=d, n_heads=4, d_ff=ff, seq_len=256, tie_embeddings=True)
            cfg = tiny_config(model=model, global_batch=32, micro_batch=16, eval_interval=1000, checkpoint_interval=1000,
                              log_interval=100, early_stopping={"enabled": False})
            c0, w0 = cpu_seconds(), time.perf_counter()
            out = run_pretrain(cfg, inputs["tokens_dir"], inputs["mix_path"], inputs["tokenizer_dir"],
                               Path(tmp) / name, token_target=tokens)
            cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
            n = count_params(model_shape(model, VOCAB))
            rows.append({"shape": name, "n_layers": layers, "d_model": d, "d_ff": ff, "params": n,
                         "tokens": out["tokens"], "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                         "tokens_per_cpu_s": round(out["tokens"] / cpu), "flops_per_cpu_s": round(6 * n * out["tokens"] / cpu)})
            print(rows[-1], flush=True)
    out_path = Path("bench/results/study_scale_throughput.json")
    out_path.write_text(json.dumps({"what": __doc__.splitlines()[0], "torch": torch.__version__, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
