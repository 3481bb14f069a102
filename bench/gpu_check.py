"""The GPU checks of issue 17, run by bench/gpu_check.sh on one H100/H200 (~8 minutes); CPU: --dry-run only.

1. mfu:      bf16 ZeRO-2, a ~350M-parameter Llama (24 x 1024, 32k vocabulary, 1,024 context), 50 steps through
             the trainer (its MFU is PaLM App. B's: 6N + 12 L H Q T FLOPs per token over the device peak), then
             the same engine in a plain loop with and without torch.compile (engine.compile()).
2. fp16:     the trainer in fp16 with dynamic loss scaling from a 2^32 initial scale, so the first steps
             overflow: the skipped-update branch (skip/loss_scale_overflow) must be taken and the run go on.
3. rung:     one ladder rung at GPU scale: a ~7M-parameter model at 20 tokens per parameter, its tokens/s.

Each check writes bench/results/gpu_check_<name>.json; --dry-run builds and writes every config only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dapt.pretrain.config import ModelConfig, PretrainConfig
from dapt.pretrain.model import flops_per_token, model_shape
from dapt.pretrain.shape import count_params

VOCAB = 32000
SHAPES = {
    "mfu": ModelConfig(n_layers=24, d_model=1024, n_heads=16, seq_len=1024),  # ~350M parameters with 32k vocab
    "fp16": ModelConfig(n_layers=4, d_model=256, n_heads=4, seq_len=256),
    "rung": ModelConfig(n_layers=8, d_model=256, n_heads=4, seq_len=512, tie_embeddings=True),
}
RUNG_VOCAB = 2048


def pretrain_config(name: str) -> PretrainConfig:
    common = {"eval_interval": 10_000, "eval_batches": 1, "log_interval": 5, "checkpoint_interval": 10_000,
              "tensorboard": False, "early_stopping": {"enabled": False}, "zero_stage": 2}
    if name == "mfu":
        return PretrainConfig(model=SHAPES["mfu"], precision="bf16", global_batch=32, micro_batch=8, lr=3e-4,
                              max_steps=50, warmup_fraction=0.01, **common)
    if name == "fp16":
        return PretrainConfig(model=SHAPES["fp16"], precision="fp16", global_batch=16, micro_batch=16, lr=1e-3,
                              max_steps=20, **common)
    return PretrainConfig(model=SHAPES["rung"], precision="bf16", global_batch=64, micro_batch=64, lr=2e-3,
                          warmup_fraction=0.02, **common)


def build_configs(out: Path) -> dict:
    """Every check's PretrainConfig, DeepSpeed config and shape (what --dry-run writes and checks)."""
    from dapt.pretrain.engine import deepspeed_config

    configs = {}
    for name in SHAPES:
        cfg = pretrain_config(name)
        vocab = RUNG_VOCAB if name == "rung" else VOCAB
        shape = model_shape(cfg.model, vocab)
        ds = deepspeed_config(cfg, 1, cfg.precision)
        if name == "fp16":
            ds["fp16"]["initial_scale_power"] = 32  # 2^32: the first backward overflows in fp16
        n = count_params(shape)
        configs[name] = {"pretrain": cfg.model_dump(mode="json"), "deepspeed": ds, "params": n,
                         "flops_per_token": flops_per_token(shape),
                         "token_target": 20 * n if name == "rung" else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check_configs.json").write_text(json.dumps(configs, indent=2, default=str))
    return configs


def _inputs(tmp: Path, vocab: int) -> dict[str, Path]:
    from dapt.pretrain.tiny import make_inputs

    inputs = make_inputs(tmp, total_tokens=10**9)
    manifest = inputs["tokenizer_dir"] / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "vocab_size": vocab}))
    return inputs


