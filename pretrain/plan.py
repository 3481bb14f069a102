"""Compute-optimal sizing before any GPU is spent: how big a model the budget buys, how many tokens it
should see, whether the data is enough, and whether it fits in memory (`dapt plan`).

Three sizing rules side by side:
- ``rule20``: ~20 training tokens per parameter (Hoffmann et al. 2022, Table 3: 70B <-> 1.4T).
- ``hoffmann``: Chinchilla Approach 3, L(N, D) = E + A/N^alpha + B/D^beta with the published fit
  (Hoffmann et al. 2022, eq. 10: E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28).
- ``besiroglu``: the refit of the same data by Besiroglu et al. 2024 ("Chinchilla Scaling: A
  replication attempt", Table 1: E 1.8172, A 482.01, B 2085.43, alpha 0.3478, beta 0.3658), which
  agrees with Approaches 1 and 2 where the published Approach 3 constants do not.
Training compute C = 6ND (Kaplan et al. 2020, §2.1), optionally + the attention term 6 n_layer n_ctx d.
Data-constrained: Muennighoff et al. 2023 ("Scaling Data-Constrained Language Models", eq. 5).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dapt.errors import UserError
from pretrain import memory
from pretrain.shape import ModelShape, count_params, model_shape_for

PF_DAY = 1e15 * 86400  # one petaflop/s sustained for a day (Kaplan et al. 2020 report compute in PF-days)
# Muennighoff et al. 2023 (eq. 5 and Fig. 3 fit): repeated tokens decay with R*_D = 15.387 epochs,
# excess parameters with R*_N = 5.309; up to ~4 epochs is almost as good as unique data.
R_STAR_D = 15.387
R_STAR_N = 5.309
# With full activation checkpointing the forward pass runs twice: 8ND hardware FLOPs for 6ND of model
# FLOPs, so BloombergGPT (§3.3) plugs 0.75 x its GPU-hour budget into the Chinchilla equations.
RECOMPUTE_FRACTION = 6 / 8


@dataclass(frozen=True)
class ScalingLaw:
    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, n: float, d: float) -> float:
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    @property
    def _g(self) -> float:
        # Hoffmann et al. 2022, eq. 4: N_opt(C) = G (C/6)^a, D_opt(C) = G^-1 (C/6)^b.
        return (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))

    @property
    def a(self) -> float:
        return self.beta / (self.alpha + self.beta)

    def optimal(self, flops: float) -> tuple[float, float]:
        n = self._g * (flops / 6) ** self.a
        return n, flops / (6 * n)

    def tokens_for(self, n: float) -> float:
        """The D for which `n` parameters is compute-optimal (inverting N_opt(C))."""
        c6 = (n / self._g) ** (1 / self.a)
        return c6 / n


LAWS: dict[str, ScalingLaw] = {
    "hoffmann": ScalingLaw("hoffmann", 1.69, 406.4, 410.7, 0.34, 0.28, "Hoffmann et al. 2022, Approach 3"),
    "besiroglu": ScalingLaw("besiroglu", 1.8172, 482.01, 2085.43, 0.3478, 0.3658, "Besiroglu et al. 2024 refit"),
}
LAW_NAMES = ("rule20", "hoffmann", "besiroglu")
# Hoffmann et al. 2022 fitted their laws on models of 44M to 16B parameters (§3.3, Approach 3 data).
LAW_FIT_RANGE = (4.4e7, 1.6e10)


def optimal_allocation(law: str, flops: float, tokens_per_param: float = 20.0) -> tuple[float, float]:
    """(N_opt, D_opt) for a model-FLOPs budget under one sizing rule."""
    if law == "rule20":
        n = math.sqrt(flops / (6 * tokens_per_param))
        return n, tokens_per_param * n
    return LAWS[law].optimal(flops)


def tokens_for_params(law: str, n: float, tokens_per_param: float = 20.0) -> float:
    """Compute-optimal training tokens for a model of `n` parameters."""
    if law == "rule20":
        return tokens_per_param * n
    return LAWS[law].tokens_for(n)


def predicted_loss(n: float, d: float, law: str = "besiroglu") -> float:
    return LAWS[law].loss(n, d)


def training_flops(n: float, d: float, shape: ModelShape | None = None) -> dict[str, float]:
    """Training FLOPs: 6ND, and with the attention term 6 * n_layer * n_ctx * d_model per token
    (Kaplan et al. 2020, Table 1: forward = 2N + 2 n_layer n_ctx d_attn; backward twice the forward)."""
    out = {"flops_6nd": 6 * n * d}
    if shape is not None:
        out["flops_with_attention"] = 6 * n * d + 6 * shape.n_layers * shape.seq_len * shape.d_model * d
    return out


def effective_data(unique: float, tokens: float, r_star: float = R_STAR_D) -> float:
    """Muennighoff et al. 2023 eq. 5: D' = U + U R* (1 - exp(-R/R*)), R = tokens/U - 1 repeated epochs."""
    if tokens <= unique:
        return tokens
    r = tokens / unique - 1
    return unique + unique * r_star * (1 - math.exp(-r / r_star))


