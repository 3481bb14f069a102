"""`run_curate`: the curate Beam job (read -> clean -> exact dedup -> write) and its stats and manifest."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from dapt.errors import StageFailed, UserError
from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.curate.inputs import InputFile, detect_format, expand_paths, split_ranges
from dapt.pipeline.curate.transforms import (
    COUNTER_NAMESPACE,
    PII_NAMESPACE,
    Clean,
    ExactDedup,
    ReadSources,
    Tally,
    WriteOutputs,
    rejected_json,
)
from dapt.pipeline.results import HandBack, handed_back
from dapt.pipeline.storage import Location, pipeline_options, staged_outputs, use_pipeline_options
from dapt.summary import format_table
from dapt.manifest import write_manifest

log = logging.getLogger(__name__)

OUTCOMES = ("kept", "dropped", "duplicates", "malformed")
MEASURES = ("docs", "chars", "words")


def _resolve_inputs(cfg: CurateConfig) -> list[InputFile]:
    if not cfg.sources:
        raise UserError("curate.sources is empty; add at least one source with a name, domain and paths")
    files: list[InputFile] = []
    for source in cfg.sources:
        matched = expand_paths(source)
        if not matched:
            raise UserError(
                f"curate.sources[{source.name}].paths {source.paths} matched no files; fix the path or glob"
            )
        for found in matched:
            detect_format(source, found.path)  # an unknown file type is the user's to fix, before the job starts
            files.append(found)
    return files


def build_stats(tally: Iterable[tuple[str, str, str, int, int, int]], cfg: CurateConfig) -> dict[str, Any]:
    """Per-source and total stats from tally rows (source, outcome, reason, docs, chars, words) and PII
    rows (source, "pii", kind, count, 0, 0).

    For every measure: in = kept + sum(dropped[reason]) + duplicates + malformed.
    """
    def empty() -> dict[str, Any]:
        return {m: {"in": 0, "kept": 0, "dropped": {}, "duplicates": 0, "malformed": 0} for m in MEASURES}

    per_source = {s.name: {"domain": s.domain, **empty(), "pii": {}} for s in cfg.sources}
    total = {**empty(), "pii": {}}
    for source, kind, reason, *values in tally:
        if kind == "file":  # per-file record counts: see malformed_files
            continue
        if kind == "pii":  # redaction counts of kept documents, not an outcome
            for target in (per_source[source], total):
                target["pii"][reason] = target["pii"].get(reason, 0) + values[0]
            continue
        for target in (per_source[source], total):
            for measure, value in zip(MEASURES, values):
                bucket = target[measure]
                bucket["in"] += value
                if kind == "dropped":
                    bucket["dropped"][reason] = bucket["dropped"].get(reason, 0) + value
                else:
                    bucket[kind] += value
    for entry in [*per_source.values(), total]:
        for measure in MEASURES:
            bucket = entry[measure]
            bucket["dropped"] = dict(sorted(bucket["dropped"].items(), key=lambda kv: (-kv[1], kv[0])))
            parts = bucket["kept"] + sum(bucket["dropped"].values()) + bucket["duplicates"] + bucket["malformed"]
            if parts != bucket["in"]:
                raise StageFailed(f"curate counts do not reconcile: {measure} in {bucket['in']} != kept + "
                                  f"dropped + duplicates + malformed = {parts}; outputs are not trusted")
    return {"sources": per_source, "total": total}


def check_read_something(stats: dict[str, Any], n_files: int, dead_letters: str) -> None:
    """Fails the stage when no record could be read: on a cluster that is what inputs on the launcher's
    disk look like (every file a dead letter on the workers), and it must not pass for an empty success."""
    docs = stats["total"]["docs"]
    if docs["in"] == 0:
        raise StageFailed(f"curate read no records from {n_files} input files; are they empty?")
    if docs["malformed"] == docs["in"]:
        raise StageFailed(
            f"curate could not read any input: all {docs['in']} records of {n_files} files are dead letters "
            f"(see {dead_letters}); on a cluster, inputs must be on storage the workers reach (gs://, s3://)"
        )


# A file with at least this fraction of dead letters gets a warning line under the summary table.
WARN_MALFORMED_FRACTION = 0.5


def malformed_files(tally: Iterable[tuple[str, str, str, int, int, int]]) -> list[dict[str, Any]]:
    """Files at least WARN_MALFORMED_FRACTION dead letters, from the tally's (source, "file", label,
    records, malformed, 0) rows, worst first."""
    found = [{"source": source, "file": label, "records": records, "malformed": malformed,
              "fraction": round(malformed / records, 4)}
             for source, kind, label, records, malformed, _ in tally
             if kind == "file" and records and malformed / records >= WARN_MALFORMED_FRACTION]
    return sorted(found, key=lambda f: (-f["fraction"], f["source"], f["file"]))


def _sum_pairs(values: Iterable[tuple[int, int]]) -> tuple[int, int]:
    records = malformed = 0
    for r, m in values:
        records, malformed = records + r, malformed + m
    return records, malformed


def check_malformed_files(files: list[dict[str, Any]], cfg: CurateConfig, dead_letters: str) -> None:
    """Fails the stage when a file has more dead letters than its source's ``max_malformed_fraction``."""
    limits = {s.name: s.max_malformed_fraction for s in cfg.sources}
    over = [f for f in files if f["fraction"] > limits[f["source"]]]
    if over:
        f, more = over[0], f" (and {len(over) - 1} more files)" if len(over) > 1 else ""
        raise StageFailed(
            f"curate.sources[{f['source']}]: {f['malformed']} of {f['records']} records of {f['file']} are dead "
            f"letters ({100 * f['fraction']:.0f}% > max_malformed_fraction {limits[f['source']]}){more}; is it the "
            f"format its name says? See {dead_letters}, or raise curate.sources[{f['source']}].max_malformed_fraction"
        )


