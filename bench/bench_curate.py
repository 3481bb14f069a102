"""Benchmark: our curate job vs datatrove's Gopher quality + Gopher repetition + C4 filters, same real text.

Both run on one core (our DirectRunner in-process with one worker; datatrove's LocalPipelineExecutor with
one task and one worker) over the same JSONL.gz files sampled from ../shared/corpus, read -> filter ->
write. Throughput is reported per core of CPU time (and per wall second; the machine is shared, so wall
time is noisy). Kept fractions per domain are reported for: ours with the per-domain defaults (what curate
ships), ours with the web defaults on every domain (the like-for-like rule set), and datatrove.

    python bench/bench_curate.py --mb-per-file 1.0
    python bench/bench_curate.py --rss      # peak RSS of curate on a small input and one >= 10x larger
    python bench/bench_curate.py --dolma --mb-per-file 0.3   # our rules vs dolma's gopher + c4 taggers

``--dolma`` runs dolma's taggers in dolma's own venv (``--dolma-python``, a subprocess: dolma is never imported
here) and our pure rules in this process, over the same texts loaded in memory (JSON parsing timed on neither
side), and reports CPU seconds, the ratio and how far the kept sets differ.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_input(out: Path, mb_per_file: float) -> dict[str, dict]:
    """The first documents of every corpus file (up to mb_per_file MB of text each), as {id, text, domain}."""
    out.mkdir(parents=True)
    files = {}
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        name = path.name.split(".")[0]
        docs = chars = 0
        with gzip.open(path, "rt", encoding="utf-8") as fin, gzip.open(out / path.name, "wt", encoding="utf-8") as fout:
            for line in fin:
                rec = json.loads(line)
                fout.write(json.dumps({"id": rec["id"], "text": rec["text"], "domain": rec["domain"]}) + "\n")
                docs, chars = docs + 1, chars + len(rec["text"])
                if chars >= mb_per_file * 1e6:
                    break
        files[name] = {"domain": name.split("_")[0], "docs": docs, "chars": chars,
                       "bytes": (out / path.name).stat().st_size}
    return files


def run_ours(inputs: Path, files: dict, out: Path) -> dict:
    from dapt.pipeline.curate.config import CurateConfig
    from dapt.pipeline.curate.main import run_curate

    cfg = CurateConfig(
        sources=[{"name": n, "domain": f["domain"], "paths": [str(inputs / f"{n}.jsonl.gz")]} for n, f in files.items()],
        direct_running_mode="in_memory", direct_num_workers=1,
    )
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    run_curate(cfg, out)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    stats = json.loads((out / "stats.json").read_text())
    kept = Counter()
    total = Counter()
    for name, entry in stats["sources"].items():
        total[entry["domain"]] += entry["docs"]["in"]
        kept[entry["domain"]] += entry["docs"]["kept"]
    return {"wall_s": wall, "cpu_s": cpu, "kept": dict(kept), "in": dict(total),
            "top_reasons": dict(list(stats["total"]["docs"]["dropped"].items())[:8]),
            "duplicates": stats["total"]["docs"]["duplicates"]}


def run_ours_web_rules(inputs: Path, files: dict) -> dict:
    """Our rule chain (no Beam) with the web defaults on every domain: the like-for-like rule set."""
    from dapt.pipeline.curate.chain import apply_rules
    from dapt.pipeline.curate.config import CurateConfig, SourceConfig
    from dapt.pipeline.rules.language import LanguageIdentifier

    rules = CurateConfig().rules_for(SourceConfig(name="web", domain="general"))
    langid = LanguageIdentifier()
    kept, total = Counter(), Counter()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for name, info in files.items():
        with gzip.open(inputs / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                total[info["domain"]] += 1
                kept[info["domain"]] += apply_rules(rec["text"], rules, langid).reason is None
    return {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - cpu0, "kept": dict(kept), "in": dict(total)}


def run_datatrove(inputs: Path, out: Path, logs: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(inputs), glob_pattern="*.jsonl.gz", text_key="text", id_key="id"),
            # FineWeb's order: repetition, quality, C4 (datatrove examples/fineweb.py), published defaults.
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            JsonlWriter(str(out)),
        ],
        tasks=1, workers=1, logging_dir=str(logs),
    )
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    executor.run()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    kept = Counter()
    for path in out.rglob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                kept[json.loads(line)["metadata"]["domain"]] += 1
    return {"wall_s": wall, "cpu_s": cpu, "kept": dict(kept)}


# Runs curate in a fresh process (in-process runner, one worker) and prints that process's peak RSS.
_RSS_CHILD = """
import json, resource, sys, time
from pathlib import Path
from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.curate.main import run_curate
inp, out = Path(sys.argv[1]), Path(sys.argv[2])
sources = [{"name": p.name.split(".")[0], "domain": p.name.split("_")[0], "paths": [str(p)]}
           for p in sorted(inp.glob("*.jsonl.gz"))]