def check_mfu(out: Path, configs: dict) -> dict:
    import deepspeed
    import torch

    from dapt.pretrain.engine import optimizer_args
    from dapt.pretrain.model import build_model, device_peak_flops
    from dapt.pretrain.tiny import read_metrics
    from dapt.pretrain.train import run_pretrain

    cfg = pretrain_config("mfu")
    result: dict = {"params": configs["mfu"]["params"], "device": torch.cuda.get_device_name()}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = _inputs(Path(tmp), VOCAB)
        summary = run_pretrain(cfg, inputs["tokens_dir"], inputs["mix_path"], inputs["tokenizer_dir"], Path(tmp) / "m",
                               token_target=10**9)
        rows = [r for r in read_metrics(Path(tmp) / "m" / "metrics.jsonl") if r.get("mfu") is not None]
        result["trainer"] = {"steps": summary["steps"], "mfu_last": rows[-1]["mfu"] if rows else None,
                             "tok_s_last": rows[-1]["tok_s"] if rows else None}
    peak = device_peak_flops(result["device"])
    fpt = configs["mfu"]["flops_per_token"]
    for compiled in (False, True):
        model = build_model(cfg.model, VOCAB, 0, 1, seed=0)
        engine, *_ = deepspeed.initialize(model=model, **optimizer_args(configs["mfu"]["deepspeed"], model, 0.1))
        if compiled:
            engine.compile()
        batch = torch.randint(2, VOCAB, (cfg.micro_batch, cfg.model.seq_len + 1), device=engine.device)
        steps, accum = 30, cfg.global_batch // cfg.micro_batch
        for i in range(steps + 5):  # 5 warm-up steps (compilation) are not timed
            if i == 5:
                torch.cuda.synchronize()
                t0 = time.perf_counter()
            for _ in range(accum):
                logits = engine(input_ids=batch[:, :-1]).logits
                loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
                engine.backward(loss)
                engine.step()
        torch.cuda.synchronize()
        tok_s = steps * cfg.global_batch * cfg.model.seq_len / (time.perf_counter() - t0)
        result["compile" if compiled else "eager"] = {"tok_s": tok_s, "mfu": tok_s * fpt / peak if peak else None}
        engine.destroy()
        del engine, model
        torch.cuda.empty_cache()
    return result


def check_fp16(out: Path, configs: dict) -> dict:
    from dapt.pretrain.guards import LOSS_SCALE_SKIP
    from dapt.pretrain.tiny import read_metrics
    from dapt.pretrain.train import run_pretrain

    with tempfile.TemporaryDirectory() as tmp:
        ds = Path(tmp) / "ds.json"
        ds.write_text(json.dumps(configs["fp16"]["deepspeed"]))
        cfg = pretrain_config("fp16").model_copy(update={"deepspeed_config": ds})
        inputs = _inputs(Path(tmp), VOCAB)
        summary = run_pretrain(cfg, inputs["tokens_dir"], inputs["mix_path"], inputs["tokenizer_dir"], Path(tmp) / "m",
                               token_target=10**9)
        skips = [r for r in read_metrics(Path(tmp) / "m" / "metrics.jsonl") if r.get("event") == LOSS_SCALE_SKIP]
    return {"steps": summary["steps"], "overflow_skips": len(skips), "stop_reason": summary["stop_reason"],
            "ok": len(skips) >= 1 and summary["steps"] == cfg.max_steps}


def check_rung(out: Path, configs: dict) -> dict:
    from dapt.pretrain.train import run_pretrain

    cfg = pretrain_config("rung")
    target = int(configs["rung"]["token_target"])
    with tempfile.TemporaryDirectory() as tmp:
        inputs = _inputs(Path(tmp), RUNG_VOCAB)
        t0 = time.perf_counter()
        summary = run_pretrain(cfg, inputs["tokens_dir"], inputs["mix_path"], inputs["tokenizer_dir"], Path(tmp) / "m",
                               token_target=target)
        wall = time.perf_counter() - t0
    return {"params": configs["rung"]["params"], "tokens": summary["tokens"], "tokens_per_param": summary["tokens"] / configs["rung"]["params"],
            "wall_s": wall, "tok_s": summary["tokens"] / wall, "stop_reason": summary["stop_reason"],
            "note": "toy token files (dapt.pretrain.tiny): a throughput and mechanism check at GPU scale, not a loss"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="build and write the configs, train nothing")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--only", choices=["mfu", "fp16", "rung"])
    args = parser.parse_args()
    out = Path(args.out)
    configs = build_configs(out)
    if args.dry_run:
        print(json.dumps({k: {"params": v["params"], "precision": v["pretrain"]["precision"]} for k, v in configs.items()}))
        return
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device; run with --dry-run on a CPU machine")
    for name, check in (("mfu", check_mfu), ("fp16", check_fp16), ("rung", check_rung)):
        if args.only and name != args.only:
            continue
        t0 = time.perf_counter()
        result = check(out, configs)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        (out / f"gpu_check_{name}.json").write_text(json.dumps(result, indent=2, default=str))
        print(name, json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
