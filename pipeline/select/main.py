"""`run_select`: curated documents -> near-deduplicated, quality-selected documents (one Beam job)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from dapt.errors import UserError
from pipeline.documents import shard_paths
from pipeline.select.config import SelectConfig
from pipeline.select.transforms import (
    KEPT,
    NEAR_DUPLICATE,
    NOT_SELECTED,
    CountFates,
    NearDedup,
    ReadDocuments,
    ScoreQuality,
    SelectByQuality,
    WriteShards,
    write_json,
)

log = logging.getLogger(__name__)

# Order of the removal columns in stats and the summary table; `in` = the sum of all fates.
FATES = (KEPT, NEAR_DUPLICATE, NOT_SELECTED)
INPUT = "in"
WORK = "_work"  # the job's collected results, read back by the driver


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_inputs(cfg: SelectConfig, docs_dir: Path, quality_model: Path | None) -> list[Path]:
    try:
        paths = shard_paths(docs_dir)
    except FileNotFoundError:
        raise UserError(f"no curated documents at {docs_dir}; run `dapt curate` first or pass the curated docs folder")
    if not paths:
        raise UserError(f"{docs_dir} holds no *.jsonl.gz shards; run `dapt curate` first")
    if quality_model is not None and not Path(quality_model).is_file():
        raise UserError(f"quality model {quality_model} does not exist; train it with `dapt quality` or drop the path")
    selective = {s: f for s, f in cfg.selection.keep_token_fraction.items() if f < 1.0}
    if cfg.selection.default_keep_token_fraction < 1.0:
        selective["(default)"] = cfg.selection.default_keep_token_fraction
    if selective and quality_model is None:
        raise UserError(
            f"select.selection keeps fractions < 1 for {sorted(selective)} but no quality model was given; "
            "train one (`dapt quality`) or set those keep_token_fraction values to 1.0"
        )
    return paths


def build_pipeline(p: beam.Pipeline, cfg: SelectConfig, paths: Sequence[Path], out_dir: Path, quality_model: Path | None):
    """Adds the select stage to a pipeline; returns the fate PCollections (for tests) keyed by fate."""
    work = out_dir / WORK
    docs = p | "Read" >> ReadDocuments(paths)
    scored = docs | "Quality" >> ScoreQuality(quality_model)
    if cfg.near_dedup.enabled:
        dedup = scored | "NearDedup" >> NearDedup(cfg.near_dedup)
        unique, near_dups, sizes = dedup[KEPT], dedup[NEAR_DUPLICATE], dedup["cluster_sizes"]
    else:
        unique = scored
        near_dups = p | "NoNearDups" >> beam.Create([])
        sizes = p | "NoClusters" >> beam.Create([])
    selected = unique | "Selection" >> SelectByQuality(cfg.selection)
    kept = selected[KEPT]
    shards = kept | "Write" >> WriteShards(out_dir / "docs", cfg.shards_per_source)

    fates = {INPUT: docs, KEPT: kept, NEAR_DUPLICATE: near_dups, NOT_SELECTED: selected[NOT_SELECTED]}
    counts = fates | "CountFates" >> CountFates()
    histogram = sizes | "SizeOnes" >> beam.Map(lambda s: (s, 1)) | "SizeHistogram" >> beam.CombinePerKey(sum)
    for name, pcoll in (
        ("counts", counts),
        ("shards", shards),
        ("cluster_sizes", histogram),
        ("thresholds", selected["thresholds"]),
    ):
        (
            pcoll
            | f"Collect_{name}" >> beam.combiners.ToList()
            | f"Save_{name}" >> beam.Map(lambda items, n=name: write_json(str(work / f"{n}.json"), items))
        )
    return fates


def _read_work(out_dir: Path, name: str) -> list:
    return json.loads((out_dir / WORK / f"{name}.json").read_text(encoding="utf-8"))


def _assemble_stats(cfg: SelectConfig, out_dir: Path) -> dict[str, Any]:
    counts = _read_work(out_dir, "counts")
    thresholds = dict(_read_work(out_dir, "thresholds"))
    sources: dict[str, dict[str, Any]] = {}
    for (source, fate), (docs, words) in counts:
        sources.setdefault(source, {f: {"docs": 0, "words": 0} for f in (INPUT, *FATES)})
        sources[source][fate] = {"docs": docs, "words": words}
    for source, s in sorted(sources.items()):
        removed = [f for f in FATES]
        s["reconciled"] = all(s[INPUT][u] == sum(s[f][u] for f in removed) for u in ("docs", "words"))
        candidates = s[KEPT]["words"] + s[NOT_SELECTED]["words"]
        s["selection"] = {
            "method": cfg.selection.method,
            "target_token_fraction": cfg.selection.fraction_for(source),
            "achieved_token_fraction": round(s[KEPT]["words"] / candidates, 6) if candidates else None,
            "threshold": thresholds.get(source),
        }
        s["kept_token_fraction"] = round(s[KEPT]["words"] / s[INPUT]["words"], 6) if s[INPUT]["words"] else None
    histogram = {str(size): n for size, n in sorted(_read_work(out_dir, "cluster_sizes"))}
    totals = {f: {u: sum(s[f][u] for s in sources.values()) for u in ("docs", "words")} for f in (INPUT, *FATES)}
    return {
        "sources": dict(sorted(sources.items())),
        "totals": totals,
        "reconciled": all(s["reconciled"] for s in sources.values()),
        "clusters": {
            "count": sum(histogram.values()),
            "docs": sum(int(k) * v for k, v in histogram.items()),
            "histogram": histogram,
        },
        "shards": sorted(_read_work(out_dir, "shards"), key=lambda r: r["path"]),
    }


def format_summary(stats: dict[str, Any]) -> str:
    """The table printed at the end of `dapt select`."""
    head = f"{'source':<32} {'in docs':>9} {'near-dup':>9} {'not sel':>9} {'kept':>9} {'kept tok':>9} {'target':>7}"
    lines = ["select: per-source fates (documents) and kept-token fraction", head, "-" * len(head)]
    for source, s in stats["sources"].items():
        frac = s["kept_token_fraction"]
        lines.append(
            f"{source:<32} {s[INPUT]['docs']:>9} {s[NEAR_DUPLICATE]['docs']:>9} {s[NOT_SELECTED]['docs']:>9} "
            f"{s[KEPT]['docs']:>9} {frac if frac is not None else 0:>9.4f} "
            f"{s['selection']['target_token_fraction']:>7.3f}"
        )
    t = stats["totals"]
    lines.append(
        f"{'TOTAL':<32} {t[INPUT]['docs']:>9} {t[NEAR_DUPLICATE]['docs']:>9} {t[NOT_SELECTED]['docs']:>9} "
        f"{t[KEPT]['docs']:>9}"
    )
    hist = ", ".join(f"{k}:{v}" for k, v in stats["clusters"]["histogram"].items()) or "none"
    lines.append(f"near-duplicate clusters: {stats['clusters']['count']} (size:count {hist})")
    lines.append(f"reconciled: {stats['reconciled']}")
    return "\n".join(lines)


def run_select(
    cfg: SelectConfig,
    docs_dir: Path,
    out_dir: Path,
    beam_args: Sequence[str] = (),
    quality_model: Path | None = None,
) -> dict:
    """Runs the select Beam job over ``docs_dir`` (curated shards) and writes ``out_dir`` (see README)."""
    docs_dir, out_dir = Path(docs_dir), Path(out_dir)
    quality_model = None if quality_model is None else Path(quality_model)
    paths = _check_inputs(cfg, docs_dir, quality_model)
    for stale in (out_dir / "docs", out_dir / WORK):  # a rerun must not mix old shards with new ones
        if stale.exists():
            shutil.rmtree(stale)
    out_dir.mkdir(parents=True, exist_ok=True)

    with beam.Pipeline(options=PipelineOptions(list(beam_args))) as p:
        build_pipeline(p, cfg, paths, out_dir, quality_model)

    stats = _assemble_stats(cfg, out_dir)
    if not stats["reconciled"]:
        raise RuntimeError(f"select stats do not reconcile (a bug, not a user error): {stats['sources']}")
    shutil.rmtree(out_dir / WORK)
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True), encoding="utf-8")
    summary = {
        "docs_in": stats["totals"][INPUT]["docs"],
        "docs_kept": stats["totals"][KEPT]["docs"],
        "words_in": stats["totals"][INPUT]["words"],
        "words_kept": stats["totals"][KEPT]["words"],
        "near_duplicates": stats["totals"][NEAR_DUPLICATE]["docs"],
        "not_selected": stats["totals"][NOT_SELECTED]["docs"],
        "clusters": stats["clusters"]["count"],
        "reconciled": stats["reconciled"],
        "docs_dir": str(out_dir / "docs"),
    }
    manifest = {
        "stage": "select",
        "config": cfg.model_dump(mode="json"),
        "inputs": {
            "docs_dir": str(docs_dir),
            "shards": [{"path": str(p), "sha256": _sha256(p)} for p in paths],
            "quality_model": None
            if quality_model is None
            else {"path": str(quality_model), "sha256": _sha256(quality_model)},
        },
        "counts": summary,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    print(format_summary(stats))
    return summary
