"""Time per step of our trainer (run_pretrain: DeepSpeed ZeRO, sampler, guards, logging) against a bare
PyTorch loop (same model, same batches, torch AdamW, clipping, lr schedule, loss.item() per step), in
one process on CPU; reports the overhead ratio (target <= 1.10).

    python bench/bench_trainer.py                 # table + bench/results/trainer_cpu.json
    python bench/bench_trainer.py --rounds 3 --steps 40 --zero-stages 0 2

Rounds alternate bare / trainer so that a drift in machine load hits both. Per-step times are the
median of the steady steps (the first few, evaluation and checkpoint steps excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dapt.pretrain.config import ModelConfig, PretrainConfig
from dapt.pretrain.data import MixturePlan, MixtureSampler
from dapt.pretrain.engine import param_groups
from dapt.pretrain.model import build_model
from dapt.pretrain.schedule import lr_at
from dapt.pretrain.tiny import make_inputs  # toy inputs written with the real stage writers
from dapt.pretrain.train import run_pretrain

REPO = Path(__file__).resolve().parents[1]

SKIP = 3  # warm-up steps left out of the medians


def bare_loop(cfg: PretrainConfig, inputs: dict[str, Path], steps: int, token_target: int, vocab: int) -> list[float]:
    """nanoGPT-style loop over the same sampler rows; returns per-step seconds."""
    model = build_model(cfg.model, vocab, seed=cfg.seed)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    sampler = MixtureSampler(MixturePlan.load(inputs["mix_path"]), inputs["tokens_dir"], cfg.model.seq_len, cfg.seed)
    times, tokens = [], 0
    for step in range(steps):
        t = time.perf_counter()
        lr = lr_at(tokens, cfg.lr, int(cfg.warmup_fraction * token_target), token_target, cfg.min_lr_ratio)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = torch.from_numpy(sampler.batch(step, cfg.global_batch))
        logits = model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        tokens += cfg.global_batch * cfg.model.seq_len
        times.append(time.perf_counter() - t)
    return times


def trainer_loop(cfg: PretrainConfig, inputs: dict[str, Path], steps: int, token_target: int, out: Path) -> list[float]:
    """run_pretrain for `steps` steps; per-step seconds from the start of one step to the next."""
    stamps: list[float] = []
    run_pretrain(cfg.model_copy(update={"max_steps": steps}), **inputs, out_dir=out, token_target=token_target, fresh=True,
                 step_hook=lambda step, module: stamps.append(time.perf_counter()))
    return list(np.diff(stamps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: steady on a shared machine)")
    ap.add_argument("--zero-stages", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "trainer_cpu.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tmp = Path(tempfile.mkdtemp(prefix="bench_trainer_"))
    token_target = 10**9  # far away: the schedule is in its cosine phase, nothing stops the run early
    inputs = make_inputs(tmp, total_tokens=args.rounds * args.steps * args.batch * args.seq_len * 4)
    vocab = json.loads((inputs["tokenizer_dir"] / "manifest.json").read_text())["vocab_size"]
    model_cfg = ModelConfig(n_layers=args.layers, d_model=args.d_model, n_heads=args.d_model // 64, seq_len=args.seq_len)
    base = PretrainConfig(model=model_cfg, global_batch=args.batch, micro_batch=args.batch, lr=6e-4, log_interval=10,
                          eval_interval=10**6, checkpoint_interval=10**6, tensorboard=False, early_stopping={"enabled": False})
    n_params = sum(p.numel() for p in build_model(model_cfg, vocab).parameters())

    bare: list[float] = []
    ours: dict[int, list[float]] = {s: [] for s in args.zero_stages}
    for r in range(args.rounds):
        bare += bare_loop(base, inputs, args.steps, token_target, vocab)[SKIP:]
        for stage in args.zero_stages:
            cfg = base.model_copy(update={"zero_stage": stage})
            ours[stage] += trainer_loop(cfg, inputs, args.steps, token_target, tmp / f"run{r}_{stage}")[SKIP:]

    bare_ms = 1000 * float(np.median(bare))
    rows = []
    for stage, times in ours.items():
        ms = 1000 * float(np.median(times))
        rows.append({"trainer": f"run_pretrain ZeRO-{stage}", "ms_per_step": ms, "bare_ms_per_step": bare_ms,
                     "overhead_ratio": ms / bare_ms, "steps_timed": len(times)})
    print(f"\nmodel {n_params / 1e6:.2f}M params ({args.layers} layers, d {args.d_model}), batch {args.batch} x {args.seq_len} tokens, "
          f"{args.threads} thread(s), CPU")
    print(f"{'loop':<22} {'ms/step':>9} {'vs bare':>9}")
    print(f"{'bare PyTorch AdamW':<22} {bare_ms:>9.1f} {1.0:>9.3f}")
    for row in rows:
        print(f"{row['trainer']:<22} {row['ms_per_step']:>9.1f} {row['overhead_ratio']:>9.3f}")
    import deepspeed
    import transformers

    result = {
        "benchmark": "trainer step time vs bare PyTorch loop (CPU)",
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(), "load_avg_1_5_15": os.getloadavg(),
                    "device": "cpu", "gpu_mfu": "not measured (no GPU lent to this task)"},
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "deepspeed": deepspeed.__version__,
                     "transformers": transformers.__version__},
        "settings": {"n_params": n_params, "layers": args.layers, "d_model": args.d_model, "seq_len": args.seq_len,
                     "batch": args.batch, "threads": args.threads, "rounds": args.rounds, "steps_per_round": args.steps,
                     "skipped_warmup_steps": SKIP, "precision": "fp32", "log_interval": base.log_interval},
        "bare_ms_per_step": bare_ms,
        "rows": rows,
        "target_overhead_ratio": 1.10,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
