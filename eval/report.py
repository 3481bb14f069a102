"""The eval report: Markdown, JSON and PNG, built only from numbers already in results.json.

Every score and standard error is read from the harness's own results (``"acc,none"``,
``"acc_stderr,none"``); this module only lays them out, takes differences and averages. The one
exception is bits per byte, for which the harness has no error: its bootstrap intervals come from the
harness's per-document log-likelihoods (eval/bootstrap.py, computed in eval/run.py).
Accuracies get Wilson intervals and paired differences Newcombe's (eval/intervals.py), which stay in
[0, 1] and [-1, 1]; below MIN_EXAMPLES examples the report gives no verdict.
Tables follow BloombergGPT's (Wu et al. 2023, Tables 8-13): one row per task, one column per model,
then a domain average and a general average.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dapt.eval.bootstrap import verdict
from dapt.eval.intervals import (
    MIN_EXAMPLES, Z95, is_binary, mover_average, newcombe_paired, newcombe_unpaired, too_few, wilson,
)
from dapt.summary import format_table

TASK_METRICS = ("acc", "acc_norm")
GROUPS = ("domain", "general")


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def _number(value: Any) -> float | None:
    """A harness number, or None for its "N/A" (no stderr computed) and for missing or non-finite values."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def intrinsic_table(intrinsic: dict[str, dict[str, dict]]) -> str:
    """Markdown table: one row per model and held-out group (bits/byte first: it is tokenizer-independent)."""
    head = ["model", "group", "bits/byte", "95 % interval", "byte perplexity", "word perplexity", "docs"]
    rows = [[model, group, _fmt(row["bits_per_byte"]), _interval(row.get("bits_per_byte_ci95")),
             _fmt(row["byte_perplexity"]), _fmt(row["word_perplexity"], 2), row["docs"]]
            for model, groups in intrinsic.items() for group, row in groups.items()]
    return format_table(head, rows, align="llrrrrr", markdown=True)


def _interval(ci: list[float] | None, sign: str = "") -> str:
    return f"[{ci[0]:{sign}.4f}, {ci[1]:{sign}.4f}]" if ci else "n/a"


