"""The eval report: Markdown tables and a PNG, built only from numbers already in results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def format_table(intrinsic: dict[str, dict[str, dict]]) -> str:
    """Markdown table: one row per model and held-out group (bits/byte first: it is tokenizer-independent)."""
    lines = [
        "| model | group | bits/byte | byte perplexity | word perplexity | docs |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for model, groups in intrinsic.items():
        for group, row in groups.items():
            lines.append(
                f"| {model} | {group} | {_fmt(row['bits_per_byte'])} | {_fmt(row['byte_perplexity'])} "
                f"| {_fmt(row['word_perplexity'], 2)} | {row['docs']} |"
            )
    return "\n".join(lines)


def write_report(results: dict, out_dir: Path) -> dict[str, str]:
    """Writes report.md and report.png into out_dir; returns their paths."""
    out_dir = Path(out_dir)
    md = ["# Evaluation report", ""]
    md += ["## Intrinsic: held-out text (lm-evaluation-harness, loglikelihood_rolling)", ""]
    md += [
        "Bits per byte = total negative log-likelihood of the documents in bits / their UTF-8 bytes; "
        "lower is better and it compares models with different tokenizers.",
        "",
        format_table(results["intrinsic"]),
        "",
    ]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md))
    png_path = out_dir / "report.png"
    plot_intrinsic(results["intrinsic"], png_path)
    return {"markdown": str(md_path), "png": str(png_path)}


def plot_intrinsic(intrinsic: dict[str, dict[str, dict]], path: Path) -> None:
    """Grouped bars: bits per byte per held-out group, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(intrinsic)
    groups = sorted({g for rows in intrinsic.values() for g in rows})
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(1.5 + 1.6 * len(groups), 3.2))
    for i, model in enumerate(models):
        xs = [j + i * width for j in range(len(groups))]
        ys = [intrinsic[model].get(g, {}).get("bits_per_byte") or 0.0 for g in groups]
        ax.bar(xs, ys, width=width, label=model)
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(groups))], groups)
    ax.set_ylabel("bits per byte (lower is better)")
    ax.set_title("Held-out text")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
