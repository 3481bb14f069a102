"""Benchmark: how much of every ../shared/corpus source survives curate + select with the shipped defaults.

Curate is the rule chain every document goes through in the curate job (``apply_rules`` with the source's
domain profile, in-process: the same function the ApplyRules DoFn calls) and the job's exact dedup across
sources (lowest (source, id) of each normalized text survives). Select is the real ``run_select`` Beam job
(DirectRunner, one worker) over the curate survivors: line dedup (general sources), near-dedup, selection at
the default keep fraction 1.0. Survival is reported per stage, so near-dedup's share is told apart from the
rules'.

``--ref main`` computes the same table for another commit: the tree of that commit is unpacked into a
temporary folder and this script is run again in a subprocess that imports ``dapt`` from there, so
"before" and "after" are measured by one script, on one machine, in one run.

    nice -n 10 python bench/bench_survival.py --ref main         # before (main) and after (this tree)
    python bench/bench_survival.py --sources 'legal_*' --no-select   # quick: rules only, some sources
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import json
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DOMAIN_PREFIXES = ("legal_", "medical_", "financial_")
# The stage folders that install as dapt.<name> (pyproject's package-dir).
_STAGE_DIRS = ("pipeline", "tokenizer", "pretrain", "eval", "configs")
# select's folder of near-duplicate removals (removed/<fate>/); the other fates are line dedup's and selection's.
NEAR_DUPLICATES = "near_duplicates"


def corpus_sources(patterns: list[str]) -> dict[str, Path]:
    """{source name: file} of the top-level corpus files (raw_web/ is HTML for the extraction benches)."""
    files = sorted(CORPUS.glob("*.jsonl.gz"))
    return {p.name.split(".")[0]: p for p in files
            if any(fnmatch.fnmatch(p.name.split(".")[0], pat) for pat in patterns)}


def run_curate_rules(sources: dict[str, Path]) -> tuple[dict, list]:
    """Every document through its domain's rule chain, then exact dedup across sources.

    Returns ({source: {"in", "reasons": Counter, "cpu_s"}}, kept documents as (source, id, domain, text),
    drops as (source, id, reason, raw text)).
    """
    from dapt.pipeline.curate.chain import apply_rules
    from dapt.pipeline.curate.config import CurateConfig, SourceConfig
    from dapt.pipeline.rules.language import LanguageIdentifier

    langid = LanguageIdentifier()
    cfg = CurateConfig()
    per_source, kept, drops = {}, [], []
    for name, path in sources.items():
        domain = name.split("_")[0]
        rules = cfg.rules_for(SourceConfig(name=name, domain=domain))
        reasons, cpu0 = Counter(), time.process_time()
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                outcome = apply_rules(rec["text"], rules, langid)
                reasons[outcome.reason or "kept"] += 1
                if outcome.reason is None:
                    kept.append((name, str(rec["id"]), domain, outcome.text))
                else:
                    drops.append((name, str(rec["id"]), outcome.reason, rec["text"]))
        per_source[name] = {"in": sum(reasons.values()), "reasons": reasons, "cpu_s": time.process_time() - cpu0}
    # Exact dedup as the curate job does it (transforms.ExactDedup): the lowest (source, id) of a text survives.
    first: dict[str, tuple[str, str]] = {}
    for name, doc_id, _, text in sorted(kept, key=lambda d: (d[0], d[1])):
        first.setdefault(hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest(), (name, doc_id))
    unique = []
    for doc in kept:
        if first[hashlib.blake2b(doc[3].encode("utf-8"), digest_size=16).hexdigest()] == (doc[0], doc[1]):
            unique.append(doc)
        else:
            per_source[doc[0]]["reasons"]["kept"] -= 1
            per_source[doc[0]]["reasons"]["dedup/exact"] += 1
            drops.append((doc[0], doc[1], "dedup/exact", doc[3]))
    return per_source, unique, drops


def run_select_stage(kept: list, work: Path) -> tuple[dict, list]:
    """The real select job over the curate survivors -> ({source: Counter of fates}, removed (source, id, fate))."""
    from dapt.pipeline.documents import Document, iter_documents, write_documents
    from dapt.pipeline.select.config import SelectConfig
    from dapt.pipeline.select.main import run_select

    docs_dir = work / "curated"
    docs_dir.mkdir(parents=True)
    by_source: dict[str, list] = {}
    for name, doc_id, domain, text in kept:
        by_source.setdefault(name, []).append(Document(id=doc_id, text=text, source=name, domain=domain,
                                                       origin=f"{name}:{doc_id}"))
    for name, docs in by_source.items():
        write_documents(docs_dir / f"{name}.jsonl.gz", docs)
    cfg = SelectConfig(shards_per_source=1)
    run_select(cfg, docs_dir, work / "selected",
               beam_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    fates: dict[str, Counter] = {name: Counter() for name in by_source}
    removed = []
    for fate_dir in sorted((work / "selected" / "removed").glob("*")):
        for doc in iter_documents(fate_dir):
            fates[doc.source][fate_dir.name] += 1
            removed.append((doc.source, doc.id, f"select/{fate_dir.name}", doc.text))
    return fates, removed


def measure(patterns: list[str], select: bool) -> dict:
    """Per-source survival of this interpreter's ``dapt``, with every drop (source, id, reason, text)."""
    sources = corpus_sources(patterns)
    cpu0, t0 = time.process_time(), time.perf_counter()
    curate, kept, drops = run_curate_rules(sources)
    curate_cpu = time.process_time() - cpu0
    fates: dict[str, Counter] = {}
    if select:
        with tempfile.TemporaryDirectory(prefix="bench_survival_") as tmp:
            fates, removed = run_select_stage(kept, Path(tmp))
        drops += removed
    table = {}
    for name, entry in curate.items():
        n, after_curate = entry["in"], entry["reasons"]["kept"]
        sel = fates.get(name, Counter())
        near = sel.get(NEAR_DUPLICATES, 0)
        final = after_curate - sum(sel.values())
        table[name] = {
            "domain": name.split("_")[0], "docs": n, "curate_kept": after_curate,
            "near_duplicates": near, "other_select_removed": sum(sel.values()) - near,
            "final_kept": final if select else None,
            "survive_curate": after_curate / n,
            # With near-dedup and without it: near-dedup of templated pages is judged in select/dedup.
            "survive_curate_select": final / n if select else None,
            "survive_curate_select_no_near_dedup": (final + near) / n if select else None,
            "drop_reasons": dict(sorted(((r, c) for r, c in entry["reasons"].items() if r != "kept"),
                                        key=lambda rc: -rc[1])),
            "select_fates": dict(sel), "cpu_s": round(entry["cpu_s"], 2),
        }
    import dapt

    return {"table": table, "drops": drops, "curate_cpu_s": curate_cpu, "wall_s": time.perf_counter() - t0,
            "dapt_from": str(Path(dapt.__file__).resolve().parents[1])}