def domain_table(by_domain: dict[str, dict[str, dict]], diffs: dict[str, dict[str, dict]], reference: str) -> str:
    """Markdown: bits/byte per document domain for every model, and each model minus the reference."""
    domains = sorted({d for rows in by_domain.values() for d in rows})
    head = ["domain", "docs", *[f"{m} bits/byte [95 %]" for m in by_domain]]
    head += [f"{m} − {reference} [paired 95 %]" for m in diffs]
    lines = ["| " + " | ".join(head) + " |", "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |"]
    for d in domains:
        first = next(iter(by_domain.values())).get(d, {})
        cells = [d, str(first.get("docs", "n/a"))]
        for rows in by_domain.values():
            row = rows.get(d) or {}
            cells.append(f"{_fmt(row.get('bits_per_byte'))} {_interval(row.get('bits_per_byte_ci95'))}")
        for cmp in diffs.values():
            c = cmp.get(d) or {}
            cells.append("n/a" if c.get("diff") is None else
                         f"{c['diff']:+.4f} {_interval(c.get('ci95'), '+')} ({c['verdict']})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def intrinsic_diff_table(diffs: dict[str, dict[str, dict]], reference: str) -> str:
    """Markdown: each model's bits/byte minus the reference's per group, with the paired interval."""
    head = ["model", "group", f"minus `{reference}` (bits/byte)", "95 % interval (paired)", "verdict"]
    rows = [[model, group, f"{cmp['diff']:+.4f}" if cmp["diff"] is not None else "n/a", _interval(cmp["ci95"], "+"),
             cmp["verdict"]] for model, groups in diffs.items() for group, cmp in groups.items()]
    return format_table(head, rows, align="llrrl", markdown=True)


def verdict_of(diff: float, ci: list[float], ref_name: str, other_name: str, n: int | None = None) -> str:
    """No verdict under MIN_EXAMPLES examples; otherwise the one decision of eval (bootstrap.verdict)."""
    return too_few(n) or verdict(diff, ci[0], ci[1], ref_name, other_name)


def difference(diff: float | None, stderr: float | None, ref_name: str, other_name: str) -> dict:
    """A difference (other - ref, higher is better) with a 95 % interval from its standard error, and a verdict."""
    if diff is None:
        return {"diff": None, "ci95": None, "verdict": "missing", "stderr": None}
    if stderr is None:
        return {"diff": diff, "ci95": None, "verdict": "no stderr", "stderr": None}
    half = Z95 * stderr
    lo, hi = diff - half, diff + half
    said = verdict(diff, lo, hi, ref_name, other_name)
    if half == 0.0 and said != "within noise":
        # Both models all right or all wrong: the harness's stderr (sample sd / sqrt(n)) is 0 and the
        # interval has no width; say so rather than let a handful of examples look decisive.
        said += " (stderr 0: interval degenerate)"
    return {"diff": diff, "ci95": [lo, hi], "verdict": said, "stderr": stderr}


def compare(ref: dict, other: dict, ref_name: str, other_name: str) -> dict:
    """other - ref from the two harness scores, treated as independent: the fallback when the models'
    per-example answers cannot be paired. With each score's n: Newcombe's interval for two proportions;
    without: the normal approximation from the two stderrs (variances add)."""
    a, b = ref.get("value"), other.get("value")
    if a is None or b is None:
        return difference(None, None, ref_name, other_name)
    n_ref, n_other = ref.get("n"), other.get("n")
    if n_ref and n_other:
        ci = newcombe_unpaired(a, n_ref, b, n_other)
        err = (math.sqrt(ref["stderr"] ** 2 + other["stderr"] ** 2)
               if ref.get("stderr") is not None and other.get("stderr") is not None else None)
        return {"diff": b - a, "ci95": ci, "stderr": err, "n": min(n_ref, n_other),
                "verdict": verdict_of(b - a, ci, ref_name, other_name, min(n_ref, n_other))}
    if ref.get("stderr") is None or other.get("stderr") is None:
        return difference(b - a, None, ref_name, other_name)
    return difference(b - a, math.sqrt(ref["stderr"] ** 2 + other["stderr"] ** 2), ref_name, other_name)


def paired_compare(ref: list[float], other: list[float], ref_name: str, other_name: str) -> dict:
    """other - ref over the same examples: the mean of the per-example differences, its standard error
    sd(d) / sqrt(n) and a 95 % interval. Pairing removes what both models share (an example that is hard
    for one is mostly hard for the other), so it is narrower than adding the two variances."""
    d = np.asarray(other, dtype=float) - np.asarray(ref, dtype=float)
    if len(d) and is_binary(ref) and is_binary(other):  # right or wrong per example: Newcombe's paired interval
        ci = newcombe_paired(ref, other)
        err = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else None
        return {"diff": float(d.mean()), "ci95": ci, "stderr": err, "n": len(d),
                "verdict": verdict_of(float(d.mean()), ci, ref_name, other_name, len(d))}
    if len(d) < 2:
        return difference(float(d.mean()) if len(d) else None, None, ref_name, other_name)
    out = difference(float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), ref_name, other_name)
    return {**out, "n": len(d), "verdict": too_few(len(d)) or out["verdict"]}


def _vs_reference(results: dict, task: str, metric: str, scores: dict, ref: str, other: str) -> dict:
    """Paired when both models' per-example scores of the task are there (same examples), else unpaired."""
    per = results.get("per_example") or {}
    a, b = (per.get(ref) or {}).get(task, {}), (per.get(other) or {}).get(task, {})
    if metric in a and metric in b and a["doc_ids"] == b["doc_ids"]:
        return {**paired_compare(a[metric], b[metric], ref, other), "paired": True}
    return {**compare(scores[ref], scores[other], ref, other), "paired": False}


