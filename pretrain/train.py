"""The pre-training loop: a Llama-style model trained through DeepSpeed ZeRO to a token target.

`run_pretrain` reads top to bottom like nanoGPT's train.py, in torchtitan's shape: `set_up` (distributed,
data, model, engine, resume) -> the loop (stop at the token target -> `train_step` -> log -> `validate`
-> checkpoint) -> `finish` (best checkpoint, export, summary). `train_step` does lr -> forward ->
loss-spike check -> backward -> grad-norm gate -> step and says what happened: a step taken, an update
skipped, or a `roll_back`. Every resumable piece of state goes through a `state_dict()`. DeepSpeed setup
lives in pretrain/engine.py, validation in pretrain/validation.py, metrics and the plot in pretrain/metrics.py.

Launch: one process (CPU + gloo, or one GPU) when nothing sets RANK/WORLD_SIZE; several GPUs and nodes
through `deepspeed --hostfile configs/hostfile.example ...` or `torchrun`, which set them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dapt.errors import UserError
from dapt.pretrain.checkpoint import BEST, export_hf, load_checkpoint, resumable_tag, save_checkpoint, step_tag
from dapt.pretrain.config import PretrainConfig
from dapt.pretrain.engine import deepspeed_config, init_distributed, optimizer_args, resolve_precision, shard_sizes
from dapt.pretrain.gate import StepGate
from dapt.pretrain.guards import LOSS_SCALE_SKIP, EarlyStopping, SpikeGuard
from dapt.pretrain.memory import check_fits
from dapt.pretrain.metrics import MetricsLog, plot_losses
from dapt.pretrain.model import build_model, device_peak_flops, flops_per_token, model_shape
from dapt.pretrain.schedule import batch_at, lr_at
from dapt.pretrain.validation import all_mean, evaluate, monitored, next_token_loss, validation_sets
from dapt.manifest import read_manifest, write_manifest

if TYPE_CHECKING:
    from dapt.pretrain.data import MixtureSampler

log = logging.getLogger(__name__)

StepHook = Callable[[int, torch.nn.Module], None]
OK, SKIPPED, ROLLED_BACK = "ok", "skipped", "rolled_back"  # what a train_step did


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
    step_hook: StepHook | None = None,
    init_from: Path | None = None,
) -> dict[str, Any]:
    """Trains to `token_target` tokens (or early stop), checkpoints, exports out_dir/hf; returns the summary.

    `init_from`, an exported model folder (another run's out_dir/hf), gives the starting weights instead of a
    fresh init: continued pre-training, with a fresh optimizer and its own warm-up and cosine.

    Resumes from the latest checkpoint when the same training config wrote it (an interrupted run) and
    refuses one written under another; `fresh` sets existing checkpoints aside and starts from scratch.
    `step_hook(step, module)` runs before each step's first forward (fault injection in tests).
    """
    run = set_up(cfg, tokens_dir, mix_path, tokenizer_dir, out_dir, token_target, fresh, init_from)
    state = run.state
    while state["stop_reason"] is None:
        state["stop_reason"] = limit_reached(cfg, state, token_target)
        if state["stop_reason"] is not None:
            break
        result = train_step(run, step_hook)
        if result.outcome != OK:  # the update was skipped or the run rolled back: no step to log
            continue
        step, done = state["step"], state["tokens"] >= token_target
        run.metrics.advance(state["tokens"], result.batch * run.seq_len)
        if step % cfg.log_interval == 0 or done:
            run.metrics.interval(step, result.loss, result.lr, result.grad_norm, state["tokens"], result.batch)
        if step % cfg.eval_interval == 0 or done:
            validate(run, step)
        if step % cfg.checkpoint_interval == 0 or state["stop_reason"] is not None or done:
            save_step(run)
    return finish(run)


def limit_reached(cfg: PretrainConfig, state: dict[str, Any], token_target: int) -> str | None:
    """The stop reason when the token target or the step cap is reached, else None."""
    if state["tokens"] >= token_target:
        return "token_target"
    if cfg.max_steps is not None and state["step"] >= cfg.max_steps:
        return "max_steps"
    return None


# -- set-up ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Run:
    """Everything the loop works with, built once by `set_up`; `state` is the loop's resumable state."""

    cfg: PretrainConfig
    rank: int
    world: int
    device: torch.device
    precision: str
    token_target: int
    warmup_tokens: int
    unit: int  # sequences per micro-step over all ranks
    engine: Any
    optimizer: Any
    sampler: MixtureSampler
    val_sets: dict[str, list[torch.Tensor]]
    stopper: EarlyStopping
    guard: SpikeGuard
    gate: StepGate
    state: dict[str, Any]
    ckpt_dir: Path
    out_dir: Path
    tokens_dir: Path
    mix_path: Path
    tokenizer_dir: Path
    resolved: dict[str, Any]  # the config written into every checkpoint and the manifest
    last_good: str | None  # the newest checkpoint a rollback can return to
    metrics: MetricsLog = dataclasses.field(init=False)  # opened once the resumed position is known

    @property
    def seq_len(self) -> int:
        return self.cfg.model.seq_len


def set_up(cfg: PretrainConfig, tokens_dir: Path, mix_path: Path, tokenizer_dir: Path, out_dir: Path,
           token_target: int, fresh: bool, init_from: Path | None = None) -> Run:
    """Distributed, data, model and engine, then the resumed (or fresh) state; refuses what cannot run."""
    import deepspeed

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
    ckpt_dir = out_dir / "checkpoints"
    # What decides the trajectory (the schedule depends on token_target, the weights' layout on the shape):
    # a checkpoint written under other values is another run's, never resumed into this one.
    training = {"pretrain": cfg.model_dump(mode="json"), "token_target": token_target, "precision": precision,
                "model_shape": shape.to_dict()}
    if init_from is not None:
        training["init_from"] = str(init_from)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    tag = resumable_tag(ckpt_dir, training, fresh, rank)

    sampler = MixtureSampler(MixturePlan.load(mix_path), tokens_dir, cfg.model.seq_len, cfg.seed)
    val_sets = validation_sets(tokens_dir, cfg.model.seq_len, cfg.eval_batch_size or cfg.micro_batch, cfg.eval_batches)
    model = build_model(cfg.model, int(tok["vocab_size"]), int(tok["eos_id"]), tok.get("pad_id"), seed=cfg.seed)
    if init_from is not None:
        _load_weights(model, Path(init_from))
    ds_config = deepspeed_config(cfg, world, precision)
    engine, optimizer, _, _ = deepspeed.initialize(model=model, **optimizer_args(ds_config, model, cfg.weight_decay))
    n_params = sum(p.ds_numel if hasattr(p, "ds_numel") else p.numel() for p in engine.module.parameters())
    resolved = {"pretrain": cfg.model_dump(mode="json"), "deepspeed": ds_config, "world": world, "precision": precision,
                "token_target": token_target, "model_shape": shape.to_dict(), "n_params": n_params}
    # The whole resumable state of the loop; everything else is a pure function of it.
    state: dict[str, Any] = {"step": 0, "tokens": 0, "cursor": 0, "initial_loss": None, "skipped_samples": 0,
                             "stop_reason": None, "val": {}, "world": world, "last_loss": None}
    guard = SpikeGuard(cfg.spike)
    run = Run(cfg=cfg, rank=rank, world=world, device=device, precision=precision, token_target=token_target,
              warmup_tokens=int(cfg.warmup_fraction * token_target), unit=cfg.micro_batch * world, engine=engine,
              optimizer=optimizer, sampler=sampler, val_sets=val_sets, stopper=EarlyStopping(cfg.early_stopping),
              guard=guard, gate=StepGate(engine, guard), state=state, ckpt_dir=ckpt_dir, out_dir=out_dir,
              tokens_dir=tokens_dir, mix_path=mix_path, tokenizer_dir=tokenizer_dir, resolved=resolved, last_good=tag)
    if tag is not None:
        restore(run, tag)
        if rank == 0:
            log.info("resumed from %s: step %d, %d tokens", ckpt_dir / tag, state["step"], state["tokens"])
    peak = device_peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    run.metrics = MetricsLog(out_dir, rank, cfg.tensorboard, token_target, state["tokens"], device,
                             flops_per_token(shape) / (peak * world) if peak else None)
    engine.train()
    return run


def _load_weights(model: torch.nn.Module, hf_dir: Path) -> None:
    """The weights of an exported model folder of the same shape (strict: a shape mismatch is an error)."""
    from safetensors.torch import load_file

    path = hf_dir / "model.safetensors"
    if not path.is_file():
        raise UserError(f"init_from {hf_dir} has no model.safetensors; point it at a finished run's model/hf folder")
    state = load_file(str(path))
    if "lm_head.weight" not in state and model.config.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UserError(f"init_from {hf_dir}: its weights do not fit this model's shape ({str(exc)[:200]})") from None


def _read_tokenizer_manifest(tokenizer_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(tokenizer_dir, "run `dapt tokenizer` first or point to a tokenizer folder")
    for key in ("vocab_size", "eos_id"):
        if key not in manifest:
            raise UserError(f"{tokenizer_dir}/manifest.json lacks {key!r}; retrain the tokenizer with `dapt tokenizer`")
    return manifest


def trainer_state(run: Run) -> dict[str, Any]:
    return {**run.state, "sampler": run.sampler.state_dict(), "early_stopping": run.stopper.state_dict(),
            "spike_guard": run.guard.state_dict()}


def restore(run: Run, tag: str) -> None:
    loaded = load_checkpoint(run.engine, run.ckpt_dir, tag, run.rank, run.world)
    run.state.update({k: loaded[k] for k in run.state})
    run.sampler.load_state_dict(loaded["sampler"])
    run.stopper.load_state_dict(loaded["early_stopping"])
    run.guard.load_state_dict(loaded["spike_guard"])


def save_step(run: Run) -> None:
    """The periodic checkpoint of the current step, the one a rollback returns to."""
    tag = step_tag(run.state["step"])
    save_checkpoint(run.engine, run.ckpt_dir, tag, trainer_state(run), run.resolved, run.rank, keep=run.cfg.keep_checkpoints)
    run.last_good = tag


# -- one step -------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StepResult:
    """What `train_step` did; loss, lr, grad_norm and batch describe a step taken (outcome OK)."""

    outcome: str  # OK, SKIPPED (the update refused, its data skipped) or ROLLED_BACK (or stopped by spikes)
    loss: float = math.nan
    lr: float = math.nan
    grad_norm: float | None = None
    batch: int = 0


def train_step(run: Run, step_hook: StepHook | None = None) -> StepResult:
    """One optimizer step: schedule -> forward/backward over the micro-batches -> the gated update.

    A spiking loss skips its micro-batch before backward; a spiking gradient norm is refused inside
    DeepSpeed's step (pretrain/gate.py); spikes that come too often `roll_back`.
    """
    cfg, engine, state = run.cfg, run.engine, run.state
    step, tokens = state["step"], state["tokens"]
    # batch size and learning rate are functions of the tokens seen so far
    gbatch = batch_at(tokens, cfg.batch_warmup_start, cfg.global_batch, cfg.batch_warmup_tokens, run.unit)
    if gbatch != engine.train_batch_size():
        engine.set_train_batch_size(gbatch)
    lr = lr_at(tokens, cfg.lr, run.warmup_tokens, run.token_target, cfg.min_lr_ratio)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    if step_hook is not None:
        step_hook(step, engine.module)
    losses = _forward_backward(run, step, gbatch // run.unit)
    if losses is None:
        roll_back(run, step)
        return StepResult(ROLLED_BACK)
    # the gate refused a spiking update before it reached the weights, or DeepSpeed skipped it
    reason, grad_norm = run.gate.outcome(run.precision)
    if reason is not None:
        return _refused(run, step, gbatch, reason, grad_norm)
    loss = float(np.mean(losses))
    run.guard.record_good(loss, grad_norm)
    if state["initial_loss"] is None:
        state["initial_loss"] = loss
    state.update(step=step + 1, tokens=tokens + gbatch * run.seq_len, last_loss=loss)
    return StepResult(OK, loss, lr, grad_norm, gbatch)


def _forward_backward(run: Run, step: int, n_micro: int) -> list[float] | None:
    """The micro-batches' losses, backpropagated; None when spikes call for a rollback.

    A spiking micro-batch gets no backward and is replaced by the next one in the stream (its data is
    skipped, as PaLM skipped batches). The loop, not DeepSpeed's micro-step counter, says where a global
    batch ends: skipped micro-batches and batch-size warm-up never shift the boundary.
    """
    engine, state = run.engine, run.state
    losses: list[float] = []
    while len(losses) < n_micro:
        batch = torch.from_numpy(run.sampler.batch(state["cursor"], run.unit, run.rank, run.world)).to(run.device)
        state["cursor"] += 1
        loss = next_token_loss(engine, batch)
        value = all_mean(loss, run.world)
        reason = run.guard.check_loss(value)
        if reason is None:
            boundary = len(losses) + 1 == n_micro
            engine.set_gradient_accumulation_boundary(boundary)
            engine.backward(loss)
            if boundary:
                run.gate.arm()
            engine.step()
            losses.append(value)
        elif _skip_micro_batch(run, step, reason, value):
            if losses:  # this batch's partial gradients sit in DeepSpeed's buffers: end it, refused
                engine.set_gradient_accumulation_boundary(True)
                engine.backward(loss)
                run.gate.arm(refuse=True)
                engine.step()
            return None
    return losses


def _skip_micro_batch(run: Run, step: int, reason: str, loss: float) -> bool:
    """Counts and logs a spiking micro-batch; True when spikes came so often that the run rolls back."""
    run.state["skipped_samples"] += run.unit
    rollback = run.guard.record_spike(reason, step)
    run.metrics.emit({"event": reason, "step": step, "loss": loss, "cursor": run.state["cursor"] - 1})
    run.metrics.warn("step %d: %s (loss %s); batch skipped", step, reason, loss)
    return rollback


def _refused(run: Run, step: int, gbatch: int, reason: str, grad_norm: float | None) -> StepResult:
    """A refused or skipped update: the batch's data is skipped, the step and its tokens are not counted.
    fp16's loss-scale skips are expected and never count towards a rollback."""
    run.state["skipped_samples"] += gbatch
    run.metrics.emit({"event": reason, "step": step, "grad_norm": grad_norm, "cursor": run.state["cursor"]})
    run.metrics.warn("step %d: %s (grad-norm %s); update skipped", step, reason, grad_norm)
    if reason != LOSS_SCALE_SKIP and run.guard.record_spike(reason, step):
        roll_back(run, step)
        return StepResult(ROLLED_BACK)
    return StepResult(SKIPPED)


def roll_back(run: Run, step: int) -> None:
    """Back to the last good checkpoint, skipping the data from there to the spike; or, with no checkpoint
    or no rollback left, stop the run with reason "spikes"."""
    state, guard = run.state, run.guard
    if run.last_good is None or guard.rollbacks >= run.cfg.spike.max_rollbacks:
        state["stop_reason"] = "spikes"
        run.metrics.emit({"event": "stop/spikes", "step": step})
        return
    # counters live on across the rollback; the model, optimizer, means and position come back
    spike_cursor, counts, rollbacks, skipped_before = state["cursor"], guard.counts, guard.rollbacks, state["skipped_samples"]
    restore(run, run.last_good)
    guard.counts, guard.rollbacks = counts, rollbacks
    guard.record_rollback()
    skipped = spike_cursor - state["cursor"]  # micro-batches from the checkpoint to the spike
    already = (skipped_before - state["skipped_samples"]) // run.unit  # spiking ones among them, counted
    state["skipped_samples"] = skipped_before + (skipped - already) * run.unit
    state["cursor"] = spike_cursor  # skip the data window from the checkpoint to the spike
    run.metrics.emit({"event": "rollback", "step": state["step"], "from_step": step, "skipped_micro_batches": skipped})
    run.metrics.warn("step %d: repeated spikes; rolled back to %s and skipped %d micro-batches", step, run.last_good, skipped)


# -- validation -----------------------------------------------------------------------------------
def validate(run: Run, step: int) -> None:
    """Held-out losses; a new best is saved for early stopping, which may end the run."""
    cfg, state = run.cfg, run.state
    val = evaluate(run.engine, run.val_sets, run.device, run.world)
    value = monitored(val, cfg.early_stopping.monitor)
    state["val"] = val
    improved = run.stopper.update(value, step)
    run.metrics.emit({"step": step, "tokens": state["tokens"], **{f"val.{g}": v for g, v in val.items()}, "val.monitored": value})
    run.metrics.info("step %d | val %s | monitored %.4f%s", step, " ".join(f"{g} {v:.4f}" for g, v in val.items()),
                     value, " (best)" if improved else "")
    if improved and cfg.early_stopping.enabled:
        save_checkpoint(run.engine, run.ckpt_dir, BEST, trainer_state(run), run.resolved, run.rank, update_latest=False)
    if run.stopper.should_stop:
        state["stop_reason"] = "early_stopping"


# -- the end --------------------------------------------------------------------------------------
def finish(run: Run) -> dict[str, Any]:
    """The final checkpoint, the exported model (the best one after an early stop), summary and plot."""
    state, rank, stopper = run.state, run.rank, run.stopper
    run.metrics.close()
    # Make sure the final state is on disk (a stop by max_steps or spikes may come between saves).
    if run.last_good != step_tag(state["step"]) and state["stop_reason"] != "spikes":
        save_step(run)
    exported = "final"
    if state["stop_reason"] == "early_stopping" and (run.ckpt_dir / BEST).is_dir():
        load_checkpoint(run.engine, run.ckpt_dir, BEST, rank, run.world, module_only=True)
        exported = f"best (step {stopper.best_step})"
    shards = shard_sizes(run.engine, run.optimizer, run.world)
    hf_dir = run.out_dir / "hf"
    export_hf(run.engine, hf_dir, run.tokenizer_dir, rank)

    summary = {
        "stage": "pretrain",
        "steps": state["step"],
        "tokens": state["tokens"],
        "token_target": run.token_target,
        "initial_train_loss": state["initial_loss"],
        "final_train_loss": state["last_loss"],
        "val_losses": state["val"],
        "best_val": stopper.best if math.isfinite(stopper.best) else None,
        "best_step": stopper.best_step,
        "stop_reason": state["stop_reason"],
        "stop_step": state["step"],
        "exported": exported,
        "spikes": dict(run.guard.counts),
        "rollbacks": run.guard.rollbacks,
        "skipped_samples": state["skipped_samples"],
        "n_params": run.resolved["n_params"],
        "precision": run.precision,
        "world": run.world,
        "device": torch.cuda.get_device_name(run.device) if run.device.type == "cuda" else "cpu",
        "zero_stage": run.resolved["deepspeed"].get("zero_optimization", {}).get("stage"),
        **shards,
        "hf_dir": str(hf_dir),
    }
    if rank == 0:
        out_dir = run.out_dir
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        write_manifest(out_dir, {
            "stage": "pretrain", "config": run.resolved,
            "inputs": {"tokens_dir": str(run.tokens_dir), "mix": str(run.mix_path), "tokenizer_dir": str(run.tokenizer_dir)},
            "summary": summary})
        plot_losses(out_dir / "metrics.jsonl", out_dir / "loss.png", state["step"], state["stop_reason"])
        log.info("pretrain: %d steps, %d tokens, loss %.4f -> %.4f, stopped by %s; model in %s", summary["steps"],
                 summary["tokens"], summary["initial_train_loss"] or float("nan"), summary["final_train_loss"] or float("nan"),
                 summary["stop_reason"], hf_dir)
    run.engine.destroy()
    return summary
