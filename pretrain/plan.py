"""Compute-optimal sizing before any GPU is spent: how big a model the budget buys, how many tokens it
should see, whether the data is enough, and whether it fits in memory (`dapt plan`).

The scaling laws are in `pretrain.scaling_laws`; the printed table and the figure in `pretrain.plan_report`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dapt.errors import UserError
from dapt.pretrain import memory
from dapt.pretrain.plan_report import format_plan, plot_plan
from dapt.pretrain.scaling_laws import (
    LAWS, LAW_NAMES, PF_DAY, data_constrained_loss, data_constrained_plan, effective_data, optimal_allocation,
    tokens_for_params, training_flops,
)
from dapt.pretrain.shape import ModelShape, count_params, model_shape_for
from dapt.manifest import write_manifest

# With full activation checkpointing the forward pass runs twice: 8ND hardware FLOPs for 6ND of model
# FLOPs, so BloombergGPT (§3.3) plugs 0.75 x its GPU-hour budget into the Chinchilla equations.
log = logging.getLogger(__name__)

RECOMPUTE_FRACTION = 6 / 8
# A plan longer than a year of wall-clock on the configured GPUs is almost surely a typo in the budget.
ABSURD_HOURS = 24 * 365
# Muennighoff et al. 2023: repeated data's value decays with R*_D ~ 15 epochs; an optimum beyond 100
# passes is the grid's edge, not a plan.
DEGENERATE_EPOCHS = 100


class PlanConfig(BaseModel):
    """How to size the run. Give a compute budget (flops, pf_days, or gpu_type + num_gpus + hours /
    gpu_hours), a target size (n_params), or both; everything is optional."""

    model_config = ConfigDict(extra="forbid")

    flops: float | None = Field(None, description="model-FLOPs budget (6ND)")
    pf_days: float | None = Field(None, description="budget in petaflop/s-days")
    gpu_type: str = Field("a100-80gb", description=f"one of {', '.join(memory.GPUS)}")
    num_gpus: int = Field(8, ge=1, description="GPUs the run trains on")
    gpus_per_node: int = Field(8, ge=1, description="GPUs per node (sets host memory per node)")
    hours: float | None = Field(None, description="wall-clock hours on num_gpus")
    gpu_hours: float | None = Field(None, description="total GPU-hours (hours x num_gpus)")
    mfu: float = Field(0.4, description="achieved fraction of peak FLOP/s, recomputation included "
                                        "(BloombergGPT: 102/312)")
    n_params: int | None = Field(None, description="target parameters (otherwise the law's N_opt)")
    available_tokens: int | None = Field(None, description="unique training tokens available")
    tokens_per_param: float = Field(20.0, gt=0, description="the rule20 law's tokens per parameter (Chinchilla)")
    law: Literal["rule20", "hoffmann", "besiroglu"] = Field("rule20", description="which rule sets the token target")
    max_epochs: float = Field(4.0, gt=0, description="cap on passes over the unique data "
                                                     "(Muennighoff: ~4 is nearly free)")
    vocab_size: int = Field(32000, ge=1, description="vocabulary of the planned shape (a run uses its tokenizer's)")
    seq_len: int = Field(2048, ge=1, description="context length of the planned shape")
    tie_embeddings: bool = Field(False, description="input and output embeddings shared")
    precision: Literal["fp32", "bf16", "fp16"] = Field("bf16", description="training precision for the memory plan")
    zero_stage: Literal[0, 1, 2, 3] | None = Field(None, description="None: the lowest stage that fits")
    offload_optimizer: bool = Field(False, description="plan with optimizer states in host memory (ZeRO-Offload)")
    offload_params: bool = Field(False, description="plan with parameters in host memory too (ZeRO-Infinity)")
    micro_batch: int = Field(1, ge=1, description="sequences per GPU per forward (sets activation memory)")
    host_memory_gib: float | None = Field(None, gt=0, description="host memory per node for offloaded states "
                                          "(default: this machine's)")
    # dapt's trainer keeps activations (no recomputation), so the default plans for that; the BloombergGPT
    # preset sets it, as that run recomputed activations (§3.3).
    activation_checkpointing: bool = Field(False, description="plan with activations recomputed in backward")
    flash_attention: bool = Field(True, description="fused attention (no s x s scores kept for backward)")
    plot: bool = Field(True, description="write plan.png beside plan.json")

    @model_validator(mode="after")
    def _check(self) -> "PlanConfig":
        for key in ("flops", "pf_days", "hours", "gpu_hours"):
            v = getattr(self, key)
            if v is not None and v <= 0:
                raise UserError(f"plan.{key} must be positive, got {v}; give a positive budget or leave it unset")
        if self.n_params is not None and self.n_params <= 0:
            raise UserError(f"plan.n_params must be positive, got {self.n_params}")
        if self.available_tokens is not None and self.available_tokens <= 0:
            raise UserError(f"plan.available_tokens must be positive, got {self.available_tokens}")
        if not 0 < self.mfu <= 1:
            raise UserError(f"plan.mfu must be in (0, 1], got {self.mfu}; typical large runs achieve 0.3-0.5")
        given = [k for k in ("flops", "pf_days", "hours", "gpu_hours") if getattr(self, k) is not None]
        if len(given) > 1:
            raise UserError(f"plan: give one compute budget, not {' and '.join(given)}; unset the others")
        memory.gpu_spec(self.gpu_type)  # unknown GPU -> UserError naming the known ones
        return self


def hardware_mismatch(cfg: PlanConfig, device_name: str, world: int) -> str | None:
    """How the GPUs a run trained on differ from the ones it was planned for (None: the same, or a CPU
    rehearsal of a GPU plan). The trainer takes its hardware from the launcher, the planner from plan.*:
    when they differ, the plan's hours (and its memory check) were for another machine."""
    if device_name == "cpu":
        return None
    spec = memory.gpu_for_device(device_name)
    # By card family: torch's name does not say which memory size of an A100 it is.
    same_card = spec is not None and spec.device_name == memory.gpu_spec(cfg.gpu_type).device_name
    if same_card and world == cfg.num_gpus:
        return None
    return (f"trained on {world} x {device_name} but planned for {cfg.num_gpus} x {cfg.gpu_type}: the plan's "
            f"hours and memory check were for those; re-plan with --plan.gpu_type/--plan.num_gpus")


