"""The study's page and JSON: every run's row, the frontier, the ladder fit with its prediction at the
planner's size, the seed spread and the three-arm table, from the runs' result.json and docs.json only."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from dapt.study_analysis import (
    GROUPS, choose_share, domain_loss, fit_power_law, group_scores, paired_bootstrap, predict, seed_spread,
)
from dapt.summary import format_table

log = logging.getLogger("dapt.study")
METRICS = ("doc_mean", "byte_weighted")


def _docs(root: Path, rid: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    raw = json.loads((root / rid / "docs.json").read_text())
    return {s: (np.asarray(v["loglik"], dtype=float), np.asarray(v["bytes"], dtype=float)) for s, v in raw.items()}


def _members(held: dict[str, dict]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Sources per group: in-distribution (trained-on sources' held-out documents) and out-of-source."""
    ind: dict[str, list[str]] = {g: [] for g in GROUPS}
    oos: dict[str, list[str]] = {}
    for name, info in sorted(held.items()):
        target = oos if info["out_of_source"] else ind
        target.setdefault(info["domain"], []).append(name)
    return ind, oos


def run_row(result: dict[str, Any], docs: dict, held: dict[str, dict], headline: str,
            base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON row of one run; `base` is the general phase a continued run started from."""
    spec, train = result["spec"], result["train"]
    ind, oos = _members(held)
    groups = {g: group_scores(docs, m) for g, m in ind.items()}
    out = {f"{g}:{'+'.join(m)}": group_scores(docs, m) for g, m in oos.items()}
    tokens = int(train["tokens"]) + (int(base["train"]["tokens"]) if base else 0)
    epochs = dict(result["epochs"])
    if base:
        for name, e in base["epochs"].items():
            epochs[name] = epochs.get(name, 0.0) + e
    cpu = result["cpu_seconds"]["train"]
    params = int(result["budget"]["params"])
    return {
        "id": spec["id"], "arm": spec["arm"], "domain_share": spec["share"], "size": spec["size"], "roles": spec["roles"],
        "params": params, "non_embedding_params": int(result["budget"]["non_embedding_params"]),
        "tokens": tokens, "tokens_per_param": tokens / params, "token_target": int(result["token_target"]),
        "target_reason": result["budget"]["reason"], "data_constrained": bool(result["budget"]["data_constrained"]),
        "seed": spec["seed"], "stop_reason": train["stop_reason"], "stop_step": train["stop_step"],
        "exported": train["exported"], "init_from": spec["init_from"],
        "continuation_tokens": int(train["tokens"]) if base else None,
        "epochs": {k: round(v, 3) for k, v in sorted(epochs.items())}, "max_epochs": round(max(epochs.values()), 3),
        "bpb": {g: groups[g][headline] for g in GROUPS},
        "bpb_byte_weighted": {g: groups[g]["byte_weighted"] for g in GROUPS},
        "bpb_doc_mean": {g: groups[g]["doc_mean"] for g in GROUPS},
        "bpb_out_of_source": out,
        "bpb_by_source": {s: group_scores(docs, [s]) for s in sorted(docs)},
        "heldout_docs": {g: groups[g]["docs"] for g in GROUPS},
        "cpu_seconds": result["cpu_seconds"], "tokens_per_cpu_second": round(int(train["tokens"]) / cpu) if cpu else None,
        "final_val_loss": train["val_losses"],
    }


def analyse(cfg, study, rows: list[dict[str, Any]], docs: dict[str, dict], root: Path) -> dict[str, Any]:
    """Frontier, ladder fit and prediction, seed spread and three arms from the run rows."""
    by_role = lambda role: [r for r in rows if role in r["roles"]]  # noqa: E731
    out: dict[str, Any] = {}

    points = [{"share": r["domain_share"], "domain": domain_loss(r["bpb"]), "general": r["bpb"]["general"],
               **{g: r["bpb"][g] for g in GROUPS}} for r in sorted(by_role("frontier"), key=lambda r: r["domain_share"])]
    out["frontier"] = {"size": study.frontier, **choose_share(points, study.max_general_penalty)} if points else None

    fits: dict[str, dict[str, Any]] = {}
    ladder = [r for r in rows if r["arm"] in ("mix", "baseline") and ({"ladder", "seeds"} & set(r["roles"]))
              and (r["arm"] == "baseline" or r["domain_share"] == study.mix_share)]
    for arm in ("mix", "baseline"):
        mine = [r for r in ladder if r["arm"] == arm]
        fits[arm] = {}
        for g in (*GROUPS, "domain"):
            ys = [domain_loss(r["bpb"]) if g == "domain" else r["bpb"][g] for r in mine]
            try:
                fits[arm][g] = fit_power_law([r["params"] for r in mine], ys)
            except ValueError as exc:
                fits[arm][g] = {"error": str(exc)}
    out["fit"] = fits
    out["prediction"] = _prediction(cfg, study, fits, root)

    seeds = [r for r in by_role("seeds")]
    spread: dict[str, Any] = {"size": study.seed_rung, "groups": {}}
    pairs = {s: ({r["arm"]: r for r in seeds if r["seed"] == s}) for s in study.seeds}
    pairs = {s: p for s, p in pairs.items() if "mix" in p and "baseline" in p}
    held_members, _ = _members(json.loads((root / "heldout" / "held.json").read_text()))
    for g in (*GROUPS, "domain"):
        diffs = [(domain_loss(p["mix"]["bpb"]) - domain_loss(p["baseline"]["bpb"])) if g == "domain"
                 else _sub(p["mix"]["bpb"][g], p["baseline"]["bpb"][g]) for p in pairs.values()]
        entry = {"seed_spread": seed_spread(diffs)}
        if pairs and g != "domain":
            first = pairs[min(pairs)]
            members = held_members[g]
            pool = lambda rid: (np.concatenate([docs[rid][m][0] for m in members]),  # noqa: E731
                                np.concatenate([docs[rid][m][1] for m in members]))
            if members:
                entry["bootstrap_seed0"] = paired_bootstrap(pool(first["baseline"]["id"]), pool(first["mix"]["id"]),
                                                            study.headline, study.bootstrap_iters)
        spread["groups"][g] = entry
    out["seeds"] = spread

    arms = {"mix": None, "baseline": None, "continued": None}
    for r in by_role("continued_compare") + by_role("continued"):
        arms[r["arm"]] = r["id"]
    out["three_arms"] = arms if arms["continued"] else None
    return out


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _prediction(cfg, study, fits: dict[str, dict[str, Any]], root: Path) -> dict[str, Any] | None:
    """Both arms' bits/byte at the size and token target `dapt plan` gives for the config's GPUs."""
    from dapt.errors import UserError
    from dapt.pretrain.plan import run_plan

    try:
        plan = run_plan(cfg.plan.model_copy(update={"plot": False}), root / "plan_target", stem="plan_target")
    except UserError as exc:
        return {"error": str(exc)}
    n, d = float(plan["n_params"]), float(plan["token_target"])
    n_max = max((f["n_range"][1] for arm in fits.values() for f in arm.values() if "n_range" in f), default=None)
    groups = {}
    for g in (*GROUPS, "domain"):
        m, b = fits["mix"].get(g, {}), fits["baseline"].get(g, {})
        if "E" not in m or "E" not in b:
            continue
        pm, pb = predict(m, n), predict(b, n)
        groups[g] = {"mix": pm, "baseline": pb, "mix_minus_baseline": pm - pb}
    return {"n_params": n, "tokens": d, "tokens_per_param": d / n, "plan_reason": plan["reason"],
            "budget": plan["budget"], "gpus": f"{cfg.plan.num_gpus} x {cfg.plan.gpu_type}",
            "extrapolation_factor": n / n_max if n_max else None, "fit_range": [None, n_max], "groups": groups}


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else "n/a"
    return str(v)


def _plot_frontier(frontier: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = frontier["points"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot([p["general"] for p in pts], [p["domain"] for p in pts], "o-", color="tab:blue")
    for p in pts:
        ax.annotate(f"{p['share']:g}", (p["general"], p["domain"]), textcoords="offset points", xytext=(5, 5))
        if abs(p["share"] - 0.51) < 1e-9:
            ax.plot([p["general"]], [p["domain"]], "*", ms=16, color="tab:red", label="0.51 (BloombergGPT)")
    ax.axvline(frontier["limit"], ls="--", color="grey", label=f"general penalty limit ({100 * frontier['max_general_penalty']:g} %)")
    ax.set_xlabel("general bits/byte (held-out)")
    ax.set_ylabel("domain bits/byte (mean of legal, medical, financial)")
    ax.set_title(f"mixture frontier at {frontier['size']} (labels: domain share)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_ladder(rows: list[dict], fits: dict[str, dict], prediction: dict | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = (*GROUPS, "domain")
    fig, axes = plt.subplots(2, len(groups), figsize=(3.2 * len(groups), 6), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]})
    for j, g in enumerate(groups):
        for arm, color in (("mix", "tab:blue"), ("baseline", "tab:orange")):
            fit = fits[arm].get(g, {})
            if "points" not in fit:
                continue
            xs = np.array([p["n"] for p in fit["points"]])
            axes[0, j].plot(xs, [p["loss"] for p in fit["points"]], "o", color=color, label=arm)
            grid = np.geomspace(xs.min() / 1.5, xs.max() * 1.5, 50)
            axes[0, j].plot(grid, fit["E"] + fit["A"] * grid ** -fit["alpha"], "-", color=color, alpha=0.7)
            axes[1, j].plot(xs, [p["residual"] for p in fit["points"]], "o", color=color)
        axes[0, j].set_title(g)
        axes[0, j].set_xscale("log")
        axes[1, j].axhline(0, color="grey", lw=0.8)
        axes[1, j].set_xlabel("parameters")
    axes[0, 0].set_ylabel("bits/byte")
    axes[1, 0].set_ylabel("residual")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("size ladder: L(N) = E + A N^-alpha per held-out group")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_study_report(cfg, study, results: dict[str, dict], root: Path, *, held: dict[str, dict],
                       tokens: dict[str, Any], data_rows: list, seconds: float | None,
                       missing: list[str] | None = None, planned: list[dict] | None = None) -> dict[str, Any]:
    """study.json, study.md and the two plots in <run_dir>/study (and publish_dir when set)."""
    docs = {rid: _docs(root, rid) for rid in results}
    rows = []
    for rid, res in results.items():
        base = results.get(res["spec"]["init_from"]) if res["spec"]["init_from"] else None
        rows.append(run_row(res, docs[rid], held, study.headline, base))
    analysis = analyse(cfg, study, rows, docs, root)
    throughput = _throughput(rows, data_rows, study, planned or [])
    name = cfg.run.name
    body = {
        "what": "dapt study: mixture frontier, size ladder with a saturating power-law fit, seeds, continued pre-training",
        "config": {"run": cfg.run.model_dump(), "study": study.model_dump(mode="json"),
                   "pretrain": cfg.pretrain.model_dump(mode="json", exclude={"model"})},
        "headline_metric": study.headline,
        "params_counted": "total (embeddings included, tied input/output counted once), as Chinchilla and the planner",
        "groups": list(GROUPS), "heldout": held,
        "unique_train_tokens": {g: sum(int(s["train_tokens"]) for n, s in tokens["sources"].items()
                                       if s["group"] == g and n not in study.holdout_sources) for g in ("domain", "general")},
        "runs": sorted(rows, key=lambda r: (r["size"], r["arm"], r["domain_share"], r["seed"])),
        **analysis, "throughput": throughput, "seconds": None if seconds is None else round(seconds, 1),
        "partial": bool(missing), "missing_runs": list(missing or []),
    }
    frontier_png, ladder_png = root / f"study_{name}_frontier.png", root / f"study_{name}_ladder.png"
    if analysis["frontier"] and analysis["frontier"].get("points"):
        _plot_frontier(analysis["frontier"], frontier_png)
    _plot_ladder(rows, analysis["fit"], analysis["prediction"], ladder_png)
    (root / "study.json").write_text(json.dumps(body, indent=2, default=float, allow_nan=False) + "\n")
    page = format_page(body, frontier_png.name, ladder_png.name)
    (root / "study.md").write_text(page)
    if study.publish_dir:
        pub = Path(study.publish_dir)
        (pub / "results").mkdir(parents=True, exist_ok=True)
        (pub / "results" / f"study_{name}.json").write_text((root / "study.json").read_text())
        for png in (frontier_png, ladder_png):
            if png.is_file():
                shutil.copyfile(png, pub / "results" / png.name)
        (pub / f"study_{name}.md").write_text(format_page(body, f"results/{frontier_png.name}", f"results/{ladder_png.name}"))
    return {"stage": "study", "runs": len(rows), "json": str(root / "study.json"), "page": str(root / "study.md"),
            "frontier_png": str(frontier_png), "ladder_png": str(ladder_png)}


BENCH_THROUGHPUT = Path("bench/results/study_scale_throughput.json")  # bench/bench_study_throughput.py


def _throughput(rows: list[dict], data_rows: list, study, planned: list[dict]) -> dict[str, Any]:
    """Measured tokens per CPU-second per size and the budget arithmetic: each planned run's tokens over its
    size's throughput (this study's finished runs, else bench/bench_study_throughput.py's same shape)."""
    per_size: dict[str, list[float]] = {}
    for r in rows:
        if r["tokens_per_cpu_second"]:
            per_size.setdefault(r["size"], []).append(r["tokens_per_cpu_second"])
    measured = {s: float(np.median(v)) for s, v in per_size.items()}
    bench = json.loads(BENCH_THROUGHPUT.read_text())["rows"] if BENCH_THROUGHPUT.is_file() else []
    done = {r["id"]: r for r in rows}
    estimate, sources = {}, {}
    for p in planned:
        rate = measured.get(p["size"])
        src = "this study"
        if rate is None:
            match = [b for b in bench if b["d_model"] == p["d_model"] and b["n_layers"] == p["n_layers"]]
            rate, src = (match[0]["tokens_per_cpu_s"], "bench_study_throughput") if match else (None, "none")
        sources[p["size"]] = {"tokens_per_cpu_second": rate, "from": src}
        if p["id"] in done:
            estimate[p["id"]] = done[p["id"]]["cpu_seconds"]["train"]
        elif rate:
            estimate[p["id"]] = p["tokens"] / rate
    evals = [r["cpu_seconds"]["eval"] for r in rows]
    eval_each = float(np.median(evals)) if evals else 0.0
    train = sum(estimate.values())
    data = sum(float(r.get("seconds", 0)) for r in data_rows)
    total = train + eval_each * len(planned)
    return {"tokens_per_cpu_second": measured, "rates_used": sources,
            "train_cpu_seconds_finished": round(sum(r["cpu_seconds"]["train"] for r in rows), 1),
            "eval_cpu_seconds_finished": round(sum(evals), 1), "eval_cpu_seconds_each": round(eval_each, 1),
            "planned_runs": len(planned), "planned_train_cpu_seconds": round(train, 1),
            "planned_total_cpu_seconds": round(total, 1), "workers": study.workers,
            "data_stage_wall_seconds": round(data, 1),
            "idle_wall_estimate_seconds": round(total / study.workers, 1)}


def format_page(body: dict[str, Any], frontier_png: str, ladder_png: str) -> str:
    """The Markdown page, top to bottom: runs, frontier, ladder and prediction, seeds, three arms."""
    head = body["headline_metric"]
    other = "byte_weighted" if head == "doc_mean" else "doc_mean"
    runs = body["runs"]
    st = body["config"]["study"]
    held = body["heldout"]
    oos = sorted(n for n, i in held.items() if i["out_of_source"])
    lines = [f"# Study `{body['config']['run']['name']}`: frontier, ladder, seeds, continued pre-training", "",
             "Written by `dapt study` from its runs' result.json files (`<run_dir>/study/study.json` holds every number "
             "below). Every run trains on the same token shards and tokenizer (the data stages ran once) to the planner's "
             f"token target: {st['tokens_per_param']:g} tokens per parameter, all parameters counted, capped so that no "
             f"source is read more than {st['max_epochs']:g} epochs (the data-constrained target). Sizes: "
             + ", ".join(f"{z['name']} ({z['n_layers']} x {z['d_model']})" for z in st["sizes"])
             + f"; frontier shares {st['shares']} at {st['frontier_size'] or st['sizes'][0]['name']}; seeds {st['seeds']}; "
             f"continued pre-training: the general-only model trained on {st['continued']['general_fraction']:g} of the "
             f"tokens, then the {st['continued']['share']:g} mix with a fresh warm-up and cosine for the rest.", "",
             "Held-out text: every source's held-out documents (the tokenize stage's validation split, at most "
             f"{st['eval_max_docs']} per source). Out-of-source: {', '.join(f'`{n}`' for n in oos) or 'none'} are never "
             "trained on (left out of the study's token manifest, so neither the mixture nor validation sees them) and "
             "scored apart. They were in the tokenizer's training sample, which is the one place they are seen.", "",
             f"Headline metric: bits per byte, **{head.replace('_', ' ')}** over held-out documents "
             f"({'each document one vote, so one long repetitive page cannot carry a group' if head == 'doc_mean' else 'corpus-level ratio'}); "
             f"the {other.replace('_', ' ')} figure is given beside it. Parameters: {body['params_counted']}.", ""]
    if body.get("partial"):
        lines += [f"**Partial study**: {len(body['missing_runs'])} planned runs had not finished when this page was "
                  "written; every figure below comes from the finished runs only. Not run: "
                  + ", ".join(f"`{r}`" for r in body["missing_runs"]) + ".", ""]

    lines += ["## Every run", ""]
    table = [[r["id"], r["arm"], f"{r['domain_share']:g}", f"{r['params']:,}", f"{r['non_embedding_params']:,}",
              f"{r['tokens']:,}", f"{r['tokens_per_param']:.1f}", f"{r['stop_reason']} ({r['stop_step']})", f"{r['max_epochs']:.2f}",
              *[_f(r["bpb"][g]) for g in GROUPS], _f(r["tokens_per_cpu_second"], 0)] for r in runs]
    lines.append(format_table(["run", "arm", "share", "params", "non-emb", "tokens", "tok/param", "stop (step)", "max epochs",
                               *GROUPS, "tok/CPU-s"], table, align="lllrrrrlrrrrrr", markdown=True))
    by_reason: dict[str, list[str]] = {}
    for r in runs:
        by_reason.setdefault(r["target_reason"], []).append(r["id"])
    lines += ["", "Token targets: " + "; ".join(
        f"{reason}: " + (", ".join(f"`{i}`" for i in ids) if len(ids) <= 3 else f"{len(ids)} runs")
        for reason, ids in sorted(by_reason.items(), key=lambda kv: -len(kv[1]))) + ".", "",
              "Epochs per source (continued runs: both phases):", ""]
    for r in runs:
        lines.append(f"- `{r['id']}`: " + ", ".join(f"{k} {v:.2f}" for k, v in r["epochs"].items()))
    lines.append("")

    fr = body.get("frontier")
    if fr and fr.get("points"):
        lines += [f"## Mixture frontier at {fr['size']}", "", f"![frontier]({frontier_png})", ""]
        by_share = {r["domain_share"]: r for r in runs if "frontier" in r["roles"]}
        t = [[f"{p['share']:g}", *[_f(p[g]) for g in GROUPS], _f(p["domain"]), f"{100 * p['general_penalty']:+.1f} %",
              _f(by_share[p["share"]]["bpb_byte_weighted"]["general"]),
              "; ".join(f"{k.split(':')[0]} {_f(v[head])}" for k, v in by_share[p["share"]]["bpb_out_of_source"].items())]
             for p in fr["points"]]
        lines.append(format_table(["domain share", *GROUPS, "domain (mean of 3)", "general penalty",
                                   "general (byte-weighted)", "out-of-source"], t, align="lrrrrrrrl", markdown=True))
        lines += ["", f"Share minimising the domain loss with a general penalty of at most "
                      f"{100 * fr['max_general_penalty']:g} %: **{_f(fr['share'], 2)}** (domain {_f(fr.get('domain'))}, "
                      f"general {_f(fr.get('general'))}, penalty {100 * (fr.get('general_penalty') or 0):+.1f} %).", ""]

    lines += ["## Size ladder and prediction", "", f"![ladder]({ladder_png})", ""]
    t = []
    for arm, groups in body["fit"].items():
        for g, f in groups.items():
            if "E" in f:
                t.append([arm, g, f"{f['E']:.3f}", f"{f['A']:.3g}", f"{f['alpha']:.3f}", f"{f['rmse']:.4f}",
                          f"{f['n_points']} ({f['n_sizes']} sizes; {f.get('form', 'E + A N^-alpha')})",
                          ", ".join(f"{p['residual']:+.4f}" for p in f["points"])])
            else:
                t.append([arm, g, "", "", "", "", "", f.get("error", "")])
    lines.append(format_table(["arm", "group", "E", "A", "alpha", "RMSE", "points", "residuals"], t,
                              align="llrrrrrl", markdown=True))
    pr = body.get("prediction")
    if pr and not pr.get("groups") and "error" not in pr:
        lines += ["", f"No prediction: the fit needs at least two sizes per arm (this page has "
                      f"{len({r['size'] for r in runs})}); `dapt plan` gives {pr['n_params']:.3g} parameters and "
                      f"{pr['tokens']:.3g} tokens for {pr['gpus']}."]
    elif pr and "groups" in pr:
        lines += ["", f"Prediction at the planner's size for {pr['gpus']} ({pr['plan_reason']}): "
                      f"{pr['n_params']:.3g} parameters, {pr['tokens']:.3g} tokens ({pr['tokens_per_param']:.1f} per parameter).",
                  f"**This extrapolates** the fit {_f(pr['extrapolation_factor'], 0)}x beyond its largest size "
                  f"({_f(pr['fit_range'][1], 0)} parameters): E and alpha from a few tiny models decide it, so read the sign "
                  "of the payoff at most, not its size."
                  + (" With fewer than three sizes the fit has no floor (E = 0), so its bits/byte at the planner's size "
                     "run towards 0 and mean nothing; only the ladder with three sizes gives a saturating fit."
                     if any(f.get("n_sizes", 3) < 3 for arm in body["fit"].values() for f in arm.values()) else ""), ""]
        t = [[g, _f(v["mix"]), _f(v["baseline"]), f"{v['mix_minus_baseline']:+.3f}"] for g, v in pr["groups"].items()]
        lines.append(format_table(["group", "mix", "baseline", "mix - baseline"], t, align="lrrr", markdown=True))
    elif pr:
        lines += ["", f"No prediction: {pr.get('error')}"]
    lines.append("")

    sd = body.get("seeds")
    if sd:
        lines += [f"## Seeds at {sd['size']} (mix - baseline, {head.replace('_', ' ')})", ""]
        t = []
        for g, e in sd["groups"].items():
            s = e["seed_spread"]
            b = e.get("bootstrap_seed0") or {}
            ci = b.get("ci95")
            t.append([g, str(s["n"]), _f(s["mean"], 4), _f(s["std"], 4), f"[{_f(s['min'], 4)}, {_f(s['max'], 4)}]",
                      f"{_f(b.get('diff'), 4)} [{_f(ci[0], 4)}, {_f(ci[1], 4)}]" if ci else "n/a"])
        lines.append(format_table(["group", "seeds", "mean", "std over seeds", "range", "seed 0: paired doc bootstrap 95 %"],
                                  t, align="lrrrrr", markdown=True))
        lines.append("")

    ta = body.get("three_arms")
    if ta:
        by_id = {r["id"]: r for r in runs}
        lines += ["## Three arms at equal total tokens", ""]
        t = []
        for arm, rid in ta.items():
            r = by_id.get(rid)
            if r is None:
                continue
            oos = "; ".join(f"{k.split(':')[0]} {_f(v[head])}" for k, v in r["bpb_out_of_source"].items())
            t.append([arm, f"{r['tokens']:,}", *[_f(r["bpb"][g]) for g in GROUPS],
                      *[_f(r["bpb_byte_weighted"][g]) for g in GROUPS], oos])
        lines.append(format_table(["arm", "tokens", *GROUPS, *[f"{g} (bytes)" for g in GROUPS], "out-of-source"], t,
                                  align="lrrrrrrrrrl", markdown=True))
        lines.append("")

    lines += ["## Out-of-source and per-source bits/byte", ""]
    sources = sorted({s for r in runs for s in r["bpb_by_source"]})
    oos_names = {n for n, i in body["heldout"].items() if i["out_of_source"]}
    t = [[r["id"], *[_f(r["bpb_by_source"][s][head]) for s in sources]] for r in runs]
    lines.append(format_table(["run", *[s + (" (held out)" if s in oos_names else "") for s in sources]], t,
                              align="l" + "r" * len(sources), markdown=True))
    tp = body["throughput"]
    lines += ["", "## Throughput and budget", "",
              "Tokens per training CPU-second used for each size (" + ", ".join(
                  f"{s}: {_f(v['tokens_per_cpu_second'], 0)} from {v['from']}" for s, v in tp["rates_used"].items()) + ").",
              f"Arithmetic: {tp['planned_runs']} planned runs, each tokens / (tokens per CPU-s) = "
              f"{tp['planned_train_cpu_seconds']:,.0f} training CPU-s (finished runs at their measured CPU time), plus "
              f"{tp['eval_cpu_seconds_each']:,.0f} CPU-s of scoring each = {tp['planned_total_cpu_seconds']:,.0f} CPU-s; "
              f"over {tp['workers']} workers on 2 idle cores ≈ {tp['idle_wall_estimate_seconds'] / 60:,.0f} min, plus the "
              f"data stages (this run directory: {tp['data_stage_wall_seconds']:,.0f} s wall when they ran here).", ""]
    return "\n".join(lines) + "\n"