def samples_of(drops: list, seed: int, k: int) -> dict[str, list]:
    """k drops per source drawn with a fixed seed: (id, reason, first 160 characters)."""
    rng = random.Random(seed)
    by_source: dict[str, list] = {}
    for name, doc_id, reason, text in sorted(drops, key=lambda d: (d[0], d[1], d[2])):
        by_source.setdefault(name, []).append((doc_id, reason, " / ".join(text[:160].split("\n"))))
    return {name: [dict(zip(("id", "reason", "text"), d)) for d in rng.sample(ds, min(k, len(ds)))]
            for name, ds in by_source.items()}


def measure_at_ref(ref: str, patterns: list[str], select: bool) -> dict:
    """``measure`` for the tree of commit ``ref``, in a subprocess that imports dapt from that tree."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", ref], capture_output=True, text=True,
                            check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench_survival_ref_") as tmp:
        tree, pkg = Path(tmp) / "tree", Path(tmp) / "pkg" / "dapt"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True)
        with tarfile.open(fileobj=__import__("io").BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        # The installed layout (dapt/ plus the stage folders as dapt.<stage>), built from links.
        pkg.mkdir(parents=True)
        for item in (tree / "dapt").iterdir():
            (pkg / item.name).symlink_to(item)
        for stage in _STAGE_DIRS:
            (pkg / stage).symlink_to(tree / stage)
        out = Path(tmp) / "measure.json"
        args = [sys.executable, str(Path(__file__).resolve()), "--child", str(out), "--sources", *patterns]
        if not select:
            args.append("--no-select")
        # PYTHONPATH comes before the editable install's finder, so `import dapt` finds the old tree.
        subprocess.run(args, check=True, env={**os.environ, "PYTHONPATH": str(pkg.parent)})
        result = json.loads(out.read_text())
    result["commit"] = commit
    return result


def print_table(before: dict | None, after: dict) -> None:
    head = f"{'source':34s} {'docs':>6s} {'before':>7s} {'curate':>7s} {'+near':>7s} {'no-near':>8s}  top drop reasons (after)"
    print(head)
    print("-" * len(head))
    for name, row in after["table"].items():
        prev = before["table"].get(name) if before else None
        b = prev["survive_curate_select"] if prev and prev["survive_curate_select"] is not None else (
            prev["survive_curate"] if prev else None)
        sel = row["survive_curate_select"]
        nonear = row["survive_curate_select_no_near_dedup"]
        top = ", ".join(f"{r} {c}" for r, c in list(row["drop_reasons"].items())[:3])
        print(f"{name:34s} {row['docs']:6d} {'' if b is None else f'{b:.3f}':>7s} {row['survive_curate']:7.3f} "
              f"{'' if sel is None else f'{sel:.3f}':>7s} {'' if nonear is None else f'{nonear:.3f}':>8s}  {top}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", default=["*"], help="source name globs (default: every file)")
    parser.add_argument("--ref", default=None, help="also measure this commit (e.g. main) as 'before'")
    parser.add_argument("--no-select", action="store_true", help="curate only (no select job)")
    parser.add_argument("--samples", type=int, default=5, help="random drops shown per source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "survival.json")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    select = not args.no_select
    if args.child:  # a --ref run: measure with whatever dapt this interpreter imports, hand back JSON
        args.child.write_text(json.dumps(measure(args.sources, select)))
        return {}

    before = measure_at_ref(args.ref, args.sources, select) if args.ref else None
    after = measure(args.sources, select)
    if Path(after["dapt_from"]) != REPO:  # an editable install of another worktree would measure that one
        sys.exit(f"'after' imported dapt from {after['dapt_from']}, not {REPO}: pip install --no-deps -e {REPO}")
    after["commit"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    after["uncommitted_changes"] = bool(dirty)
    from dapt.pipeline.select.config import NearDedupConfig

    near = NearDedupConfig()
    result = {
        "benchmark": "per-source survival of ../shared/corpus through curate (domain profiles) + select",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {p: version(p) for p in ("apache-beam", "py3langid", "numpy")},
        "settings": {"sources": args.sources, "select": select, "seed": args.seed, "samples": args.samples,
                     "curate": "apply_rules with CurateConfig().rules_for(source) (shipped domain defaults), "
                               "exact dedup across sources",
                     "select_job": "run_select, SelectConfig defaults (line dedup on general sources, near-dedup "
                                   f"{near.ngram}-grams {near.bands}x{near.rows}, keep fraction 1.0), DirectRunner "
                                   "in_memory, 1 worker"},
        "after": {**{k: v for k, v in after.items() if k != "drops"},
                  "random_drops": samples_of(after["drops"], args.seed, args.samples)},
    }
    if before:
        result["before"] = {**{k: v for k, v in before.items() if k != "drops"},
                            "random_drops": samples_of(before["drops"], args.seed, args.samples)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print()
    print_table(before, after)
    print("\nbefore = survival at", args.ref or "-", "(curate + select);",
          "curate / +near = after: curate alone / curate + select; no-near = select without its near-dedup removals")
    print(f"\n{args.samples} random drops per source (seed {args.seed}, after):")
    for name, picks in result["after"]["random_drops"].items():
        print(f"  {name}")
        for pick in picks:
            print(f"    {pick['reason']:32s} {pick['id'][:40]:40s} {pick['text'][:90]}")
    print(f"\nwritten {args.out}")
    return result


if __name__ == "__main__":
    main()