def data_constrained_loss(law: ScalingLaw, n: float, d: float, unique: float) -> float:
    """Muennighoff et al. 2023's loss: repeated tokens (D') and excess parameters (N') decay.

    U_N, the parameters the unique data can feed compute-optimally, is N_opt for D = U; parameters
    beyond it decay with R*_N like repeated epochs do with R*_D.
    """
    d_eff = effective_data(unique, d)
    u_n = _params_for_tokens(law, unique)
    n_eff = n if n <= u_n else u_n + u_n * R_STAR_N * (1 - math.exp(-(n / u_n - 1) / R_STAR_N))
    return law.loss(n_eff, d_eff)


def _params_for_tokens(law: ScalingLaw, tokens: float) -> float:
    # tokens_for(N) = (N/G)^(1/a) / N is a power law in N: invert it in closed form.
    p = 1 / law.a - 1
    return (tokens * law._g ** (1 / law.a)) ** (1 / p)


def data_constrained_plan(law: ScalingLaw, flops: float, unique: float) -> dict:
    """The (N, D) minimising Muennighoff's data-constrained loss for this compute and unique data."""
    n_opt, _ = law.optimal(flops)
    grid = np.geomspace(n_opt / 100, n_opt * 4, 1200)
    losses = [data_constrained_loss(law, float(n), flops / (6 * float(n)), unique) for n in grid]
    i = int(np.argmin(losses))
    n = float(grid[i])
    d = flops / (6 * n)
    return {"n_params": n, "tokens": d, "epochs": d / unique, "effective_tokens": effective_data(unique, d),
            "predicted_loss": float(losses[i])}


class PlanConfig(BaseModel):
    """How to size the run. Give a compute budget (flops, pf_days, or gpu_type + num_gpus + hours /
    gpu_hours), a target size (n_params), or both; everything is optional."""

    model_config = ConfigDict(extra="forbid")

    flops: float | None = Field(None, description="model-FLOPs budget (6ND)")
    pf_days: float | None = Field(None, description="budget in petaflop/s-days")
    gpu_type: str = Field("a100-80gb", description=f"one of {', '.join(memory.GPUS)}")
    num_gpus: int = Field(8, ge=1)
    gpus_per_node: int = Field(8, ge=1)
    hours: float | None = Field(None, description="wall-clock hours on num_gpus")
    gpu_hours: float | None = Field(None, description="total GPU-hours (hours x num_gpus)")
    mfu: float = Field(0.4, description="achieved fraction of peak FLOP/s, recomputation included "
                                        "(BloombergGPT: 102/312)")
    n_params: int | None = Field(None, description="target parameters (otherwise the law's N_opt)")
    available_tokens: int | None = Field(None, description="unique training tokens available")
    tokens_per_param: float = Field(20.0, gt=0)
    law: Literal["rule20", "hoffmann", "besiroglu"] = Field("rule20", description="which rule sets the token target")
    max_epochs: float = Field(4.0, gt=0, description="cap on passes over the unique data "
                                                     "(Muennighoff: ~4 is nearly free)")
    vocab_size: int = Field(32000, ge=1)
    seq_len: int = Field(2048, ge=1)
    tie_embeddings: bool = False
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    zero_stage: Literal[0, 1, 2, 3] | None = Field(None, description="None: the lowest stage that fits")
    offload_optimizer: bool = False
    offload_params: bool = False
    micro_batch: int = Field(1, ge=1)
    activation_checkpointing: bool = True
    flash_attention: bool = True
    plot: bool = True

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
            if n_fixed is None:  # free to choose the size: take the data-constrained optimum
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
        "config": cfg.model_dump(),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(summary, indent=2, default=float))
    if cfg.plot:
        plot_plan(summary, out_dir / f"{stem}.png")
    if stem == "plan":  # a stage run (not a named example): the run directory's manifest
        manifest = {"stage": "plan", "config": cfg.model_dump(),
                    "inputs": {"n_params": n_params, "available_tokens": available_tokens},
                    "token_target": token_target, "n_params": summary["n_params"]}
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    print(format_table(summary))
    return summary