def compute_budget(cfg: PlanConfig) -> dict | None:
    """The model-FLOPs budget (6ND-equivalent) and how it was derived, or None when none is given."""
    if cfg.flops is not None:
        return {"flops": cfg.flops, "source": "plan.flops"}
    if cfg.pf_days is not None:
        return {"flops": cfg.pf_days * PF_DAY, "source": "plan.pf_days"}
    gpu_hours = cfg.gpu_hours if cfg.gpu_hours is not None else (cfg.hours * cfg.num_gpus if cfg.hours else None)
    if gpu_hours is None:
        return None
    spec = memory.gpu_spec(cfg.gpu_type)
    achieved = gpu_hours * 3600 * spec.peak_tflops * 1e12 * cfg.mfu
    useful = achieved * (RECOMPUTE_FRACTION if cfg.activation_checkpointing else 1.0)
    return {"flops": useful, "hardware_flops": achieved, "gpu_hours": gpu_hours, "source": f"{cfg.gpu_type} hours",
            "recompute_discount": cfg.activation_checkpointing}


def wall_clock_hours(flops: float, cfg: PlanConfig) -> float:
    """Hours on cfg.num_gpus x cfg.gpu_type at cfg.mfu for `flops` model FLOPs (recompute included)."""
    spec = memory.gpu_spec(cfg.gpu_type)
    hardware = flops / (RECOMPUTE_FRACTION if cfg.activation_checkpointing else 1.0)
    return hardware / (cfg.num_gpus * spec.peak_tflops * 1e12 * cfg.mfu) / 3600


def _row(law: str, n: float, d: float, cfg: PlanConfig) -> dict:
    shape = model_shape_for(int(n), cfg.vocab_size, cfg.seq_len, cfg.tie_embeddings)
    fl = training_flops(n, d, shape)
    return {
        "law": law, "n_params": n, "tokens": d, "tokens_per_param": d / n,
        "loss_hoffmann": LAWS["hoffmann"].loss(n, d), "loss_besiroglu": LAWS["besiroglu"].loss(n, d),
        **fl, "pf_days": fl["flops_6nd"] / PF_DAY, "wall_clock_hours": wall_clock_hours(fl["flops_6nd"], cfg),
    }