def build_report(results: dict) -> dict:
    """The comparison (JSON-able): per task and metric the harness's score ± stderr per model,
    differences against the reference model, domain and general averages, contamination."""
    models = list(results["models"])
    ref = results["reference"]
    others = [m for m in models if m != ref]
    rows = []
    for task, info in results["tasks"].items():
        for metric in TASK_METRICS:
            scores = {}
            for model in models:
                raw = results["harness"][model]["results"].get(task, {})
                scores[model] = {"value": _number(raw.get(f"{metric},none")),
                                 "stderr": _number(raw.get(f"{metric}_stderr,none"))}
            if all(s["value"] is None for s in scores.values()):
                continue  # the task does not report this metric (e.g. WinoGrande has no acc_norm)
            n = results["harness"][ref].get("n-samples", {}).get(task, {}).get("effective")
            for score in scores.values():
                # acc is a share of n right-or-wrong examples: Wilson's interval, inside [0, 1]
                score["n"] = n
                score["ci95"] = wilson(round(score["value"] * n), n) if score["value"] is not None and n else None
            rows.append({"task": task, "group": info["group"], "area": info.get("area"), "metric": metric,
                         "n": n, "synthetic": info.get("synthetic", False), "scores": scores,
                         "vs_reference": {m: _vs_reference(results, task, metric, scores, ref, m) for m in others}})
    averages: dict[str, dict] = {}
    for metric in TASK_METRICS:
        for group in GROUPS:
            members = [r for r in rows if r["metric"] == metric and r["group"] == group]
            if not members:
                continue
            scores = {}
            for model in models:
                values = [r["scores"][model]["value"] for r in members]
                errs = [r["scores"][model]["stderr"] for r in members]
                mean = sum(values) / len(values) if None not in values else None
                # Tasks are independent samples: the mean's variance is the sum of variances / k^2.
                err = math.sqrt(sum(e * e for e in errs)) / len(errs) if None not in errs else None
                scores[model] = {"value": mean, "stderr": err}
            averages.setdefault(metric, {})[group] = {
                "tasks": [r["task"] for r in members], "scores": scores,
                "vs_reference": {m: _average_difference(members, ref, m) for m in others},
            }
    return {"reference": ref, "models": results["models"], "num_fewshot": results.get("num_fewshot", 0),
            "intrinsic": results["intrinsic"], "intrinsic_vs_reference": results.get("intrinsic_vs_reference", {}),
            "intrinsic_by_domain": results.get("intrinsic_by_domain", {}),
            "intrinsic_by_domain_vs_reference": results.get("intrinsic_by_domain_vs_reference", {}),
            "tasks": rows, "averages": averages,
            "contamination": results.get("contamination")}


def _average_difference(members: list[dict], ref: str, other: str) -> dict:
    """The mean of the per-task differences (tasks weighted equally, as independent samples). With every
    task's interval (Wilson/Newcombe): their MOVER combination, inside [-1, 1]; else the normal
    approximation, variance sum(se^2) / k^2."""
    diffs = [r["vs_reference"][other] for r in members]
    values = [d["diff"] for d in diffs]
    paired = all(d.get("paired") for d in diffs)
    if None in values:
        return {**difference(None, None, ref, other), "paired": paired}
    mean = sum(values) / len(values)
    n = sum(r["n"] or 0 for r in members) if all(r["n"] for r in members) else None
    errs = [d["stderr"] for d in diffs]
    err = math.sqrt(sum(e * e for e in errs)) / len(errs) if None not in errs else None
    if all(d.get("ci95") and d.get("n") for d in diffs):
        ci = mover_average(values, [d["ci95"] for d in diffs])
        return {"diff": mean, "ci95": ci, "stderr": err, "n": n, "paired": paired,
                "verdict": verdict_of(mean, ci, ref, other, n)}
    out = difference(mean, err, ref, other)
    return {**out, "n": n, "verdict": too_few(n) or out["verdict"], "paired": paired}


def _cell(score: dict) -> str:
    if score["value"] is None:
        return "n/a"
    if score.get("ci95"):
        return f"{score['value']:.3f} [{score['ci95'][0]:.3f}, {score['ci95'][1]:.3f}]"
    err = f" ± {score['stderr']:.3f}" if score["stderr"] is not None else ""
    return f"{score['value']:.3f}{err}"


def _diff_cell(cmp: dict) -> str:
    if cmp["diff"] is None:
        return "n/a"
    if cmp["ci95"] is None:
        return f"{cmp['diff']:+.3f}"
    return f"{cmp['diff']:+.3f} [{cmp['ci95'][0]:+.3f}, {cmp['ci95'][1]:+.3f}]"


