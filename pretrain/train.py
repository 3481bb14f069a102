"""The pre-training loop: a Llama-style model trained through DeepSpeed ZeRO to a token target.

`run_pretrain` reads top to bottom like nanoGPT's train.py: set up (distributed, data, model, engine,
resume) -> loop (lr -> forward -> loss-spike check -> backward -> grad-norm gate -> step -> log ->
validate -> early stop -> checkpoint) -> export. Every resumable piece of state goes through a
`state_dict()`. DeepSpeed setup lives in pretrain/engine.py, validation in pretrain/validation.py.

Launch: one process (CPU + gloo, or one GPU) when nothing sets RANK/WORLD_SIZE; several GPUs and nodes
through `deepspeed --hostfile configs/hostfile.example ...` or `torchrun`, which set them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dapt.errors import UserError
from dapt.pretrain.checkpoint import (BEST, config_changes, export_hf, latest_tag, load_checkpoint, save_checkpoint,
                                     set_aside, step_tag)
from dapt.pretrain.config import PretrainConfig
from dapt.pretrain.engine import deepspeed_config, init_distributed, optimizer_args, resolve_precision
from dapt.pretrain.gate import StepGate
from dapt.pretrain.guards import LOSS_SCALE_SKIP, EarlyStopping, SpikeGuard
from dapt.pretrain.memory import check_fits
from dapt.pretrain.model import build_model, device_peak_flops, flops_per_token, model_shape
from dapt.pretrain.schedule import batch_at, lr_at
from dapt.pretrain.validation import GROUPS, all_mean, evaluate, monitored, next_token_loss, validation_sets

log = logging.getLogger(__name__)


# -- helpers of the loop ----------------------------------------------------------------------------
def _read_tokenizer_manifest(tokenizer_dir: Path) -> dict[str, Any]:
    path = tokenizer_dir / "manifest.json"
    if not path.is_file():
        raise UserError(f"no tokenizer manifest at {path}; run `dapt tokenizer` first or point to a tokenizer folder")
    manifest = json.loads(path.read_text())
    for key in ("vocab_size", "eos_id"):
        if key not in manifest:
            raise UserError(f"{path} lacks {key!r}; retrain the tokenizer with `dapt tokenizer`")
    return manifest


def _jsonable(value: float | None) -> float | str | None:
    """NaN and inf as strings: json.dumps would write bare NaN, which strict JSON readers refuse."""
    return value if value is None or math.isfinite(value) else str(value)


def shard_sizes(engine: Any, optimizer: Any, world: int) -> dict[str, list[int]]:
    """Per rank: optimizer-state and parameter elements held locally (what ZeRO partitions)."""
    import torch.distributed as dist

    inner = getattr(optimizer, "optimizer", optimizer)  # ZeRO wraps the torch optimizer of its fp32 partitions
    opt = sum(t.numel() for st in inner.state.values() for t in st.values() if torch.is_tensor(t) and t.dim() > 0)
    params = sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel() for p in engine.module.parameters())
    mine = [int(opt), int(params)]
    everyone: list[Any] = [mine] * world
    if world > 1:
        dist.all_gather_object(everyone, mine)
    return {"optimizer_state_numel": [e[0] for e in everyone], "param_numel": [e[1] for e in everyone]}


def _memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    except ImportError:
        return float("nan")


def _resumable_tag(ckpt_dir: Path, training: dict[str, Any], fresh: bool, rank: int, world: int) -> str | None:
    """The checkpoint to resume from, if any; under `fresh`, rank 0 first sets the old ones aside (kept)."""
    if fresh:
        metrics = ckpt_dir.parent / "metrics.jsonl"
        if rank == 0 and ckpt_dir.is_dir():
            moved = set_aside(ckpt_dir, latest_tag(ckpt_dir) or "incomplete")
            if metrics.is_file():  # the old run's curve stays with its checkpoints, out of the new one's
                metrics.replace(moved / "metrics.jsonl")
            log.warning("fresh start: the previous checkpoints are kept in %s", moved)
        if rank == 0:
            metrics.unlink(missing_ok=True)  # a curve with no checkpoint left: nothing to keep it with
        if world > 1:
            import torch.distributed as dist

            dist.barrier()  # no rank looks for a checkpoint while rank 0 is still moving them
        return None
    tag = latest_tag(ckpt_dir)
    changes = config_changes(ckpt_dir, tag, training) if tag is not None else []
    if changes:
        raise UserError(
            f"{ckpt_dir / tag} was trained with another config ({'; '.join(changes)}); resuming would continue "
            f"that run, not train this one: pass --fresh to set its checkpoints aside and train from scratch, "
            f"or restore the old values to resume it"
        )
    return tag


# -- the run --------------------------------------------------------------------------------------
def run_pretrain(
    cfg: PretrainConfig,
    tokens_dir: Path,
    mix_path: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    token_target: int,
    fresh: bool = False,
    *,
    step_hook: Callable[[int, torch.nn.Module], None] | None = None,
) -> dict[str, Any]:
    """Trains to `token_target` tokens (or early stop), checkpoints, exports out_dir/hf; returns the summary.

    Resumes from the latest checkpoint when the same training config wrote it (an interrupted run) and
    refuses one written under another; `fresh` sets existing checkpoints aside and starts from scratch.
    `step_hook(step, module)` runs before each step's first forward (fault injection in tests).
    """
    import deepspeed
    from tqdm import tqdm

    from dapt.pretrain.data import MixturePlan, MixtureSampler

    tokens_dir, mix_path, tokenizer_dir, out_dir = map(Path, (tokens_dir, mix_path, tokenizer_dir, out_dir))
    if token_target <= 0:
        raise UserError(f"token target is {token_target}; give a positive pretrain.token_target or run `dapt plan`")
    tok = _read_tokenizer_manifest(tokenizer_dir)
    rank, world, local_rank = init_distributed()
    device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    precision = resolve_precision(cfg.precision)
    shape = model_shape(cfg.model, int(tok["vocab_size"]))
    # Refuse a run that cannot fit the GPU before anything is allocated, naming the ZeRO stage or offload
    # that would fit (the planner's DeepSpeed accounting; on a CPU-only machine nothing is checked).
    check_fits(shape, precision=precision, zero_stage=cfg.zero_stage, num_gpus=world,
               gpus_per_node=int(os.environ.get("LOCAL_WORLD_SIZE", world)), micro_batch=cfg.micro_batch,
               activation_checkpointing=False, offload_optimizer=cfg.offload_optimizer,
               offload_params=cfg.offload_params)
    seq_len = cfg.model.seq_len
    ckpt_dir = out_dir / "checkpoints"
    # What decides the trajectory (the schedule depends on token_target, the weights' layout on the shape):
    # a checkpoint written under other values is another run's, never resumed into this one.
    training = {"pretrain": cfg.model_dump(mode="json"), "token_target": token_target, "precision": precision,
                "model_shape": shape.to_dict()}
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    tag = _resumable_tag(ckpt_dir, training, fresh, rank, world)

    sampler = MixtureSampler(MixturePlan.load(mix_path), tokens_dir, seq_len, cfg.seed)
    val_sets = validation_sets(tokens_dir, seq_len, cfg.eval_batch_size or cfg.micro_batch, cfg.eval_batches)
    model = build_model(cfg.model, int(tok["vocab_size"]), int(tok["eos_id"]), tok.get("pad_id"), seed=cfg.seed)
    ds_config = deepspeed_config(cfg, world, precision)
    engine, optimizer, _, _ = deepspeed.initialize(model=model, **optimizer_args(ds_config, model, cfg.weight_decay))
    unit = cfg.micro_batch * world  # sequences per micro-step over all ranks
    warmup_tokens = int(cfg.warmup_fraction * token_target)
    n_params = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel() for p in engine.module.parameters())
    flops_tok = flops_per_token(shape)
    peak = device_peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    resolved = {"pretrain": cfg.model_dump(mode="json"), "deepspeed": ds_config, "world": world, "precision": precision,
                "token_target": token_target, "model_shape": shape.to_dict(), "n_params": n_params}

    # The whole resumable state of the loop; everything else is a pure function of it.
    state: dict[str, Any] = {"step": 0, "tokens": 0, "cursor": 0, "initial_loss": None, "skipped_samples": 0,
                             "stop_reason": None, "val": {}, "world": world, "last_loss": None}
    stopper, guard = EarlyStopping(cfg.early_stopping), SpikeGuard(cfg.spike)
    gate = StepGate(engine, guard)

    def trainer_state() -> dict[str, Any]:
        return {**state, "sampler": sampler.state_dict(), "early_stopping": stopper.state_dict(), "spike_guard": guard.state_dict()}

    def restore(tag: str) -> None:
        loaded = load_checkpoint(engine, ckpt_dir, tag, rank, world)
        state.update({k: loaded[k] for k in state})
        sampler.load_state_dict(loaded["sampler"])
        stopper.load_state_dict(loaded["early_stopping"])
        guard.load_state_dict(loaded["spike_guard"])

    if tag is not None:
        restore(tag)
        if rank == 0:
            log.info("resumed from %s: step %d, %d tokens", ckpt_dir / tag, state["step"], state["tokens"])
    last_good = tag

    metrics = open(out_dir / "metrics.jsonl", "a") if rank == 0 else None  # noqa: SIM115 - closed below
    tb = None
    if rank == 0 and cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        tb = SummaryWriter(str(out_dir / "tensorboard"))

    def emit(record: dict[str, Any]) -> None:
        if metrics is not None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
        if tb is not None and "step" in record:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step" and v is not None and math.isfinite(v):
                    tb.add_scalar(k.replace(".", "/"), v, record["step"])

    bar = tqdm(total=token_target, initial=min(state["tokens"], token_target), unit="tok", unit_scale=True,
               desc="pretrain", disable=rank != 0, dynamic_ncols=True)
    engine.train()
    window_t, window_tokens = time.perf_counter(), 0
    while state["stop_reason"] is None:
        step, tokens = state["step"], state["tokens"]
        if tokens >= token_target:
            state["stop_reason"] = "token_target"
            break
        if cfg.max_steps is not None and step >= cfg.max_steps:
            state["stop_reason"] = "max_steps"
            break
        # -- schedule: batch size and learning rate are functions of the tokens seen so far
        gbatch = batch_at(tokens, cfg.batch_warmup_start, cfg.global_batch, cfg.batch_warmup_tokens, unit)
        if gbatch != engine.train_batch_size():
            engine.set_train_batch_size(gbatch)
        lr = lr_at(tokens, cfg.lr, warmup_tokens, token_target, cfg.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if step_hook is not None:
            step_hook(step, engine.module)

        # -- forward/backward over the micro-batches; a spiking micro-batch gets no backward and is
        #    replaced by the next one in the stream (its data is skipped, as PaLM skipped batches)
        losses, rollback, n_micro = [], False, gbatch // unit
        while len(losses) < n_micro:
            batch = torch.from_numpy(sampler.batch(state["cursor"], unit, rank, world)).to(device)
            state["cursor"] += 1
            loss = next_token_loss(engine, batch)
            value = all_mean(loss, world)
            reason = guard.check_loss(value)
            if reason is not None:
                state["skipped_samples"] += unit
                rollback = guard.record_spike(reason, step)
                emit({"event": reason, "step": step, "loss": _jsonable(value), "cursor": state["cursor"] - 1})
                if rank == 0:
                    log.warning("step %d: %s (loss %s); batch skipped", step, reason, value)
                if rollback:
                    if losses:  # this batch's partial gradients sit in DeepSpeed's buffers: end it, refused
                        engine.set_gradient_accumulation_boundary(True)
                        engine.backward(loss)
                        gate.arm(refuse=True)
                        engine.step()
                    break
                continue
            # the loop, not DeepSpeed's micro-step counter, says where a global batch ends: skipped
            # micro-batches and batch-size warm-up never shift the boundary
            boundary = len(losses) + 1 == n_micro
            engine.set_gradient_accumulation_boundary(boundary)
            engine.backward(loss)
            if boundary:
                gate.arm()
            engine.step()
            losses.append(value)
        if not rollback:
            train_loss = float(np.mean(losses))
            # -- the gate refused a spiking update before it reached the weights, or DeepSpeed skipped it
            reason, grad_norm = gate.outcome(precision)
            if reason is None:
                guard.record_good(train_loss, grad_norm)
                if state["initial_loss"] is None:
                    state["initial_loss"] = train_loss
                state["step"] = step + 1
                state["tokens"] = tokens + gbatch * seq_len
                state["last_loss"] = train_loss
                bar.update(min(state["tokens"], token_target) - min(tokens, token_target))
                window_tokens += gbatch * seq_len
            else:  # the batch's data is skipped; the step and its tokens are not counted
                state["skipped_samples"] += gbatch
                emit({"event": reason, "step": step, "grad_norm": _jsonable(grad_norm), "cursor": state["cursor"]})
                if rank == 0:
                    log.warning("step %d: %s (grad-norm %s); update skipped", step, reason, grad_norm)
                if reason == LOSS_SCALE_SKIP:
                    continue
                rollback = guard.record_spike(reason, step)
                if not rollback:
                    continue
        if rollback:
            if last_good is None or guard.rollbacks >= cfg.spike.max_rollbacks:
                state["stop_reason"] = "spikes"
                emit({"event": "stop/spikes", "step": step})
                break
            # counters live on across the rollback; the model, optimizer, means and position come back
            spike_cursor, counts, rollbacks, skipped_before = state["cursor"], guard.counts, guard.rollbacks, state["skipped_samples"]
            restore(last_good)
            guard.counts, guard.rollbacks = counts, rollbacks
            guard.record_rollback()
            skipped = spike_cursor - state["cursor"]  # micro-batches from the checkpoint to the spike
            already = (skipped_before - state["skipped_samples"]) // unit  # spiking ones among them, counted
            state["skipped_samples"] = skipped_before + (skipped - already) * unit
            state["cursor"] = spike_cursor  # skip the data window from the checkpoint to the spike
            emit({"event": "rollback", "step": state["step"], "from_step": step, "skipped_micro_batches": skipped})
            if rank == 0:
                log.warning("step %d: repeated spikes; rolled back to %s and skipped %d micro-batches", step, last_good, skipped)
            continue

        step = state["step"]
        # -- log
        if step % cfg.log_interval == 0 or state["tokens"] >= token_target:
            elapsed = time.perf_counter() - window_t
            tok_s = window_tokens / elapsed if elapsed > 0 else float("nan")
            mfu = tok_s * flops_tok / (peak * world) if peak else None
            record = {"step": step, "loss": train_loss, "lr": lr, "grad_norm": grad_norm, "tokens": state["tokens"],
                      "tok_s": tok_s, "mfu": mfu, "mem_gib": _memory_gib(device), "batch": gbatch}
            emit(record)
            if rank == 0:
                log.info("step %d | loss %.4f | lr %.2e | grad-norm %s | tokens %d | tok/s %.0f | MFU %s | mem %.2f GiB",
                         step, train_loss, lr, f"{grad_norm:.3f}" if grad_norm is not None else "n/a", state["tokens"],
                         tok_s, f"{100 * mfu:.1f}%" if mfu is not None else "n/a", record["mem_gib"])
            window_t, window_tokens = time.perf_counter(), 0
        # -- validate and early-stop
        done = state["tokens"] >= token_target
        if step % cfg.eval_interval == 0 or done:
            val = evaluate(engine, val_sets, device, world)
            value = monitored(val, cfg.early_stopping.monitor)
            state["val"] = val
            improved = stopper.update(value, step)
            emit({"step": step, "tokens": state["tokens"], **{f"val.{g}": v for g, v in val.items()}, "val.monitored": value})
            if rank == 0:
                log.info("step %d | val %s | monitored %.4f%s", step, " ".join(f"{g} {v:.4f}" for g, v in val.items()),
                         value, " (best)" if improved else "")
            if improved and cfg.early_stopping.enabled:
                save_checkpoint(engine, ckpt_dir, BEST, trainer_state(), resolved, rank, update_latest=False)
            if stopper.should_stop:
                state["stop_reason"] = "early_stopping"
        # -- checkpoint
        if step % cfg.checkpoint_interval == 0 or state["stop_reason"] is not None or done:
            save_checkpoint(engine, ckpt_dir, step_tag(step), trainer_state(), resolved, rank, keep=cfg.keep_checkpoints)
            last_good = step_tag(step)
    bar.close()

    # Make sure the final state is on disk (a stop by max_steps or spikes may come between saves).
    if last_good != step_tag(state["step"]) and state["stop_reason"] != "spikes":
        save_checkpoint(engine, ckpt_dir, step_tag(state["step"]), trainer_state(), resolved, rank, keep=cfg.keep_checkpoints)
    final_state = dict(state)
    exported = "final"
    if state["stop_reason"] == "early_stopping" and (ckpt_dir / BEST).is_dir():
        load_checkpoint(engine, ckpt_dir, BEST, rank, world, module_only=True)
        exported = f"best (step {stopper.best_step})"
    shards = shard_sizes(engine, optimizer, world)
    hf_dir = out_dir / "hf"
    export_hf(engine, hf_dir, tokenizer_dir, rank)

    summary = {
        "stage": "pretrain",
        "steps": final_state["step"],
        "tokens": final_state["tokens"],
        "token_target": token_target,
        "initial_train_loss": final_state["initial_loss"],
        "final_train_loss": final_state["last_loss"],
        "val_losses": final_state["val"],
        "best_val": stopper.best if math.isfinite(stopper.best) else None,
        "best_step": stopper.best_step,
        "stop_reason": final_state["stop_reason"],
        "stop_step": final_state["step"],
        "exported": exported,
        "spikes": dict(guard.counts),
        "rollbacks": guard.rollbacks,
        "skipped_samples": final_state["skipped_samples"],
        "n_params": n_params,
        "precision": precision,
        "world": world,
        "zero_stage": ds_config.get("zero_optimization", {}).get("stage"),
        **shards,
        "hf_dir": str(hf_dir),
    }
    if rank == 0:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        (out_dir / "manifest.json").write_text(json.dumps({
            "stage": "pretrain", "config": resolved,
            "inputs": {"tokens_dir": str(tokens_dir), "mix": str(mix_path), "tokenizer_dir": str(tokenizer_dir)},
            "summary": summary}, indent=2, default=str))
        plot_losses(out_dir / "metrics.jsonl", out_dir / "loss.png", final_state["step"], final_state["stop_reason"])
        log.info("pretrain: %d steps, %d tokens, loss %.4f -> %.4f, stopped by %s; model in %s", summary["steps"],
                 summary["tokens"], summary["initial_train_loss"] or float("nan"), summary["final_train_loss"] or float("nan"),
                 summary["stop_reason"], hf_dir)
    if metrics is not None:
        metrics.close()
    if tb is not None:
        tb.close()
    engine.destroy()
    return summary


def plot_losses(metrics_path: Path, png: Path, stop_step: int, stop_reason: str | None) -> None:
    """Train and validation losses against steps, the stop point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = [], {g: [] for g in GROUPS}
    for line in metrics_path.read_text().splitlines():
        r = json.loads(line)
        if "loss" in r and "event" not in r:
            train.append((r["step"], r["loss"]))
        for g in GROUPS:
            if f"val.{g}" in r:
                val[g].append((r["step"], r[f"val.{g}"]))
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train", lw=1)
    for g, pts in val.items():
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=f"val {g}")
    ax.axvline(stop_step, color="k", ls="--", lw=1, label=f"stop ({stop_reason})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