def run_plan(cfg: PlanConfig, out_dir: Path, n_params: int | None = None, available_tokens: int | None = None,
             *, shape: ModelShape | None = None, stem: str = "plan") -> dict:
    """Size the run, write plan.json (+ plan.png, manifest.json) into out_dir, print a table.

    `n_params` / `available_tokens` (the trainer's model and the tokenized data) take precedence over
    the config's; `shape` gives the exact model (its count becomes n_params). Returns the summary with
    "token_target": the plan's training tokens (capped at max_epochs passes over the unique data).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if shape is not None:
        n_params = count_params(shape)
    n_fixed = n_params if n_params is not None else cfg.n_params
    unique = available_tokens if available_tokens is not None else cfg.available_tokens
    for name, v in (("n_params", n_fixed), ("available_tokens", unique)):
        if v is not None and v <= 0:
            raise UserError(f"plan: {name} must be positive, got {v}")
    budget = compute_budget(cfg)
    if budget is None and n_fixed is None:
        raise UserError("plan: nothing to size; give a compute budget (plan.flops, plan.pf_days, "
                        "plan.gpu_hours or plan.hours) or a model size (plan.n_params)")

    rows = {}
    for law in LAW_NAMES:
        if budget is not None:
            n, d = optimal_allocation(law, budget["flops"], cfg.tokens_per_param)
        else:
            n, d = float(n_fixed), tokens_for_params(law, n_fixed, cfg.tokens_per_param)
        rows[law] = _row(law, n, d, cfg)

    if n_fixed is not None:
        n_plan = float(n_fixed)
        d_plan = budget["flops"] / (6 * n_plan) if budget else rows[cfg.law]["tokens"]
    else:
        n_plan, d_plan = rows[cfg.law]["n_params"], rows[cfg.law]["tokens"]
    reasons = [f"{cfg.law} for " + ("the budget at fixed size" if n_fixed and budget else
                                    "this size" if n_fixed else "the budget")]

    data = None
    if unique is not None:
        data = {"unique_tokens": unique, "planned_tokens": d_plan, "epochs": d_plan / unique,
                "effective_tokens": effective_data(unique, d_plan), "constrained": d_plan > unique}
        if d_plan > unique:
            law = LAWS["besiroglu" if cfg.law == "rule20" else cfg.law]
            flops = budget["flops"] if budget else 6 * n_plan * d_plan
            better = data_constrained_plan(law, flops, unique)
            data["better_allocation"] = {**better, "law": law.name, "flops": flops}
            data["loss_as_planned"] = data_constrained_loss(law, n_plan, d_plan, unique)
            # ~N x too little data: the planned tokens would need N x the unique data at max_epochs passes
            data["too_small_by"] = d_plan / (cfg.max_epochs * unique)
            data["degenerate"] = better["epochs"] > DEGENERATE_EPOCHS
            if n_fixed is None and not data["degenerate"]:  # free to choose the size: the constrained optimum
                n_plan, d_plan = better["n_params"], better["tokens"]
                reasons.append("Muennighoff data-constrained optimum")
        cap = cfg.max_epochs * unique
        if d_plan > cap:
            d_plan = cap
            reasons.append(f"capped at max_epochs={cfg.max_epochs:g} passes over the unique tokens")
        data["token_target_epochs"] = d_plan / unique

    if shape is None:
        shape = model_shape_for(int(n_plan), cfg.vocab_size, cfg.seq_len, cfg.tie_embeddings)
    token_target = int(round(d_plan))
    plan_row = _row("plan", n_plan, d_plan, cfg)
    mem_kw = dict(precision=cfg.precision, num_gpus=cfg.num_gpus, gpus_per_node=cfg.gpus_per_node,
                  micro_batch=cfg.micro_batch, activation_checkpointing=cfg.activation_checkpointing,
                  flash_attention=cfg.flash_attention)
    mem = _memory_section(shape, cfg, mem_kw)
    warnings = _warnings(plan_row, data, cfg)

    summary = {
        "stage": "plan",
        "token_target": token_target,
        "n_params": int(round(n_plan)),
        "shape": shape.to_dict(),
        "shape_params": count_params(shape),
        "budget": budget,
        "law": cfg.law,
        "reason": "; ".join(reasons),
        "plan": plan_row,
        "laws": rows,
        "data": data,
        "memory": mem,
        "warnings": warnings,
        "config": cfg.model_dump(),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(summary, indent=2, default=float))
    if cfg.plot:
        plot_plan(summary, out_dir / f"{stem}.png")
    if stem == "plan":  # a stage run (not a named example): the run directory's manifest
        manifest = {"stage": "plan", "config": cfg.model_dump(),
                    "inputs": {"n_params": n_params, "available_tokens": available_tokens},
                    "token_target": token_target, "n_params": summary["n_params"]}
        write_manifest(out_dir, manifest)
    print(format_plan(summary))
    for line in warnings:
        log.warning("plan: %s", line)
    _refuse_if_it_cannot_fit(summary, cfg)
    return summary


def _warnings(plan_row: dict, data: dict | None, cfg: PlanConfig) -> list[str]:
    """What a plan that runs would still get wrong: years of compute, or data far too small."""
    out = []
    hours = plan_row["wall_clock_hours"]
    if hours > ABSURD_HOURS:
        out.append(f"the plan takes {hours / (24 * 365):.3g} years on {cfg.num_gpus} x {cfg.gpu_type} "
                   f"({hours * cfg.num_gpus:.3g} GPU-hours at mfu {cfg.mfu:g}); add GPUs (plan.num_gpus) or "
                   f"lower the budget / model size")
    if data and data.get("too_small_by", 1) > 1 and data.get("degenerate"):
        out.append(f"the data is too small by ~{data['too_small_by']:.3g}x: {data['unique_tokens']:.3g} unique tokens "
                   f"for a plan of {data['planned_tokens']:.3g} tokens; the data-constrained optimum would repeat "
                   f"them {data['better_allocation']['epochs']:.3g} times, which no scaling law covers, so the "
                   f"token target is capped at max_epochs={cfg.max_epochs:g}; add data or plan a smaller model")
    return out


def _refuse_if_it_cannot_fit(summary: dict, cfg: PlanConfig) -> None:
    """A plan whose memory does not fit is an error before any compute, naming what would fit."""
    conf = summary["memory"]["configured"]
    if conf["fits"]:
        return
    rec = summary["memory"]["recommended"]
    where = f"{cfg.num_gpus} x {cfg.gpu_type}"
    if conf["option"] is None:
        need = f"{conf['total'] / memory.GIB:.1f} GiB/GPU even with every ZeRO stage and offload"
    else:
        need = f"{conf['option']} needs {conf['total'] / memory.GIB:.1f} GiB/GPU, host {conf['host'] / memory.GIB:.0f} GiB/node"
    fix = (f"set plan.zero_stage and offload for {rec}" if rec else
           "add GPUs (plan.num_gpus), a larger GPU (plan.gpu_type), activation checkpointing or a smaller model")
    raise UserError(f"plan does not fit {where} (host {summary['memory']['host_gib']:.0f} GiB/node): "
                    f"{summary['n_params'] / 1e9:.3g}B parameters, {need}; {fix}")


def _memory_section(shape: ModelShape, cfg: PlanConfig, kw: dict) -> dict:
    n = count_params(shape)
    spec = memory.gpu_spec(cfg.gpu_type)
    out: dict = {"course": memory.course_table(n), "fits": memory.fits_table(shape, **kw)}
    out["zero_paper_bytes_per_param"] = {
        str(st): sum(v for k, v in memory.model_state_bytes_per_param(
            "bf16" if cfg.precision == "fp32" else cfg.precision, st, cfg.num_gpus,
            accounting="zero_paper").items() if k != "offloaded_total") for st in range(4)}
    host = int(cfg.host_memory_gib * memory.GIB) if cfg.host_memory_gib else memory.host_memory_bytes()
    out["host_gib"] = host / memory.GIB if host else float("nan")
    if cfg.zero_stage is None:
        option, est = memory.recommend(shape, spec.memory_bytes, host, **kw)
        out["recommended"] = memory.option_name(*option) if option else None
    else:
        option = (cfg.zero_stage, cfg.offload_optimizer, cfg.offload_params)
        est = memory.estimate_memory(shape, zero_stage=cfg.zero_stage, offload_optimizer=cfg.offload_optimizer,
                                     offload_params=cfg.offload_params, **kw)
        best, _ = memory.recommend(shape, spec.memory_bytes, host, **kw)
        out["recommended"] = memory.option_name(*best) if best else None
    out["configured"] = {"option": memory.option_name(*option) if option else None,
                         "fits": est.fits(spec.memory_bytes, host), "gpu": cfg.gpu_type, **est.to_dict()}
    return out



# Wu et al. 2023 (BloombergGPT, §2-3): 1.3M GPU-hours on 40GB A100s (64 nodes x 8), 102 TFLOP/s
# achieved of 312, activation checkpointing; 708.9B tokens (363B FinPile + 345B public); 50.6B
# parameters in 70 layers of width 7680, 40 heads, vocabulary 131,072, context 2048, tied embeddings.
# Its 4h GELU MLP has the parameters of a SwiGLU MLP of width 8h/3 = 20480, hence that d_ff.
PRESETS: dict[str, tuple[dict, ModelShape | None]] = {
    "bloomberggpt": (
        dict(gpu_type="a100-40gb", num_gpus=512, gpu_hours=1.3e6, mfu=102 / 312, activation_checkpointing=True,
             available_tokens=708_900_000_000, vocab_size=131072, seq_len=2048, tie_embeddings=True),
        ModelShape(70, 7680, 40, 40, 20480, 131072, 2048, tie_embeddings=True),
    ),
}
