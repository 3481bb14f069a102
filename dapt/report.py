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
# Chinchilla (Hoffmann et al. 2022, Table 3): compute-optimal training uses about 20 tokens per parameter.
CHINCHILLA_TOKENS_PER_PARAM = 20


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
    """Both models' validation losses against tokens, one panel per held-out group; returns each model's
    curve summary. Training losses are left out: each model's is measured on its own mixture, so two of
    them on one axis compare different data (a single run's training curve is pretrain's loss.png)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    found: dict[str, dict[str, Any]] = {}
    for (name, folder), color in zip(MODELS.items(), ("tab:blue", "tab:orange")):
        curves = loss_curves(run_dir / folder / "metrics.jsonl", x="tokens")
        if not any(curves.values()):
            continue
        found[name] = {"train_points": len(curves["train"]), "val_points": len(curves.get("domain", []))}
        for ax, group in zip(axes, ("domain", "general")):
            if curves.get(group):
                ax.plot(*zip(*curves[group]), color=color, marker="o", ms=3, label=f"{name}")
    for ax, group in zip(axes, ("domain", "general")):
        ax.set_title(f"validation loss, held-out {group} tokens")
        ax.set_xlabel("tokens")
        if ax.lines:
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
    """Bits-per-byte of each model per held-out group and per domain (95 % intervals), and each model minus
    the eval's reference with paired intervals, in the eval's one sign convention."""
    if not results or not results.get("intrinsic"):
        return []
    ref = results.get("reference")
    columns: list[tuple[str, str]] = [("intrinsic", "domain"), ("intrinsic", "general")]
    by_domain = results.get("intrinsic_by_domain") or {}
    columns += [("intrinsic_by_domain", d) for d in sorted({d for rows in by_domain.values() for d in rows})
                if d != "general"]

    def cell(row: dict[str, Any] | None) -> str:
        if not row or row.get("bits_per_byte") is None:
            return "n/a"
        ci = row.get("bits_per_byte_ci95")
        return f"{row['bits_per_byte']:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")

    def diff(c: dict[str, Any] | None) -> str:
        if not c or c.get("diff") is None:
            return "n/a"
        ci = f" [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]" if c.get("ci95") else ""
        return f"{c['diff']:+.4f}{ci} ({c['verdict']})"

    names = [("all domains pooled" if g == "domain" else g) if key == "intrinsic" else g for key, g in columns]
    lines = ["| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(columns)]
    for name in results["intrinsic"]:
        lines.append(f"| {name} | " + " | ".join(cell((results.get(k) or {}).get(name, {}).get(g)) for k, g in columns) + " |")
    for name in results["intrinsic"]:
        if name == ref:
            continue
        cmps = [(results.get(f"{k}_vs_reference") or {}).get(name, {}).get(g) for k, g in columns]
        lines.append(f"| {name} − {ref} | " + " | ".join(diff(c) for c in cmps) + " |")
    lines += ["", f"Bits per byte on held-out text [95 % bootstrap interval]; lower is better. Sign convention "
              f"(the one used throughout this report): a difference is *model − `{ref}`*, so a negative "
              "bits/byte difference favours the model; the verdict says which in words (paired bootstrap "
              "over the same documents)."]
    return lines


def _synthetic_notice(cfg: DaptConfig) -> list[str]:
    if cfg.sample is None:
        return []
    return ["> **Synthetic corpus.** This run's text is the project's generated sample (`sample:` in the config; "
            "pipeline/sample), with planted defects and known ground truth. Its numbers show that the pipeline "
            "works end to end; they say nothing about domain adaptation on real text.", ""]


def _loss(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "n/a"


def _tokens_per_param(summary: dict[str, Any]) -> str:
    n = summary.get("n_params")
    return f"{summary['tokens'] / n:.2f}" if n else "n/a"


def write_run_report(cfg: DaptConfig, run_dir: Path) -> dict[str, Any]:
    """Writes ``run_dir/report/report.md`` (+ PNGs); returns where it is and the headline numbers."""
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    md: list[str] = [f"# dapt run report: {cfg.run.name}", "",
                     f"Run directory `{run_dir}`; resolved config `config.resolved.yaml`.", "",
                     *_synthetic_notice(cfg)]

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
        md += ["## 5. Pre-training", "",
               "| model | parameters | steps | tokens | tokens per parameter | val loss domain | val loss general | stop reason |",
               "|---|---|---|---|---|---|---|---|"]
        for name, folder in MODELS.items():
            s = _load(run_dir / folder / "summary.json")
            if s:
                params = f"{s['n_params']:,}" if s.get("n_params") else "n/a"
                val = [_loss(s.get("val_losses", {}).get(g)) for g in ("domain", "general")]
                md.append(f"| {name} | {params} | {s['steps']} | {s['tokens']:,} | {_tokens_per_param(s)} | "
                          f"{val[0]} | {val[1]} | {s['stop_reason']} |")
        same = "the same held-out tokens" if cfg.baseline.tokenizer == "domain" else (
            "each model's own tokenizer's tokens, so they are not comparable across the two models (bits/byte in "
            "the evaluation is)")
        md += ["", "Validation losses (nats per token) are the last evaluation's, on " + same + ". Training losses "
               "are not compared: each model's is measured on its own mixture (its own `loss.png`).", "",
               f"Chinchilla's compute-optimal budget is about {CHINCHILLA_TOKENS_PER_PARAM} tokens per parameter "
               "(Hoffmann et al. 2022); a model trained on far fewer is not converged and its comparisons are "
               "early-training ones.", "", "![loss curves](losses.png)", ""]

    ev = run_dir / "eval" / "report.md"
    if ev.is_file():
        # its sign-convention line is the headline's (stated once per report)
        text = "\n".join(line for line in ev.read_text(encoding="utf-8").splitlines()
                         if not line.startswith("**Sign convention**"))
        md += ["## 6. Evaluation", "", _demote(text)]
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