def _memory_section(shape: ModelShape, cfg: PlanConfig, kw: dict) -> dict:
    n = count_params(shape)
    spec = memory.gpu_spec(cfg.gpu_type)
    out: dict = {"course": memory.course_table(n), "fits": memory.fits_table(shape, **kw)}
    out["zero_paper_bytes_per_param"] = {
        str(st): sum(v for k, v in memory.model_state_bytes_per_param(
            "bf16" if cfg.precision == "fp32" else cfg.precision, st, cfg.num_gpus,
            accounting="zero_paper").items() if k != "offloaded_total") for st in range(4)}
    if cfg.zero_stage is None:
        option, est = memory.recommend(shape, spec.memory_bytes, **kw)
        out["recommended"] = memory.option_name(*option) if option else None
    else:
        option = (cfg.zero_stage, cfg.offload_optimizer, cfg.offload_params)
        est = memory.estimate_memory(shape, zero_stage=cfg.zero_stage, offload_optimizer=cfg.offload_optimizer,
                                     offload_params=cfg.offload_params, **kw)
        best, _ = memory.recommend(shape, spec.memory_bytes, **kw)
        out["recommended"] = memory.option_name(*best) if best else None
    out["configured"] = {"option": memory.option_name(*option) if option else None,
                         "fits": est.fits(spec.memory_bytes), "gpu": cfg.gpu_type, **est.to_dict()}
    return out


