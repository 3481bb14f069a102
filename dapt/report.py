"""The run's final report: one Markdown page, top to bottom, with every stage's figures and plots.

It only reads what the stages wrote in the run directory (stats, manifests, metrics, their own
reports) and copies their PNGs beside it, so ``report/`` can be shared as one folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dapt.config import DaptConfig  # noqa: E402
from dapt.pretrain.curves import loss_curves  # noqa: E402
from dapt.summary import format_table  # noqa: E402

MODELS = {"domain-mix": "model", "general-only": "baseline/model"}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def funnel_rows(run_dir: Path) -> list[dict[str, Any]]:
    """Per source: words read, kept by curate, kept by select (the data funnel)."""
    curated = _load(run_dir / "curated" / "stats.json") or {"sources": {}}
    selected = _load(run_dir / "selected" / "stats.json") or {"sources": {}}
    rows = []
    for name, entry in curated["sources"].items():
        sel = selected["sources"].get(name)
        rows.append({
            "source": name,
            "domain": entry["domain"],
            "docs_in": entry["docs"]["in"],
            "words_in": entry["words"]["in"],
            "docs_curated": entry["docs"]["kept"],
            "words_curated": entry["words"]["kept"],
            "docs_selected": sel["kept"]["docs"] if sel else None,
            "words_selected": sel["kept"]["words"] if sel else None,
            "routed_out": sum((sel or {}).get("routed", {}).values()),
        })
    return rows


def plot_funnel(rows: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = [r["source"] for r in rows]
    width = 0.27
    for i, (key, label) in enumerate([("words_in", "read"), ("words_curated", "after curate"),
                                      ("words_selected", "after select")]):
        values = [r[key] or 0 for r in rows]
        ax.bar([x + (i - 1) * width for x in range(len(rows))], values, width, label=label)
    for x, r in enumerate(rows):
        if r["words_selected"] is not None and r["words_in"]:
            ax.annotate(f"{r['words_selected'] / r['words_in']:.0%}", (x + width, r["words_selected"] or 0),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)), names)
    ax.set_ylabel("words")
    ax.set_title("Data funnel (kept fraction of words above the last bar)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_model_losses(run_dir: Path, path: Path) -> dict[str, dict[str, Any]]:
    """Train and validation losses of both models against tokens in one figure (a single run's own
    plot is pretrain's loss.png); returns each model's curve summary."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    found: dict[str, dict[str, Any]] = {}
    for (name, folder), color in zip(MODELS.items(), ("tab:blue", "tab:orange")):
        curves = loss_curves(run_dir / folder / "metrics.jsonl", x="tokens")
        if not any(curves.values()):
            continue
        found[name] = {"train_points": len(curves["train"]), "val_points": len(curves.get("domain", []))}
        if curves["train"]:
            axes[0].plot(*zip(*curves["train"]), color=color, label=f"{name} train")
        for group, style in (("domain", "-"), ("general", "--")):
            if curves.get(group):
                axes[1].plot(*zip(*curves[group]), style, color=color, marker="o", ms=3, label=f"{name} val {group}")
    axes[0].set_title("training loss")
    axes[1].set_title("validation loss (solid: domain, dashed: general)")
    for ax in axes:
        ax.set_xlabel("tokens")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("cross-entropy (nats/token)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return found


def _copy_png(src: Path, out_dir: Path, name: str) -> str | None:
    if not src.is_file():
        return None
    shutil.copyfile(src, out_dir / name)
    return name


def _headline(results: dict[str, Any] | None) -> list[str]:
    """Bits-per-byte of each model on domain and general held-out text (95 % intervals), and the
    domain-mix minus general-only differences with their paired intervals."""
    if not results or not results.get("intrinsic"):
        return []
    intrinsic = results["intrinsic"]
    groups = ("domain", "general")

    def cell(row: dict[str, Any]) -> str:
        if row.get("bits_per_byte") is None:
            return "n/a"
        ci = row.get("bits_per_byte_ci95")
        return f"{row['bits_per_byte']:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")

    lines = [format_table(["model", "domain bits/byte [95 % interval]", "general bits/byte [95 % interval]"],
                          [[name, cell(rows.get("domain", {})), cell(rows.get("general", {}))]
                           for name, rows in intrinsic.items()], markdown=True)]
    # eval's reference is the domain-mix model, so its comparisons read general-only minus domain-mix
    cmp = (results.get("intrinsic_vs_reference") or {}).get("general-only", {})
    if results.get("reference") == "domain-mix" and cmp:
        parts = []
        for g in groups:
            c = cmp.get(g)
            if not c or c["diff"] is None:
                continue
            text = f"{g} {-c['diff']:+.4f} bits/byte"
            if c["ci95"]:
                lo, hi = -c["ci95"][1], -c["ci95"][0]
                # eval decided it (dapt.eval.bootstrap.verdict); said here from the domain-mix side
                verdict = {"domain-mix better": "better", "general-only better": "worse"}.get(c["verdict"], c["verdict"])
                text += f" [{lo:+.4f}, {hi:+.4f}] ({verdict})"
            parts.append(text)
        lines += ["", "Domain-mix minus general-only: " + ", ".join(parts)
                  + ". Lower is better; intervals are 95 % paired bootstraps over the held-out documents."]
    return lines


def write_run_report(cfg: DaptConfig, run_dir: Path) -> dict[str, Any]:
    """Writes ``run_dir/report/report.md`` (+ PNGs); returns where it is and the headline numbers."""
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    md: list[str] = [f"# dapt run report: {cfg.run.name}", "",
                     f"Run directory `{run_dir}`; resolved config `config.resolved.yaml`.", ""]

    results = _load(run_dir / "eval" / "results.json")
    md += ["## Headline: does the domain mix pay off?", "", *_headline(results), ""]

    rows = funnel_rows(run_dir)
    if rows:
        plot_funnel(rows, out / "funnel.png")
        body = []
        for r in rows:
            kept = r["words_selected"] if r["words_selected"] is not None else r["words_curated"]
            body.append([r["source"], r["domain"], r["docs_in"], r["docs_curated"],
                         r["docs_selected"] if r["docs_selected"] is not None else "-", f"{r['words_in']:,}",
                         f"{kept:,}", f"{kept / max(r['words_in'], 1):.1%}", r["routed_out"]])
        md += ["## 1. Data funnel (curate, then select)", "",
               format_table(["source", "domain", "docs read", "docs after curate", "docs after select", "words read",
                             "words kept", "kept", "routed to a domain"], body, align="llrrrrrrr", markdown=True),
               "", "![data funnel](funnel.png)", "",
               "Drop reasons per source: `curated/stats.json`; dedup and selection fates: `selected/stats.json`.", ""]

    tok = run_dir / "tokenizer_report" / "report.md"
    if tok.is_file():
        md += ["## 2. Tokenizer fit", "", _demote(tok.read_text(encoding="utf-8"))]
        if _copy_png(run_dir / "tokenizer_report" / "report.png", out, "tokenizer.png"):
            md += ["", "![tokenizer fertility](tokenizer.png)"]
        md.append("")

    plan = _load(run_dir / "plan" / "plan.json")
    if plan:
        md += ["## 3. Plan", "",
               f"Model parameters {plan['n_params']:,}; token target from the planner {plan['token_target']:,}"
               f" (the trainer used {cfg.pretrain.token_target or plan['token_target']:,}).", ""]
        if _copy_png(run_dir / "plan" / "plan.png", out, "plan.png"):
            md += ["![plan](plan.png)", ""]

    mix = run_dir / "mix" / "mix.md"
    if mix.is_file():
        md += ["## 4. Mixture", "", _demote(mix.read_text(encoding="utf-8")), ""]

    curves = plot_model_losses(run_dir, out / "losses.png")
    if curves:
        body = []
        for name, folder in MODELS.items():
            s = _load(run_dir / folder / "summary.json")
            if s:
                body.append([name, s["steps"], f"{s['tokens']:,}", f"{s['initial_train_loss']:.4f}",
                             f"{s['final_train_loss']:.4f}", s["stop_reason"]])
        md += ["## 5. Pre-training", "",
               format_table(["model", "steps", "tokens", "initial loss", "final loss", "stop reason"], body,
                            align="lrrrrl", markdown=True),
               "", "![loss curves](losses.png)", ""]

    ev = run_dir / "eval" / "report.md"
    if ev.is_file():
        md += ["## 6. Evaluation", "", _demote(ev.read_text(encoding="utf-8"))]
        for png in sorted((run_dir / "eval").glob("*.png")):
            md += ["", f"![{png.stem}]({_copy_png(png, out, 'eval_' + png.name)})"]
        md.append("")

    path = out / "report.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return {"report": str(path), "intrinsic": (results or {}).get("intrinsic")}


def _demote(markdown: str) -> str:
    """A stage's own report nested one heading level down (its title dropped)."""
    lines = markdown.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join("#" + line if line.startswith("#") else line for line in lines).strip()