def summary_table(stats: dict[str, Any]) -> str:
    """Per source: docs and words in, kept %, duplicates, malformed and the top drop reasons."""
    rows = []
    for name, entry in [*stats["sources"].items(), ("TOTAL", {"domain": "", **stats["total"]})]:
        docs = entry["docs"]
        kept_pct = 100.0 * docs["kept"] / docs["in"] if docs["in"] else 0.0
        top = ", ".join(f"{r} {n}" for r, n in list(docs["dropped"].items())[:3])
        rows.append([name, entry["domain"], docs["in"], entry["words"]["in"], f"{kept_pct:.1f}", docs["duplicates"],
                     docs["malformed"], top])
    head = ["source", "domain", "docs in", "words in", "kept %", "dups", "malformed", "top drop reasons"]
    warnings = [f"warning: {f['source']}/{f['file']}: {f['malformed']} of {f['records']} records malformed "
                f"({100 * f['fraction']:.0f}%)" for f in stats.get("malformed_files", [])]
    return "\n".join([format_table(head, rows, align="llrrrrr"), *warnings])


TEMPORARIES = ("_tally", "_tmp")


def _temp_name(output: str) -> str:
    """WriteToFiles' temporary folder of one output: each write of the job has its own."""
    return f".temp_{output.replace('/', '_')}"


def _temp_folders(out_dir: Location) -> list[Location]:
    return [out_dir / _temp_name(name) for name in OUTPUT_FOLDERS]


def _remove_temporaries(out_dir: Location) -> None:
    """Drops the tally, the dedup parking shards and WriteToFiles' temp folders, which must be empty by now."""
    for temp in _temp_folders(out_dir):
        left = temp.files()
        if left:
            # fileio only logs a failed final rename; outputs left behind would be silently missing.
            raise StageFailed(f"{len(left)} output files were not moved out of {temp}; rerun curate")
        temp.rmtree()
    for sub in TEMPORARIES:
        (out_dir / sub).rmtree()


def _counters(result: Any, namespace: str) -> dict[str, int]:
    """Committed Beam counters of one namespace (runners without metrics support give {})."""
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]
    except NotImplementedError:
        return {}
    totals: dict[str, int] = {}
    for counter in found:
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + counter.committed
    return dict(sorted(totals.items()))


# What a run of curate owns in its folder: a rerun replaces all of it.
CURATE_OUTPUTS = ("docs", "rejected", "dead_letter", "stats.json", "manifest.json")
# Every output folder of the job; "rejected/*" only when write_rejected is on.
OUTPUT_FOLDERS = ("docs", "dead_letter", "rejected/read", "rejected/rules", "rejected/dedup")


def run_curate(
    cfg: CurateConfig, out_dir: str | Path | Location, beam_args: Sequence[str] = ()
) -> dict:
    """Runs the curate job into ``out_dir`` (docs/, rejected/, dead_letter/, stats.json, manifest.json), a
    local folder or a URL on any Beam filesystem (inputs may be URLs too)."""
    use_pipeline_options(beam_args)
    final = Location(out_dir)
    files = _resolve_inputs(cfg)
    # The job writes into a fresh staging folder that replaces this stage's outputs only when it succeeded:
    # stale shards of an earlier run never mix in, and a failed run leaves the previous outputs intact.
    with staged_outputs(final, CURATE_OUTPUTS) as out_dir:
        summary = _curate(cfg, files, out_dir, final, beam_args)
    log.info("curate: %d of %d docs kept in %.1fs -> %s", summary["docs_kept"], summary["docs_in"],
             summary["seconds"], final)
    return summary