def _fmt(x: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def format_table(s: dict) -> str:
    lines = [f"plan: {s['n_params'] / 1e9:.4g}B parameters, token target {_fmt(s['token_target'])} ({s['reason']})"]
    if s["budget"]:
        lines.append(f"budget: {s['budget']['flops']:.3g} model FLOPs ({s['budget']['flops'] / PF_DAY:.4g} PF-days) "
                     f"from {s['budget']['source']}")
    lines.append(f"{'rule':<10} {'N':>8} {'D':>8} {'D/N':>6} {'loss(H)':>8} {'loss(B)':>8} {'6ND':>9} "
                 f"{'+attn':>9} {'PF-days':>9} {'hours':>9}")
    for r in [*s["laws"].values(), s["plan"]]:
        lines.append(f"{r['law']:<10} {_fmt(r['n_params']):>8} {_fmt(r['tokens']):>8} {r['tokens_per_param']:>6.1f} "
                     f"{r['loss_hoffmann']:>8.3f} {r['loss_besiroglu']:>8.3f} {r['flops_6nd']:>9.3g} "
                     f"{r['flops_with_attention']:>9.3g} {r['pf_days']:>9.3g} {r['wall_clock_hours']:>9.3g}")
    d = s["data"]
    if d:
        lines.append(f"data: {_fmt(d['unique_tokens'])} unique tokens; plan as sized = {d['epochs']:.2f} epochs "
                     f"(effective {_fmt(d['effective_tokens'])}); token target = {d['token_target_epochs']:.2f} epochs")
        if "better_allocation" in d:
            b = d["better_allocation"]
            lines.append(f"data-constrained optimum ({b['law']}, Muennighoff 2023): {_fmt(b['n_params'])} params x "
                         f"{_fmt(b['tokens'])} tokens ({b['epochs']:.2f} epochs), loss {b['predicted_loss']:.3f} "
                         f"vs {d['loss_as_planned']:.3f} as planned")
    m = s["memory"]
    sh = s["shape"]
    lines.append(f"shape: {sh['n_layers']} layers, d_model {sh['d_model']}, {sh['n_heads']} heads "
                 f"({sh['n_kv_heads']} kv), d_ff {sh['d_ff']}, vocab {sh['vocab_size']}, seq {sh['seq_len']} "
                 f"= {s['shape_params'] / 1e9:.4g}B params")
    if abs(s["shape_params"] / s["n_params"] - 1) > 0.1:
        lines.append(f"note: no Llama shape with vocab {sh['vocab_size']} has {_fmt(s['n_params'])} parameters; "
                     "memory below is for the shape above (pass the model's shape to run_plan, or set plan.vocab_size)")
    if s["n_params"] < LAW_FIT_RANGE[0] or s["n_params"] > LAW_FIT_RANGE[1]:
        lines.append(f"note: the losses extrapolate the laws outside the sizes they were fitted on "
                     f"({_fmt(LAW_FIT_RANGE[0])}-{_fmt(LAW_FIT_RANGE[1])} parameters)")
    c = m["course"]
    lines.append(f"store: fp32 {c['store_gb']['fp32']:.3g} GB, bf16 {c['store_gb']['bf16']:.3g} GB, int8 "
                 f"{c['store_gb']['int8']:.3g} GB; train (fp32 Adam rule of thumb, 24 B/param) "
                 f"{c['train_fp32_adam_gb']:.3g} GB")
    z = m["zero_paper_bytes_per_param"]
    lines.append(f"ZeRO paper, mixed-precision Adam states over {s['config']['num_gpus']} GPUs (B/param): "
                 + ", ".join(f"stage {k} {v:.3g}" for k, v in z.items()))
    lines.append(f"memory ({m['configured']['gpu']}): {m['configured']['option']} -> "
                 f"{m['configured']['total'] / memory.GIB:.1f} GiB/GPU, fits={m['configured']['fits']}; "
                 f"lowest that fits: {m['recommended']}")
    lines.append(f"{'gpu':<14} {'GiB':>6} {'fits':>5} {'GiB/GPU':>8} {'host GiB':>9}  lowest ZeRO option that fits")
    for r in m["fits"]:
        lines.append(f"{r['gpu']:<14} {r['capacity_gib']:>6.1f} {str(r['fits']):>5} {r['per_gpu_gib']:>8.1f} "
                     f"{r['host_gib_per_node']:>9.0f}  "
                     f"{r['recommended'] or 'nothing fits'}")
    return "\n".join(lines)


# Published (parameters, training tokens) of models in BloombergGPT's Figure 1 / Hoffmann et al.'s
# Figure 1: GPT-3 (Brown et al. 2020), Gopher (Rae et al. 2021), MT-NLG (Smith et al. 2022), PaLM
# (Chowdhery et al. 2022), OPT (Zhang et al. 2022), BLOOM (BigScience 2022), Chinchilla (Hoffmann et
# al. 2022), LLaMA (Touvron et al. 2023), BloombergGPT (Wu et al. 2023, §3: 569B tokens seen).
REFERENCE_MODELS: dict[str, tuple[float, float]] = {
    "GPT-3": (175e9, 300e9), "Gopher": (280e9, 300e9), "MT-NLG": (530e9, 270e9), "PaLM": (540e9, 780e9),
    "OPT": (175e9, 180e9), "BLOOM": (176e9, 366e9), "Chinchilla": (70e9, 1.4e12), "LLaMA-65B": (65e9, 1.4e12),
    "BloombergGPT": (50.6e9, 569e9),
}
# Kaplan et al. 2020, Fig. 14 / eq. 6.1: N_opt = 1.3e9 (C / PF-day)^0.73 (non-embedding parameters).
KAPLAN_COEF, KAPLAN_EXP = 1.3e9, 0.73
# Label nudges (points, alignment) so names of neighbouring models do not overprint.
LABEL_OFFSETS = {"Chinchilla": (-4, 4, "right"), "LLaMA-65B": (4, -9, "left"), "OPT": (-4, -9, "right"),
                 "GPT-3": (-4, 3, "right"), "BLOOM": (4, -2, "left"), "Gopher": (4, 3, "left"),
                 "MT-NLG": (-4, 4, "right"), "PaLM": (4, -2, "left"), "BloombergGPT": (-4, -10, "right")}


def plot_plan(summary: dict, path: Path) -> None:
    """BloombergGPT Figure 1 style: compute vs parameters and compute vs tokens, lines per rule, plan marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan = summary["plan"]
    xs = [plan["flops_6nd"], *(6 * n * d for n, d in REFERENCE_MODELS.values())]
    flops = np.geomspace(min(xs) / 30, max(xs) * 30, 200)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    styles = {"rule20": ("20 tokens/param", "C0", "-"), "hoffmann": ("Chinchilla Approach 3 (Hoffmann)", "C1", "--"),
              "besiroglu": ("Chinchilla refit (Besiroglu)", "C2", "-.")}
    for law, (label, color, ls) in styles.items():
        nd = np.array([optimal_allocation(law, float(c)) for c in flops])
        axes[0].plot(flops, nd[:, 0], ls, color=color, label=label)
        axes[1].plot(flops, nd[:, 1], ls, color=color, label=label)
    kn = KAPLAN_COEF * (flops / PF_DAY) ** KAPLAN_EXP
    axes[0].plot(flops, kn, ":", color="C3", label="Kaplan et al. 2020")
    axes[1].plot(flops, flops / (6 * kn), ":", color="C3", label="Kaplan et al. 2020")
    for name, (n, d) in REFERENCE_MODELS.items():
        c = 6 * n * d
        dx, dy, ha = LABEL_OFFSETS.get(name, (4, 3, "left"))
        for ax, y in ((axes[0], n), (axes[1], d)):
            ax.scatter([c], [y], color="gray", s=18, zorder=3)
            ax.annotate(name, (c, y), fontsize=7, color="dimgray", xytext=(dx, dy), textcoords="offset points", ha=ha)
    if summary.get("budget"):
        for ax in axes:
            ax.axvline(summary["budget"]["flops"], color="black", lw=0.8, alpha=0.5, label="budget")
    for ax, y in ((axes[0], plan["n_params"]), (axes[1], plan["tokens"])):
        ax.scatter([plan["flops_6nd"]], [y], marker="*", s=220, color="red", zorder=4, label="this plan")
    dc = (summary.get("data") or {}).get("better_allocation")
    if dc:
        for ax, y in ((axes[0], dc["n_params"]), (axes[1], dc["tokens"])):
            ax.scatter([dc["flops"]], [y], marker="D", color="purple", zorder=4, label="data-constrained optimum")
        axes[1].axhline(summary["data"]["unique_tokens"], color="purple", lw=0.8, ls=":", label="unique tokens")
        axes[1].legend(fontsize=8, loc="upper left", handles=axes[1].get_legend_handles_labels()[0][-3:])
    for ax, ylabel in ((axes[0], "parameters"), (axes[1], "training tokens")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training FLOPs (6ND)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"plan: {_fmt(plan['n_params'])} parameters, {_fmt(plan['tokens'])} tokens, "
                 f"{plan['flops_6nd']:.2g} FLOPs (gray: published models; style of BloombergGPT Fig. 1)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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


def main(argv: list[str] | None = None) -> int:
    """`python -m pretrain.plan OUT_DIR [--preset bloomberggpt] [--stem NAME] [key=value ...]`."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(prog="python -m pretrain.plan", description=main.__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a published run's budget, data and shape")
    parser.add_argument("--stem", default="plan", help="file name stem of the JSON and PNG (default: plan)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="PlanConfig fields")
    args = parser.parse_intermixed_args(argv)
    fields, shape = PRESETS[args.preset] if args.preset else ({}, None)
    fields = dict(fields)
    try:
        for item in args.overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise UserError(f"override {item!r} is not key=value; write e.g. gpu_hours=1.3e6")
            fields[key] = yaml.safe_load(value)
        run_plan(PlanConfig(**fields), args.out_dir, shape=shape, stem=args.stem)
    except UserError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
