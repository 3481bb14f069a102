"""How a plan reads: the summary table `dapt plan` prints and the figure it writes beside plan.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dapt.pretrain import memory
from dapt.pretrain.scaling_laws import LAW_FIT_RANGE, PF_DAY, optimal_allocation
from dapt.summary import format_table


def _fmt(x: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def format_plan(s: dict) -> str:
    """What `dapt plan` prints: the sizing rules side by side, data, shape and memory."""
    lines = [f"plan: {s['n_params'] / 1e9:.4g}B parameters, token target {_fmt(s['token_target'])} ({s['reason']})"]
    if s["budget"]:
        lines.append(f"budget: {s['budget']['flops']:.3g} model FLOPs ({s['budget']['flops'] / PF_DAY:.4g} PF-days) "
                     f"from {s['budget']['source']}")
    lines.append(format_table(
        ["rule", "N", "D", "D/N", "loss(H)", "loss(B)", "6ND", "+attn", "PF-days", "hours"],
        [[r["law"], _fmt(r["n_params"]), _fmt(r["tokens"]), f"{r['tokens_per_param']:.1f}", f"{r['loss_hoffmann']:.3f}",
          f"{r['loss_besiroglu']:.3f}", f"{r['flops_6nd']:.3g}", f"{r['flops_with_attention']:.3g}",
          f"{r['pf_days']:.3g}", f"{r['wall_clock_hours']:.3g}"] for r in [*s["laws"].values(), s["plan"]]],
        align="lrrrrrrrrr"))
    d = s["data"]
    if d:
        lines.append(f"data: {_fmt(d['unique_tokens'])} unique tokens; plan as sized = {d['epochs']:.2f} epochs "
                     f"(effective {_fmt(d['effective_tokens'])}); token target = {d['token_target_epochs']:.2f} epochs")
        if d.get("degenerate"):
            lines.append(f"data-constrained optimum: none; the data is too small by ~{d['too_small_by']:.3g}x "
                         f"(the optimum would repeat it {d['better_allocation']['epochs']:.3g} times)")
        elif "better_allocation" in d:
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
    conf = m["configured"]
    option = conf["option"] or "no ZeRO stage or offload fits"
    lines.append(f"memory ({conf['gpu']}): {option} -> {conf['total'] / memory.GIB:.1f} GiB/GPU, "
                 f"host {conf['host'] / memory.GIB:.0f} of {m.get('host_gib', float('nan')):.0f} GiB/node, "
                 f"fits={conf['fits']}; lowest that fits: {m['recommended'] or 'none'}")
    lines.append(format_table(
        ["gpu", "GiB", "fits", "GiB/GPU", "host GiB", "lowest ZeRO option that fits"],
        [[r["gpu"], f"{r['capacity_gib']:.1f}", r["fits"], f"{r['per_gpu_gib']:.1f}", f"{r['host_gib_per_node']:.0f}",
          r["recommended"] or "nothing fits"] for r in m["fits"]],
        align="lrrrrl"))
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
    dc = None if (summary.get("data") or {}).get("degenerate") else (summary.get("data") or {}).get("better_allocation")
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