def tasks_table(report: dict, metric: str) -> str:
    """Markdown: tasks (domain first) × models, differences vs the reference, then group averages."""
    models = list(report["models"])
    ref = report["reference"]
    others = [m for m in models if m != ref]
    head = ["task", "group", "n", *models]
    for m in others:
        head += [f"{m} − {ref} [95% CI]", "verdict"]
    body = []
    rows = sorted((r for r in report["tasks"] if r["metric"] == metric),
                  key=lambda r: (GROUPS.index(r["group"]) if r["group"] in GROUPS else 9, r["task"]))
    for r in rows:
        group = f"{r['group']}/{r['area']}" if r["area"] else r["group"]
        cells = [r["task"] + (" †" if r["synthetic"] else ""), group, _fmt(r["n"]),
                 *[_cell(r["scores"][m]) for m in models]]
        for m in others:
            cells += [_diff_cell(r["vs_reference"][m]), r["vs_reference"][m]["verdict"]]
        body.append(cells)
    for group, avg in report["averages"].get(metric, {}).items():
        cells = [f"**{group} average**", group, str(len(avg["tasks"])), *[_cell(avg["scores"][m]) for m in models]]
        for m in others:
            cells += [_diff_cell(avg["vs_reference"][m]), avg["vs_reference"][m]["verdict"]]
        body.append(cells)
    return format_table(head, body, align="ll" + "r" * (len(head) - 2), markdown=True)


def contamination_section(contam: dict | None) -> list[str]:
    if contam is None:
        return ["Not run: no training documents were given (pass the run's selected/docs folder).", ""]
    lines = [
        f"An example is contaminated when any of its word {contam['ngram']}-grams occurs in the "
        f"{contam['train_docs_scanned']} training documents scanned (examples under "
        f"{contam['min_words']} words are not checked).",
        "",
        format_table(["task", "examples", "checked", "contaminated", "fraction"],
                     [[task, row["examples"], row["checked"], row["contaminated"], _fmt(row["fraction"], 3)]
                      for task, row in contam["tasks"].items()], align="lrrrr", markdown=True),
    ]
    return lines + [""]


def write_report(results: dict, out_dir: Path) -> dict[str, Any]:
    """Writes report.md, report.json and report.png into out_dir; returns their paths and the averages."""
    out_dir = Path(out_dir)
    report = build_report(results)
    md = ["# Evaluation report", ""]
    md += [f"Models: {', '.join(f'`{m}` ({p})' for m, p in report['models'].items())}. "
           f"Reference for differences: `{report['reference']}`. Scores and standard errors are "
           f"lm-evaluation-harness's; {report['num_fewshot']}-shot.", "",
           f"**Sign convention** (the one used everywhere below): a difference is *model − `{report['reference']}`*. "
           "Bits per byte: lower is better, so a negative difference favours the model. Accuracy: higher is "
           "better, so a positive difference favours it. The verdict says which in words.", ""]
    if report["intrinsic"] and any(report["intrinsic"].values()):
        md += ["## Intrinsic: held-out text (loglikelihood_rolling)", "",
               "Bits per byte = total negative log-likelihood of the documents in bits / their UTF-8 bytes; "
               "lower is better and it compares models with different tokenizers.", "",
               intrinsic_table(report["intrinsic"]), "",
               "Intervals: 95 % percentile bootstrap over documents (bits per byte is a ratio of sums, so the "
               "harness has no standard error for it).", ""]
        if report["intrinsic_vs_reference"]:
            md += [intrinsic_diff_table(report["intrinsic_vs_reference"], report["reference"]), "",
                   "Paired: both models are resampled on the same documents, so the documents' shared "
                   "difficulty cancels; \"within noise\" means the interval contains 0.", ""]
        if report["intrinsic_by_domain"]:
            md += ["### Bits per byte per domain", "",
                   domain_table(report["intrinsic_by_domain"], report["intrinsic_by_domain_vs_reference"],
                                report["reference"]), "",
                   "The same held-out documents split by domain (the domain group above pools them).", ""]
    acc_table = tasks_table(report, "acc") if report["tasks"] else ""
    if report["tasks"]:
        md += ["## Benchmark tasks: accuracy (acc)", "", acc_table, "",
               "## Benchmark tasks: length-normalised accuracy (acc_norm)", "", tasks_table(report, "acc_norm"), "",
               "Score [95 % Wilson interval] over the task's n examples (it stays inside [0, 1] and has width "
               "at 0 % and 100 %). The interval of a task's difference is Newcombe's for paired proportions "
               "(both models answered the same examples, so what is hard for both cancels); an average's "
               "combines its tasks' intervals (MOVER, Zou & Donner 2008), tasks weighted equally (its scores: "
               "mean ± the harness's stderrs combined). \"within noise\" means the interval contains 0; under "
               f"{MIN_EXAMPLES} examples there is no verdict (\"too few examples\"): the interval is all there is.", ""]
        if any(r["synthetic"] for r in report["tasks"]):
            md += ["† reads the project's synthetic examples (eval/tasks/data): a plumbing check, not a "
                   "benchmark result. Point eval.task_data at the released files for real numbers.", ""]
        md += ["## Contamination", "", *contamination_section(report["contamination"])]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md))
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    png_path = out_dir / "report.png"
    plot_report(report, png_path)
    return {"markdown": str(md_path), "json": str(json_path), "png": str(png_path),
            "averages": report["averages"], "tasks_table": acc_table}