t = time.perf_counter()
summary = run_curate(CurateConfig(sources=sources, direct_running_mode="in_memory", direct_num_workers=1), out)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "wall_s": time.perf_counter() - t, "docs_in": summary["docs_in"]}))
"""


def measure_rss(out: Path) -> dict:
    """Peak RSS of a curate run on ~2.4 MB of text and on ~28 MB (>= 10x), each in its own process."""
    work = Path(tempfile.mkdtemp(prefix="bench_curate_rss_"))
    runs = {}
    try:
        for label, mb_per_file in (("small", 0.15), ("large", 2.5)):
            files = build_input(work / label, mb_per_file)
            proc = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(work / label), str(work / f"out_{label}")],
                                  capture_output=True, text=True, check=True, cwd=REPO)
            runs[label] = {"text_mb": sum(f["chars"] for f in files.values()) / 1e6,
                           **json.loads(proc.stdout.strip().splitlines()[-1])}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"benchmark": "curate peak RSS, small vs >= 10x larger input (DirectRunner in_memory, 1 worker)",
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
              "versions": {p: version(p) for p in ("apache-beam", "py3langid")},
              "runs": runs, "input_ratio": runs["large"]["text_mb"] / runs["small"]["text_mb"],
              "rss_ratio": runs["large"]["peak_rss_mb"] / runs["small"]["peak_rss_mb"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for label, run in runs.items():
        print(f"{label:6s} {run['text_mb']:6.1f} MB text  {run['docs_in']:6d} docs  peak RSS {run['peak_rss_mb']:7.1f} MB")
    print(f"input x{result['input_ratio']:.1f} -> peak RSS x{result['rss_ratio']:.2f}; written {out}")
    return result


# Dolma's taggers with the published Gopher thresholds (Rae et al. 2021, Table A1, as Dolma's mixer configs
# apply them) and C4's page and line rules on their attributes; gopher_v1 (Dolma's default) and gopher_v2
# (blank lines not counted as duplicate lines) are timed separately. Runs under dolma's interpreter.
_DOLMA_CHILD = """
import gzip, json, sys, time
from pathlib import Path
from dolma.core.data_types import Document
from dolma.taggers.c4 import C4Tagger
from dolma.taggers.gopher import GopherTagger, GopherTaggerV2
docs = []
for p in sorted(Path(sys.argv[1]).glob("*.jsonl.gz")):
    with gzip.open(p, "rt", encoding="utf-8") as fh:
        docs += [json.loads(line) for line in fh]