def _curate(cfg: CurateConfig, files: list[InputFile], out_dir: Location, final: Location,
            beam_args: Sequence[str]) -> dict:
    """The curate job, writing into ``out_dir`` (the staging folder of ``final``)."""
    rules = {s.name: cfg.rules_for(s) for s in cfg.sources}

    started = time.perf_counter()
    # Local DirectRunner parallelism from the config unless the user's flags say otherwise.
    options = pipeline_options(beam_args, direct_running_mode=cfg.direct_running_mode,
                               direct_num_workers=cfg.direct_num_workers)
    pipeline = beam.Pipeline(options=options)
    by_name = {s.name: s for s in cfg.sources}
    # Large uncompressed JSONL files become byte ranges, so several workers read one file.
    work = [r for f in files for r in split_ranges(f, detect_format(by_name[f.source], f.path), cfg.split_bytes)]
    read = pipeline | "ReadSources" >> ReadSources(work, cfg.sources, cfg.dead_letter_max_bytes, cfg.split_bytes)
    cleaned = read.docs | "Clean" >> Clean(rules)
    if cfg.dedup:
        deduped = cleaned.kept | "ExactDedup" >> ExactDedup(str(out_dir / "_tmp" / "kept"))
        kept, duplicates = deduped.unique, deduped.duplicates
    else:
        kept, duplicates = cleaned.kept, pipeline | "NoDuplicates" >> beam.Create([])

    # One write per output, and no Flatten of full records: the local runner materializes a Flatten's whole
    # input in memory before its consumer runs (measured: peak RSS grew with the corpus). The tally is
    # combined per outcome first, so only a few sums are flattened.
    writes = {
        "dead_letter": read.malformed
        | "DeadLetterJson" >> beam.Map(lambda r: ("dead_letter", json.dumps(r, sort_keys=True))),
        "docs": kept | "KeptJson" >> beam.Map(lambda d: (f"docs/{d.source}", d.to_json())),
    }
    if cfg.write_rejected:
        for label, pcoll in (("read", read.dropped), ("rules", cleaned.dropped), ("dedup", duplicates)):
            writes[f"rejected/{label}"] = pcoll | f"Rejected{label.title()}Json" >> beam.Map(
                lambda e, label=label: (f"rejected/{label}", rejected_json(e)))
    per_file = (
        read.files
        | "SumFiles" >> beam.CombinePerKey(_sum_pairs)
        | "FileRows" >> beam.MapTuple(lambda key, value: ((key[0], "file", key[1]), (*value, 0)))
    )
    _ = (
        (
            {"kept": kept, "read_dropped": read.dropped, "rule_dropped": cleaned.dropped, "duplicates": duplicates,
             "malformed": read.malformed}
            | "Tally" >> Tally(),
            per_file,
        )
        | "TallyAndFiles" >> beam.Flatten()
        | "TallyRows" >> beam.MapTuple(lambda key, value: [*key, *value])
        | "HandBackTally" >> HandBack(out_dir / "_tally")
    )
    folders = [f"docs/{s.name}" for s in cfg.sources] + [name for name in writes if name != "docs"]
    for folder in folders:
        (out_dir / folder).mkdir()
    for name, records in writes.items():
        records | f"Write[{name}]" >> WriteOutputs(str(out_dir), len(folders), temp_name=_temp_name(name))
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - started

    rows = handed_back(out_dir / "_tally")
    _remove_temporaries(out_dir)
    stats = build_stats(rows, cfg)
    check_read_something(stats, len(files), str(out_dir / "dead_letter"))
    stats["malformed_files"] = malformed_files(rows)
    stats["beam_counters"] = _counters(result, COUNTER_NAMESPACE)
    stats["beam_counters_pii"] = _counters(result, PII_NAMESPACE)
    stats["seconds"] = round(seconds, 3)
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")

    total = stats["total"]
    summary = {
        "stage": "curate",
        "docs_in": total["docs"]["in"],
        "docs_kept": total["docs"]["kept"],
        "docs_dropped": sum(total["docs"]["dropped"].values()),
        "duplicates": total["docs"]["duplicates"],
        "malformed": total["docs"]["malformed"],
        "words_kept": total["words"]["kept"],
        "seconds": stats["seconds"],
        "docs_dir": str(final / "docs"),
    }
    manifest = {
        "stage": "curate",
        "config": cfg.model_dump(mode="json"),
        "inputs": [{"source": f.source, **f.identity()} for f in files],
        "beam_args": list(beam_args),
        "summary": summary,
        "per_source": {n: {"domain": e["domain"], "docs_in": e["docs"]["in"], "docs_kept": e["docs"]["kept"],
                           "words_kept": e["words"]["kept"]} for n, e in stats["sources"].items()},
    }
    print(summary_table(stats))
    check_malformed_files(stats["malformed_files"], cfg, str(out_dir / "dead_letter"))
    write_manifest(out_dir, manifest)
    return summary