def accuracy_bars(rows: list[dict], model: str) -> tuple[list[float], list[list[float]]]:
    """A model's task accuracies and their (below, above) error-bar lengths from the Wilson intervals, so the
    bars end inside [0, 1]; a score without an interval gets no bar."""
    xs = [r["scores"][model]["value"] or 0.0 for r in rows]
    cis = [r["scores"][model].get("ci95") or [x, x] for x, r in zip(xs, rows)]
    return xs, [[x - ci[0] for x, ci in zip(xs, cis)], [ci[1] - x for x, ci in zip(xs, cis)]]


def plot_report(report: dict, path: Path) -> None:
    """Left: bits per byte per held-out group (95 % bootstrap bars); right: task accuracy with 95 % Wilson bars; one colour per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(report["models"])
    intrinsic = report["intrinsic"]
    rows = [r for r in report["tasks"] if r["metric"] == "acc"]
    panels = int(bool(intrinsic and any(intrinsic.values()))) + int(bool(rows))
    fig, axes = plt.subplots(1, max(panels, 1), figsize=(4 + 4 * max(panels, 1), 0.9 + 0.32 * max(len(rows), 6)),
                             squeeze=False)
    axes = list(axes[0])
    width = 0.8 / max(len(models), 1)
    if intrinsic and any(intrinsic.values()):
        ax = axes.pop(0)
        groups = sorted({g for r in intrinsic.values() for g in r})
        for i, model in enumerate(models):
            cells = [intrinsic.get(model, {}).get(g) or {} for g in groups]
            ys = [r.get("bits_per_byte") or 0.0 for r in cells]
            errs = [[y - r["bits_per_byte_ci95"][0] if r.get("bits_per_byte_ci95") else 0.0 for y, r in zip(ys, cells)],
                    [r["bits_per_byte_ci95"][1] - y if r.get("bits_per_byte_ci95") else 0.0 for y, r in zip(ys, cells)]]
            ax.bar([j + i * width for j in range(len(groups))], ys, width=width, yerr=errs, capsize=3, label=model)
        ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(groups))], groups)
        ax.set_ylabel("bits per byte (lower is better)")
        ax.set_title("Held-out text")
        ax.legend(fontsize=8)
    if rows:
        ax = axes.pop(0)
        rows = sorted(rows, key=lambda r: (r["group"], r["task"]), reverse=True)
        for i, model in enumerate(models):
            ys = [j + i * width for j in range(len(rows))]
            xs, errs = accuracy_bars(rows, model)
            ax.barh(ys, xs, height=width, xerr=errs, capsize=2, label=model)
        ax.set_yticks([j + width * (len(models) - 1) / 2 for j in range(len(rows))],
                      [f"{r['task']} ({r['group']})" for r in rows], fontsize=7)
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("acc (95 % Wilson interval)")
        ax.set_title(f"Benchmark tasks, {report['num_fewshot']}-shot")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