TOP = {2: 0.20, 3: 0.18, 4: 0.16}
DUP = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
c4 = C4Tagger()
def reason(gopher, doc):
    d = Document(source="bench", id=doc["id"], text=doc["text"])
    a = {s.type: s.score for s in gopher.predict(d).spans}
    if not 50 <= a["word_count"] <= 100_000: return "gopher/word_count"
    if not 3 <= a["median_word_length"] <= 10: return "gopher/median_word_length"
    if a["symbol_to_word_ratio"] > 0.1: return "gopher/symbol_ratio"
    if a["fraction_of_words_with_alpha_character"] < 0.8: return "gopher/alpha_words"
    if a["required_word_count"] < 2: return "gopher/stop_words"
    if a["fraction_of_lines_starting_with_bullet_point"] > 0.9: return "gopher/bullets"
    if a["fraction_of_lines_ending_with_ellipsis"] > 0.3: return "gopher/ellipsis"
    if a["fraction_of_duplicate_lines"] > 0.3: return "gopher/dup_lines"
    if a["fraction_of_characters_in_duplicate_lines"] > 0.2: return "gopher/dup_line_chars"
    for n, lim in TOP.items():
        if a.get(f"fraction_of_characters_in_most_common_{n}grams", 0) > lim: return f"gopher/top_{n}_gram"
    for n, lim in DUP.items():
        if a.get(f"fraction_of_characters_in_duplicate_{n}grams", 0) > lim: return f"gopher/dup_{n}_gram"
    spans = c4.predict(d).spans
    types = {s.type for s in spans}
    if "has_curly_brace" in types: return "c4/curly_bracket"
    if "has_lorem_ipsum" in types: return "c4/lorem_ipsum"
    # C4's line rules remove lines without end punctuation or with < 3 words; no line left drops the page.
    bad = {(s.start, s.end) for s in spans if s.type in ("lines_with_no_ending_punctuation", "lines_with_too_few_words")}
    lines = next(s.score for s in spans if s.type == "line_count")
    return None if len(bad) < lines else "c4/no_lines_left"
out = {}
for name, gopher in (("gopher_v1", GopherTagger()), ("gopher_v2", GopherTaggerV2())):
    cpu0 = time.process_time()
    reasons = {doc["id"]: reason(gopher, doc) for doc in docs}
    out[name] = {"cpu_s": time.process_time() - cpu0, "reasons": reasons}
