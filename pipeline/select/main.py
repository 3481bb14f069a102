"""`run_select`: curated documents -> near-deduplicated, quality-selected documents (one Beam job)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam

from dapt.errors import StageFailed, UserError
from dapt.pipeline.documents import sha256_of, shard_paths
from dapt.pipeline.results import HandBack, handed_back
from dapt.pipeline.select.config import SelectConfig
from dapt.pipeline.select.dedup import LineDedup, NearDedup
from dapt.pipeline.select.transforms import (
    BOILERPLATE_ONLY,
    CONTAMINATED,
    KEPT,
    LINES_REMOVED,
    NEAR_DUPLICATE,
    NOT_SELECTED,
    ORIGINAL_DOMAIN,
    ROUTED_GROUP,
    CountFates,
    Decontaminate,
    ReadDocuments,
    RouteDomains,
    ScoreQuality,
    SelectByQuality,
    WriteShards,
    _sum_pairs,
    build_benchmark_index,
    word_count,
)
from dapt.pipeline.storage import Location, pipeline_options, staged_outputs, use_pipeline_options
from dapt.summary import format_table
from dapt.manifest import write_manifest

log = logging.getLogger(__name__)

# Order of the removal columns in stats and the summary table; `in` = the sum of all fates.
FATES = (KEPT, LINES_REMOVED, BOILERPLATE_ONLY, CONTAMINATED, NEAR_DUPLICATE, NOT_SELECTED)
INPUT = "in"
SELECT_OUTPUTS = ("docs", "removed", "stats.json", "manifest.json")  # what a rerun replaces
WORK = "_work"  # the job's collected results, read back by the driver, and deleted after
TEMP = "tmp"  # below WORK: files being written, renamed into place when whole


def _check_inputs(cfg: SelectConfig, docs_dir: Location, quality_model: Location | None) -> list[Location]:
    try:
        paths = shard_paths(docs_dir)
    except FileNotFoundError:
        raise UserError(f"no curated documents at {docs_dir}; run `dapt curate` first or pass the curated docs folder")
    if not paths:
        raise UserError(f"{docs_dir} holds no *.jsonl.gz shards; run `dapt curate` first")
    if quality_model is not None and not quality_model.is_file():
        raise UserError(f"quality model {quality_model} does not exist; train it with `dapt quality` or drop the path")
    selective = {s: f for s, f in cfg.selection.keep_token_fraction.items() if f < 1.0}
    if cfg.selection.default_keep_token_fraction < 1.0:
        selective["(default)"] = cfg.selection.default_keep_token_fraction
    for bench in cfg.decontam.benchmarks:
        if not Location(bench.path).is_file():
            raise UserError(
                f"select.decontam.benchmarks[{bench.name}].path = {bench.path} does not exist; fix the path or remove it"
            )
    if selective and quality_model is None:
        raise UserError(
            f"select.selection keeps fractions < 1 for {sorted(selective)} but no quality model was given; "
            "train one (`dapt quality`) or set those keep_token_fraction values to 1.0"
        )
    return paths


def _routing_status(cfg: SelectConfig, quality_model: Location | None) -> str:
    """'on', or why domain routing does not run (it needs a model with a domain classifier)."""
    if not cfg.routing.enabled:
        return "off: select.routing.enabled is false"
    if quality_model is None:
        return "off: no quality model"
    from dapt.pipeline.select.quality_model import params_location  # sklearn import only where needed

    params = json.loads(params_location(quality_model).read_text())
    if not params.get("domains"):
        return "off: the quality model has no domain classifier (its positives carry fewer than two `domain` labels)"
    return "on"


def build_pipeline(
    p: beam.Pipeline, cfg: SelectConfig, paths: Sequence[Location], out_dir: Location, quality_model: Location | None
):
    """Adds the select stage to a pipeline: lines -> decontam -> score -> near-dedup -> route -> select -> write.

    Line dedup comes first so shared boilerplate neither makes pages look like near-duplicates nor feeds the
    quality model; decontamination precedes near-dedup so a contaminated page never survives for its cluster.
    Returns the fate PCollections keyed by fate.
    """
    work = out_dir / WORK
    empty = p | "Nothing" >> beam.Create([])
    docs = p | "Read" >> ReadDocuments(paths)
    collected: dict[str, Any] = {}
    fates: dict[str, Any] = {INPUT: docs}

    current = docs
    if cfg.lines.enabled:
        lines = current | "LineDedup" >> LineDedup(cfg.lines)
        current, fates[BOILERPLATE_ONLY] = lines[KEPT], lines[BOILERPLATE_ONLY]
        fates[LINES_REMOVED] = (lines[KEPT], lines[BOILERPLATE_ONLY]) | "AllLineChecked" >> beam.Flatten()
        collected["frequent_lines"] = lines["lines"]
    if cfg.decontam.benchmarks:
        decontam = current | "Decontaminate" >> Decontaminate(cfg.decontam)
        current, fates[CONTAMINATED] = decontam[KEPT], decontam[CONTAMINATED]
        collected["benchmark_hits"] = decontam["hits"]
    current = current | "Quality" >> ScoreQuality(quality_model)
    if cfg.near_dedup.enabled:
        dedup = current | "NearDedup" >> NearDedup(cfg.near_dedup)
        current, fates[NEAR_DUPLICATE] = dedup[KEPT], dedup[NEAR_DUPLICATE]
        collected["cluster_sizes"] = (
            dedup["cluster_sizes"]
            | "SizeOnes" >> beam.Map(lambda s: (s, 1))
            | "SizeHistogram" >> beam.CombinePerKey(sum)
        )
    routing = _routing_status(cfg, quality_model) == "on"
    if routing:
        routed = current | "RouteDomains" >> RouteDomains(cfg.routing, quality_model)
        current = routed[KEPT]
        collected["moved"] = routed["moved"]
    routed_fraction = cfg.routing.keep_token_fraction if routing else None
    selected = current | "Selection" >> SelectByQuality(cfg.selection, routed_fraction)
    fates[KEPT], fates[NOT_SELECTED] = selected[KEPT], selected[NOT_SELECTED]
    collected["thresholds"] = selected["thresholds"]
    collected["moved_kept"] = (
        selected[KEPT]
        | "RoutedKept" >> beam.Filter(lambda d: ORIGINAL_DOMAIN in d.signals)
        | "RoutedKeptKey" >> beam.Map(lambda d: ((d.source, d.domain), (1, word_count(d.text))))
        | "CountRoutedKept" >> beam.CombinePerKey(_sum_pairs)
    )
    temp = work / TEMP
    collected["shards"] = selected[KEPT] | "Write" >> WriteShards(out_dir / "docs", cfg.shards_per_source, temp)
    if cfg.write_removed:
        for fate in (BOILERPLATE_ONLY, CONTAMINATED, NEAR_DUPLICATE, NOT_SELECTED):
            if fate in fates:
                fates[fate] | f"WriteRemoved_{fate}" >> WriteShards(
                    out_dir / "removed" / fate, cfg.shards_per_source, temp
                )
    collected["counts"] = fates | "CountFates" >> CountFates()
    for name in ("frequent_lines", "benchmark_hits", "cluster_sizes", "moved"):  # stages that may be off
        collected.setdefault(name, empty)
    for name, pcoll in collected.items():
        pcoll | f"HandBack_{name}" >> HandBack(work / name)
    return fates


def _read_work(out_dir: Location, name: str) -> list:
    return handed_back(out_dir / WORK / name)


def _by_source_domain(rows: list) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (source, domain), (docs, words) in rows:
        out.setdefault(source, {})[domain] = {"docs": docs, "words": words}
    return out


def _assemble_stats(cfg: SelectConfig, out_dir: Location) -> dict[str, Any]:
    counts = _read_work(out_dir, "counts")
    thresholds = dict(_read_work(out_dir, "thresholds"))
    frequent = dict(_read_work(out_dir, "frequent_lines"))
    moved = _by_source_domain(_read_work(out_dir, "moved"))
    moved_kept = _by_source_domain(_read_work(out_dir, "moved_kept"))
    units = ("docs", "words")
    sources: dict[str, dict[str, Any]] = {}
    for (source, fate), (docs, words) in counts:
        sources.setdefault(source, {f: {"docs": 0, "words": 0} for f in (INPUT, *FATES)})
        sources[source][fate] = {"docs": docs, "words": words}
    for source, s in sorted(sources.items()):
        s["reconciled"] = all(s[INPUT][u] == sum(s[f][u] for f in FATES) for u in units)
        # Achieved fraction over the source's own (non-routed) pages; routed pages have their own target.
        routed_words = sum(v["words"] for v in moved.get(source, {}).values())
        routed_kept_words = sum(v["words"] for v in moved_kept.get(source, {}).values())
        candidates = s[KEPT]["words"] + s[NOT_SELECTED]["words"] - routed_words
        selected_words = s[KEPT]["words"] - routed_kept_words
        s["selection"] = {
            "method": cfg.selection.method,
            "target_token_fraction": cfg.selection.fraction_for(source),
            "achieved_token_fraction": round(selected_words / candidates, 6) if candidates else None,
            "threshold": thresholds.get(source),
        }
        if routed_words:
            s["selection"]["routed"] = {
                "target_token_fraction": cfg.routing.keep_token_fraction or cfg.selection.fraction_for(source),
                "achieved_token_fraction": round(routed_kept_words / routed_words, 6),
                "threshold": thresholds.get(source + ROUTED_GROUP),
            }
        s["kept_token_fraction"] = round(s[KEPT]["words"] / s[INPUT]["words"], 6) if s[INPUT]["words"] else None
        s["frequent_lines"] = frequent.get(source, 0)
        s["routed"] = {d: v["docs"] for d, v in sorted(moved.get(source, {}).items())}  # moved before selection
        s["routed_kept"] = {d: v["docs"] for d, v in sorted(moved_kept.get(source, {}).items())}  # ... and kept
    histogram = {str(size): n for size, n in sorted(_read_work(out_dir, "cluster_sizes"))}
    totals = {f: {u: sum(s[f][u] for s in sources.values()) for u in units} for f in (INPUT, *FATES)}
    stats: dict[str, Any] = {
        "sources": dict(sorted(sources.items())),
        "totals": totals,
        "reconciled": all(s["reconciled"] for s in sources.values()),
        "clusters": {
            "count": sum(histogram.values()),
            "docs": sum(int(k) * v for k, v in histogram.items()),
            "histogram": histogram,
        },
        "routed": {
            "docs": sum(v["docs"] for m in moved.values() for v in m.values()),
            "kept": sum(v["docs"] for m in moved_kept.values() for v in m.values()),
            "by_source": {src: {d: v["docs"] for d, v in m.items()} for src, m in moved.items()},
        },
        "shards": sorted(_read_work(out_dir, "shards"), key=lambda r: r["path"]),
    }
    if cfg.decontam.benchmarks:
        index = build_benchmark_index(cfg.decontam)
        hits = dict(_read_work(out_dir, "benchmark_hits"))
        stats["decontamination"] = {
            "mode": cfg.decontam.mode,
            "ngram": cfg.decontam.ngram,
            "benchmarks": {
                b.name: {
                    "examples": index.examples.get(b.name, 0),
                    "short_examples": index.short_examples.get(b.name, 0),
                    "docs_hit": hits.get(b.name, 0),
                }
                for b in cfg.decontam.benchmarks
            },
        }
    return stats


_COLUMNS = (
    (INPUT, "in"),
    (BOILERPLATE_ONLY, "boilerpl"),
    (CONTAMINATED, "contam"),
    (NEAR_DUPLICATE, "near-dup"),
    (NOT_SELECTED, "not sel"),
    (KEPT, "kept"),
)


def format_summary(stats: dict[str, Any]) -> str:
    """The table printed at the end of `dapt select` (documents per fate, token fractions)."""
    head = ["source", *(label for _, label in _COLUMNS), "lines -w", "routed", "kept tok", "achieved", "target"]
    rows = [[source, *(s[f]["docs"] for f, _ in _COLUMNS), s[LINES_REMOVED]["words"], sum(s["routed"].values()),
             _frac(s["kept_token_fraction"]), _frac(s["selection"]["achieved_token_fraction"]),
             f"{s['selection']['target_token_fraction']:.3f}"] for source, s in stats["sources"].items()]
    t = stats["totals"]
    rows.append(["TOTAL", *(t[f]["docs"] for f, _ in _COLUMNS), t[LINES_REMOVED]["words"], "", "", "", ""])
    lines = ["select: documents per fate, words cut by line dedup, kept-token fraction",
             format_table(head, rows, align="l" + "r" * (len(head) - 1))]
    hist = ", ".join(f"{k}:{v}" for k, v in stats["clusters"]["histogram"].items()) or "none"
    lines.append(f"near-duplicate clusters: {stats['clusters']['count']} (size:count {hist})")
    if stats["routed"]["docs"]:
        lines.append(
            f"routed to a domain group: {stats['routed']['docs']} {stats['routed']['by_source']} "
            f"({stats['routed']['kept']} of them kept by selection)"
        )
    for name, b in stats.get("decontamination", {}).get("benchmarks", {}).items():
        lines.append(f"decontamination {name}: {b['docs_hit']} docs hit ({b['examples']} examples)")
    lines.append(f"reconciled (in = sum of fates, docs and words): {stats['reconciled']}")
    return "\n".join(lines)


def _frac(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def run_select(
    cfg: SelectConfig,
    docs_dir: str | Path | Location,
    out_dir: str | Path | Location,
    beam_args: Sequence[str] = (),
    quality_model: str | Path | Location | None = None,
) -> dict:
    """Runs the select Beam job over ``docs_dir`` (curated shards) and writes ``out_dir`` (see README); both,
    the quality model and the benchmarks may be on any Beam filesystem (``beam_args`` reach it)."""
    use_pipeline_options(beam_args)
    docs_dir, final = Location(docs_dir), Location(out_dir)
    quality_model = None if quality_model is None else Location(quality_model)
    paths = _check_inputs(cfg, docs_dir, quality_model)
    # A fresh staging folder replaces this stage's outputs only when the job succeeded: old shards never
    # mix with new ones, and a failed run leaves the previous outputs intact.
    with staged_outputs(final, SELECT_OUTPUTS) as out_dir:
        with beam.Pipeline(options=pipeline_options(beam_args)) as p:
            build_pipeline(p, cfg, paths, out_dir, quality_model)
        summary, stats = _finish(cfg, docs_dir, paths, out_dir, final, quality_model)
    print(format_summary(stats))
    return summary


def _finish(cfg: SelectConfig, docs_dir: Location, paths: Sequence[Location], out_dir: Location, final: Location,
            quality_model: Location | None) -> tuple[dict, dict[str, Any]]:
    """Stats, summary and manifest of a finished job in ``out_dir`` (the staging folder of ``final``)."""
    stats = _assemble_stats(cfg, out_dir)
    stats["routed"]["status"] = _routing_status(cfg, quality_model)
    if cfg.routing.enabled and stats["routed"]["status"] != "on":
        log.warning("domain routing %s", stats["routed"]["status"])
    if not stats["reconciled"]:
        raise StageFailed(f"select counts do not reconcile (in != sum of fates) for {stats['sources']}; "
                          "outputs are not trusted")
    (out_dir / WORK).rmtree()
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True))
    summary = {
        "docs_in": stats["totals"][INPUT]["docs"],
        "docs_kept": stats["totals"][KEPT]["docs"],
        "words_in": stats["totals"][INPUT]["words"],
        "words_kept": stats["totals"][KEPT]["words"],
        "near_duplicates": stats["totals"][NEAR_DUPLICATE]["docs"],
        "not_selected": stats["totals"][NOT_SELECTED]["docs"],
        "contaminated": stats["totals"][CONTAMINATED]["docs"],
        "boilerplate_only": stats["totals"][BOILERPLATE_ONLY]["docs"],
        "words_removed_by_line_dedup": stats["totals"][LINES_REMOVED]["words"],
        "routed": stats["routed"]["docs"],
        "clusters": stats["clusters"]["count"],
        "reconciled": stats["reconciled"],
        "docs_dir": str(final / "docs"),
    }
    manifest = {
        "stage": "select",
        "config": cfg.model_dump(mode="json"),
        "inputs": {
            "docs_dir": str(docs_dir),
            "shards": [{"path": str(p), "sha256": sha256_of(p)} for p in paths],
            "quality_model": None
            if quality_model is None
            else {"path": str(quality_model), "sha256": sha256_of(quality_model)},
            "benchmarks": [
                {"name": b.name, "path": b.path, "sha256": sha256_of(b.path)} for b in cfg.decontam.benchmarks
            ],
        },
        "counts": summary,
    }
    write_manifest(out_dir, manifest)
    return summary, stats