print(json.dumps(out))
"""


def _load_texts(inputs: Path) -> list[tuple[str, str]]:
    docs = []
    for path in sorted(inputs.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            docs += [(rec["id"], rec["text"]) for rec in map(json.loads, fh)]
    return docs


def run_ours_rules(inputs: Path) -> dict:
    """Our pure rule chain over texts in memory: the Gopher + C4 set dolma's taggers cover, and the full chain.

    Like for like: language ID, FineWeb and PII off, and C4's five-sentence page rule off (Dolma's C4 tagger
    counts no sentences); normalization stays on (every document gets it in curate).
    """
    from dapt.pipeline.curate.chain import apply_rules
    from dapt.pipeline.curate.config import RuleConfig
    from dapt.pipeline.rules.language import LanguageIdentifier

    docs = _load_texts(inputs)
    sets = {
        "gopher_c4": (RuleConfig(language={"enabled": False}, fineweb={"enabled": False}, pii={"enabled": False},
                                 c4={"min_sentences": 0}), None),
        "full_chain_web_defaults": (RuleConfig(), LanguageIdentifier()),
    }
    out = {}
    for name, (rules, langid) in sets.items():
        cpu0 = time.process_time()
        reasons = {doc_id: apply_rules(text, rules, langid).reason for doc_id, text in docs}
        out[name] = {"cpu_s": time.process_time() - cpu0, "reasons": reasons}
    return out


def run_dolma_comparison(mb_per_file: float, dolma_python: str, out_path: Path) -> dict:
    """Dolma's gopher + c4 taggers vs our rules on the same texts, CPU seconds and kept sets side by side."""
    work = Path(tempfile.mkdtemp(prefix="bench_curate_dolma_"))
    try:
        files = build_input(work / "input", mb_per_file)
        proc = subprocess.run([dolma_python, "-c", _DOLMA_CHILD, str(work / "input")], capture_output=True,
                              text=True, check=True)
        dolma = json.loads(proc.stdout.strip().splitlines()[-1])
        ours = run_ours_rules(work / "input")
        dolma_version = subprocess.run([dolma_python, "-c", "from importlib.metadata import version; "
                                        "print(version('dolma'))"], capture_output=True, text=True).stdout.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    docs = sum(f["docs"] for f in files.values())
    mb = sum(f["chars"] for f in files.values()) / 1e6
    ours_kept = {i for i, r in ours["gopher_c4"]["reasons"].items() if r is None}
    compare = {}
    for name, run in dolma.items():
        kept = {i for i, r in run["reasons"].items() if r is None}
        compare[name] = {
            "cpu_s": run["cpu_s"], "mb_per_cpu_s": mb / run["cpu_s"], "kept": len(kept),
            "speed_ratio_ours_gopher_c4": run["cpu_s"] / ours["gopher_c4"]["cpu_s"],
            "speed_ratio_ours_full_chain": run["cpu_s"] / ours["full_chain_web_defaults"]["cpu_s"],
            "kept_fraction_difference": (len(ours_kept) - len(kept)) / docs,
            "kept_relative_difference": (len(ours_kept) - len(kept)) / max(len(kept), 1),
            "only_ours_kept": len(ours_kept - kept), "only_dolma_kept": len(kept - ours_kept),
            "dolma_reasons_of_only_ours": dict(Counter(run["reasons"][i] for i in ours_kept - kept).most_common()),
            "our_reasons_of_only_dolma": dict(Counter(ours["gopher_c4"]["reasons"][i]
                                                      for i in kept - ours_kept).most_common()),
        }
    result = {
        "benchmark": "our pure rules vs dolma's gopher + c4 taggers, same texts in memory, CPU seconds",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "shared": "2 cores shared with other jobs; CPU time is the comparable figure"},
        "versions": {"dolma": dolma_version, "py3langid": version("py3langid"), "numpy": version("numpy")},
        "settings": {"mb_per_file": mb_per_file, "docs": docs, "text_mb": mb,
                     "ours_gopher_c4": "apply_rules, web defaults, language/FineWeb/PII off, c4.min_sentences 0",
                     "dolma": "GopherTagger (v1) or GopherTaggerV2 + C4Tagger, published Gopher thresholds, C4 "
                              "curly/lorem page rules, no line left drops the page"},
        "ours": {name: {"cpu_s": run["cpu_s"], "mb_per_cpu_s": mb / run["cpu_s"],
                        "kept": sum(r is None for r in run["reasons"].values())} for name, run in ours.items()},
        "dolma": compare,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{docs} docs, {mb:.1f} MB text")
    print(f"{'run':34s} {'cpu s':>7s} {'MB/cpu-s':>9s} {'kept':>6s}")
    for name, run in result["ours"].items():
        print(f"{'ours ' + name:34s} {run['cpu_s']:7.2f} {run['mb_per_cpu_s']:9.3f} {run['kept']:6d}")
    for name, run in compare.items():
        print(f"{'dolma ' + name + ' + c4_v1':34s} {run['cpu_s']:7.2f} {run['mb_per_cpu_s']:9.3f} {run['kept']:6d}"
              f"   ours(gopher+c4) is {run['speed_ratio_ours_gopher_c4']:.2f}x per CPU-s "
              f"(full chain {run['speed_ratio_ours_full_chain']:.2f}x); kept {run['kept_relative_difference']:+.1%}")
    print(f"written {out_path}")
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb-per-file", type=float, default=1.0, help="MB of text taken from each corpus file")
    parser.add_argument("--out", type=Path, default=None, help="JSON result (default bench/results/curate*.json)")
    parser.add_argument("--rss", action="store_true", help="measure peak RSS on a small and a >= 10x input instead")
    parser.add_argument("--dolma", action="store_true", help="compare our rules with dolma's gopher + c4 taggers")
    parser.add_argument("--dolma-python", default="/work/peers/dolma/bin/python", help="python of dolma's venv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    if args.rss:
        return measure_rss(args.out or REPO / "bench" / "results" / "curate_rss.json")
    if args.dolma:
        return run_dolma_comparison(args.mb_per_file, args.dolma_python,
                                    args.out or REPO / "bench" / "results" / "curate_dolma.json")
    args.out = args.out or REPO / "bench" / "results" / "curate.json"

    work = Path(tempfile.mkdtemp(prefix="bench_curate_"))
    try:
        files = build_input(work / "input", args.mb_per_file)
        docs = sum(f["docs"] for f in files.values())
        mb = sum(f["chars"] for f in files.values()) / 1e6
        ours = run_ours(work / "input", files, work / "ours")
        web = run_ours_web_rules(work / "input", files)
        dt = run_datatrove(work / "input", work / "datatrove", work / "datatrove_logs")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rates(run: dict) -> dict:
        return {"docs_per_s_per_core": docs / run["cpu_s"], "mb_per_s_per_core": mb / run["cpu_s"],
                "docs_per_wall_s": docs / run["wall_s"], "mb_per_wall_s": mb / run["wall_s"]}

    domains = sorted({f["domain"] for f in files.values()})
    domain_in = Counter()
    for f in files.values():
        domain_in[f["domain"]] += f["docs"]
    kept = {d: {"docs_in": domain_in[d],
                "ours_domain_defaults": ours["kept"].get(d, 0) / domain_in[d],
                "ours_web_defaults": web["kept"].get(d, 0) / domain_in[d],
                "datatrove": dt["kept"].get(d, 0) / domain_in[d]} for d in domains}
    result = {
        "benchmark": "curate vs datatrove (Gopher quality + Gopher repetition + C4), one core each",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "shared": "2 cores shared with other jobs; CPU-time rates are the comparable figures"},
        "versions": {p: version(p) for p in ("apache-beam", "datatrove", "py3langid", "spacy")},
        "settings": {"mb_per_file": args.mb_per_file, "files": files, "docs": docs, "text_mb": mb,
                     "ours": "run_curate, DirectRunner in_memory, 1 worker: read, normalize, language, Gopher "
                             "quality + repetition, C4, FineWeb, PII, exact dedup, write",
                     "datatrove": "LocalPipelineExecutor tasks=1 workers=1: JsonlReader, GopherRepetitionFilter, "
                                  "GopherQualityFilter, C4QualityFilter, JsonlWriter"},
        "ours": {**ours, **rates(ours)},
        "ours_rules_only_web_defaults": {**web, **rates(web)},
        "datatrove": {**dt, **rates(dt)},
        "ratio_ours_vs_datatrove": {"per_core_cpu": dt["cpu_s"] / ours["cpu_s"], "wall": dt["wall_s"] / ours["wall_s"]},
        "kept_fraction_by_domain": kept,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\n{docs} docs, {mb:.1f} MB text from {len(files)} corpus files")
    print(f"{'run':32s} {'docs/s/core':>12s} {'MB/s/core':>10s} {'wall s':>8s} {'cpu s':>8s}")
    for label, run in (("ours (curate job)", result["ours"]), ("ours (rules only, web defaults)",
                       result["ours_rules_only_web_defaults"]), ("datatrove", result["datatrove"])):
        print(f"{label:32s} {run['docs_per_s_per_core']:12.1f} {run['mb_per_s_per_core']:10.3f} "
              f"{run['wall_s']:8.1f} {run['cpu_s']:8.1f}")
    ratio = result["ratio_ours_vs_datatrove"]
    print(f"ratio ours/datatrove: {ratio['per_core_cpu']:.2f}x per core (CPU), {ratio['wall']:.2f}x wall")
    print(f"\n{'domain':10s} {'docs':>6s} {'ours (domain)':>14s} {'ours (web)':>11s} {'datatrove':>10s}")
    for d, k in kept.items():
        print(f"{d:10s} {k['docs_in']:6d} {k['ours_domain_defaults']:14.3f} {k['ours_web_defaults']:11.3f} "
              f"{k['datatrove']:10.3f}")
    print(f"\nwritten {args.out}")
    return result


if __name__ == "__main__":
    main()
