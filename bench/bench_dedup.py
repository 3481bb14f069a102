"""Near-duplicate detection: dapt's MinHash-LSH Beam stage vs datatrove's and text-dedup's MinHash, same data.

Data: documents sampled from ../shared/corpus (the clean text files, not raw_web), each with its real source
and domain, plus planted near-duplicates in the same source (random word substitutions, deletions and
insertions at edit rates 0-30 %; at least one edit each). True Jaccard of every planted pair and of every
removal is computed exactly on word 5-gram sets (``pipeline.rules.ngrams``, the shingles all three systems
use, up to their tokenisers).

Every system runs as a subprocess with its own python (peers in their own venvs, never imported here) and
reports which document it removed for which kept one, and the CPU seconds of its work (process + children,
reading the input to the kept set). A planted pair is caught when both end with the same kept document.
Precision: any removed document whose true Jaccard to the document kept for it is below 0.5.

MedQuAD: the same stage on medical_medquad (templated GARD pages), counting removals with and without the
template sketch, and catching planted 1 %-edit copies of its pages (templated duplicates still go).

    .venv/bin/python bench/bench_dedup.py --docs 3000 --dups 1400
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
PEERS = Path(os.environ.get("DAPT_PEERS", REPO.parent / "peers"))
EDIT_RATES = (0.0, 0.01, 0.03, 0.05, 0.10, 0.20, 0.30)
J_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
MIN_JACCARD = 0.5  # precision: no removal below this true Jaccard to the document kept


def cpu_seconds() -> float:
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


# ---- data -------------------------------------------------------------------------------------------------

def load_corpus(n: int, seed: int, max_words: int) -> list[dict]:
    records = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        source = path.name.split(".")[0]
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                text = " ".join(obj["text"].split(" ")[:max_words])  # long books cut, keeping line breaks
                if len(text.split()) >= 30:
                    records.append({"id": f"{source}/{obj['id']}", "text": text, "source": source,
                                    "domain": source.split("_")[0]})
    random.Random(seed).shuffle(records)
    return records[:n]


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Applies max(1, round(rate * words)) random word edits: substitution, deletion or insertion (1/3 each)."""
    toks = text.split(" ")
    vocab = [t for t in toks if t.strip()] or ["x"]
    for _ in range(max(1, round(rate * len(toks)))):
        i = rng.randrange(len(toks))
        op = rng.random()
        if op < 1 / 3:
            toks[i] = rng.choice(vocab) + rng.choice(["", "s", "ed"])
        elif op < 2 / 3 and len(toks) > 1:
            del toks[i]
        else:
            toks.insert(i, rng.choice(vocab))
    return " ".join(toks)


def plant(records: list[dict], n_dups: int, seed: int, rates=EDIT_RATES) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    planted = []
    for k, orig in enumerate(rng.sample(records, n_dups)):
        rate = rates[k % len(rates)]
        planted.append({**orig, "id": f"{orig['source']}/dup{k:05d}", "text": edit(orig["text"], rate, rng),
                        "of": orig["id"], "rate": rate})
    docs = records + [{k: p[k] for k in ("id", "text", "source", "domain")} for p in planted]
    rng.shuffle(docs)
    return docs, planted


def write_jsonl(path: Path, docs: list[dict]) -> None:
    """Peers' input: plain JSON Lines (id, text, source, domain)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({k: d[k] for k in ("id", "text", "source", "domain")}) + "\n")


def write_shard(path: Path, docs: list[dict]) -> None:
    """dapt's input: the same documents as a curated shard (gzip JSON Lines of Document records)."""
    from dapt.pipeline.documents import Document, write_documents

    write_documents(path, (Document(id=d["id"], text=d["text"], source=d["source"], domain=d["domain"],
                                    origin=f"{path.name}:{i}") for i, d in enumerate(docs)))


# ---- systems (each a subprocess) --------------------------------------------------------------------------

def run_dapt_worker(input_path: str, output: str, config: str) -> int:
    """Runs in a subprocess: NearDedup on the JSONL -> removed {id: kept id} plus clusters for the trade-off."""
    import apache_beam as beam

    from dapt.pipeline.select.config import NearDedupConfig
    from dapt.pipeline.select.dedup import NearDedup
    from dapt.pipeline.select.transforms import DUPLICATE_OF, KEPT, NEAR_DUPLICATE, NOT_DUPLICATE_OF, ReadDocuments

    cfg = NearDedupConfig(**json.loads(config))
    out = Path(output)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()

    def dump(rows, name):
        (out.parent / f"{out.stem}.{name}.json").write_text(json.dumps(sorted(rows)))

    with beam.Pipeline() as p:
        docs = p | ReadDocuments([input_path])  # the stage's own reader of curated shards
        dedup = docs | NearDedup(cfg)
        (dedup[NEAR_DUPLICATE] | "Removed" >> beam.Map(lambda d: (d.id, d.signals[DUPLICATE_OF]["id"]))
         | "RemovedList" >> beam.combiners.ToList() | "WriteRemoved" >> beam.Map(dump, "removed"))
        (dedup[KEPT] | "Rejected" >> beam.Filter(lambda d: NOT_DUPLICATE_OF in d.signals)
         | "RejectedPair" >> beam.Map(lambda d: (d.id, d.signals[NOT_DUPLICATE_OF]["id"]))
         | "RejectedList" >> beam.combiners.ToList() | "WriteRejected" >> beam.Map(dump, "rejected"))
        _ = dedup[KEPT] | "KeptCount" >> beam.combiners.Count.Globally()  # the kept set is materialised too
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    removed = dict(json.loads((out.parent / f"{out.stem}.removed.json").read_text()))
    rejected = dict(json.loads((out.parent / f"{out.stem}.rejected.json").read_text()))
    out.write_text(json.dumps({"removed": removed, "rejected": rejected, "cpu_s": cpu, "wall_s": wall,
                               "version": beam.__version__}))
    return 0


def run_system(name: str, cmd: list[str], out: Path, timeout: int = 1800) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["process_wall_s"] = time.perf_counter() - start
    return result


def shard_path(jsonl: Path) -> Path:
    """Where dapt's copy of a JSONL input lives: outside the folder datatrove reads whole."""
    return jsonl.parent.parent / "shards" / f"{jsonl.stem}.jsonl.gz"


def dapt_cmd(input_path: Path, out: Path, cfg: dict) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker-dapt", str(shard_path(input_path)), str(out), json.dumps(cfg)]


# ---- scoring ----------------------------------------------------------------------------------------------

class Shingles:
    def __init__(self, texts: dict[str, str]):
        from dapt.pipeline.rules.minhash import shingle_jaccard, shingles

        self._shingles, self._jaccard = shingles, shingle_jaccard
        self.texts, self.sets = texts, {}

    def jaccard(self, a: str, b: str) -> float:
        for x in (a, b):
            if x not in self.sets:
                self.sets[x] = self._shingles(self.texts[x], 5)
        return self._jaccard(self.sets[a], self.sets[b])


def rep(removed: dict[str, str], doc: str) -> str:
    return removed.get(doc, doc)


def caught(removed: dict[str, str], p: dict) -> bool:
    return rep(removed, p["id"]) == rep(removed, p["of"])


def bin_label(j: float) -> str:
    for lo, hi in zip(J_BINS, J_BINS[1:]):
        if lo <= j < hi:
            return f"[{lo:.1f},{min(hi, 1.0):.1f})" if hi <= 1.0 else f"[{lo:.1f},1.0]"
    return "?"


def score(removed: dict[str, str], planted: list[dict], planted_j: dict[str, float], sh: Shingles, n_docs: int,
          cpu_s: float) -> dict:
    by_rate, by_bin = defaultdict(list), defaultdict(list)
    for p in planted:
        hit = caught(removed, p)
        by_rate[f"{p['rate']:.2f}"].append(hit)
        by_bin[bin_label(planted_j[p["id"]])].append(hit)
    removal_j = [sh.jaccard(d, k) for d, k in sorted(removed.items())]
    return {
        "recall_by_edit_rate": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_rate.items())},
        "recall_by_jaccard_bin": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_bin.items())},
        "recall_planted": round(float(np.mean([caught(removed, p) for p in planted])), 4),
        "removed": len(removed),
        "removed_below_0.5": int(sum(j < MIN_JACCARD for j in removal_j)),
        "min_removed_jaccard": round(min(removal_j), 4) if removal_j else None,
        "cpu_s": round(cpu_s, 2),
        "docs_per_cpu_s": round(n_docs / cpu_s, 1),
    }


def verified(removed: dict[str, str], sh: Shingles, t: float) -> dict[str, str]:
    """The removals that survive dapt's member-to-survivor check at threshold t (exactly what the stage does)."""
    return {d: k for d, k in removed.items() if sh.jaccard(d, k) >= t}


# ---- MedQuAD ----------------------------------------------------------------------------------------------

def medquad(work: Path, seed: int) -> dict:
    rows = [json.loads(line) for line in gzip.open(CORPUS / "medical_medquad.jsonl.gz", "rt", encoding="utf-8")]
    base = [{"id": f"medical_medquad/{r['id']}", "text": r["text"], "source": "medical_medquad", "domain": "medical"}
            for r in rows]
    docs, planted = plant(base, 200, seed, rates=(0.0, 0.01))
    out: dict = {"docs": len(base), "planted_copies": len(planted), "planted_edit_rates": [0.0, 0.01]}
    sh = Shingles({d["id"]: d["text"] for d in docs})
    for label, cfg, data in (("before (no template sketch)", {"template_domains": []}, base),
                             ("after (template sketch)", {}, base),
                             ("after, with planted copies", {}, docs)):
        path = work / "medquad" / f"medquad_{len(data)}.jsonl"
        if not path.exists():
            write_jsonl(path, data)
            write_shard(shard_path(path), data)
        res_path = work / f"medquad_{len(out)}.json"
        r = run_system("dapt", dapt_cmd(path, res_path, cfg), res_path)
        removed = r["removed"]
        originals = {k: v for k, v in removed.items() if "/dup" not in k and "/dup" not in v}
        entry = {"removed": len(removed), "removed_distinct_pages": len(originals),
                 "removed_below_0.5": int(sum(sh.jaccard(d, k) < MIN_JACCARD for d, k in removed.items())),
                 "cpu_s": round(r["cpu_s"], 2)}
        if data is docs:
            entry["planted_copies_caught"] = int(sum(caught(removed, p) for p in planted))
        js = sorted(sh.jaccard(d, k) for d, k in originals.items())
        if js:
            entry["distinct_removed_jaccard_p10_p50_p90"] = [round(float(np.percentile(js, q)), 3) for q in (10, 50, 90)]
        out[label] = entry
    return out


# ---- main -------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker-dapt":
        return run_dapt_worker(*argv[1:4])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=3000, help="base documents sampled from ../shared/corpus")
    ap.add_argument("--dups", type=int, default=1400, help="planted near-duplicates (equal shares per edit rate)")
    ap.add_argument("--max-words", type=int, default=3000, help="long documents are cut to this many words")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--skip-medquad", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dedup.json")
    args = ap.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    from dapt.pipeline.select.config import NearDedupConfig

    defaults = NearDedupConfig()
    records = load_corpus(args.docs, args.seed, args.max_words)
    docs, planted = plant(records, args.dups, args.seed + 1)
    sh = Shingles({d["id"]: d["text"] for d in docs})
    planted_j = {p["id"]: sh.jaccard(p["id"], p["of"]) for p in planted}
    work = Path(tempfile.mkdtemp(prefix="bench_dedup_"))
    input_path = work / "jsonl" / "input.jsonl"
    write_jsonl(input_path, docs)
    write_shard(shard_path(input_path), docs)

    # dapt: the shipped defaults (speed, precision) and, verify off, each banding (the trade-off, applied after).
    bandings = sorted({(defaults.bands, defaults.rows), (14, 8), (22, 5)})
    runs: dict[str, dict] = {}
    runs["dapt"] = run_system("dapt", dapt_cmd(input_path, work / "dapt.json", {}), work / "dapt.json")
    for bands, rows in bandings:
        name = f"dapt {bands}x{rows} verify 0"
        cfg = {"bands": bands, "rows": rows, "verify_min_jaccard": 0.0}
        runs[name] = run_system(name, dapt_cmd(input_path, work / f"{bands}x{rows}.json", cfg), work / f"{bands}x{rows}.json")
    if not args.skip_peers:
        runs["datatrove"] = run_system(
            "datatrove", [str(PEERS / "datatrove" / "bin" / "python"), str(REPO / "bench" / "dedup_peers" / "datatrove_minhash.py"),
                          str(input_path.parent), str(work / "datatrove.json")], work / "datatrove.json")
        runs["text-dedup"] = run_system(
            "text-dedup", [str(PEERS / "textdedup" / "bin" / "python"), str(REPO / "bench" / "dedup_peers" / "textdedup_minhash.py"),
                           str(input_path), str(work / "textdedup.json")], work / "textdedup.json")

    results = {name: score(r["removed"], planted, planted_j, sh, len(docs), r["cpu_s"]) for name, r in runs.items()}
    results["dapt"]["settings"] = defaults.model_dump()
    tradeoff = {}
    for bands, rows in bandings:
        removed = runs[f"dapt {bands}x{rows} verify 0"]["removed"]
        for t in (0.0, 0.4, 0.5, 0.6, 0.7):
            r = score(verified(removed, sh, t), planted, planted_j, sh, len(docs), runs[f"dapt {bands}x{rows} verify 0"]["cpu_s"])
            tradeoff[f"{bands}x{rows} exact J >= {t}"] = {k: r[k] for k in ("recall_by_edit_rate", "recall_planted", "removed", "removed_below_0.5")}
    # The stage's own verification must match the trade-off row computed here from its unverified clusters.
    same = tradeoff[f"{defaults.bands}x{defaults.rows} exact J >= {defaults.verify_min_jaccard}"]["removed"] == results["dapt"]["removed"]

    ratios = {}
    if "text-dedup" in results:
        ratios["dapt_over_textdedup_docs_per_cpu_s"] = round(results["dapt"]["docs_per_cpu_s"] / results["text-dedup"]["docs_per_cpu_s"], 3)
        ratios["dapt_over_datatrove_docs_per_cpu_s"] = round(results["dapt"]["docs_per_cpu_s"] / results["datatrove"]["docs_per_cpu_s"], 3)
    mq = None if args.skip_medquad else medquad(work, args.seed + 2)

    rates = [f"{r:.2f}" for r in EDIT_RATES]
    bins = sorted({bin_label(j) for j in planted_j.values()})
    n_bin = {b: sum(bin_label(j) == b for j in planted_j.values()) for b in bins}
    print(f"{len(docs)} docs, {len(planted)} planted near-duplicates ({len(planted) // len(EDIT_RATES)} per edit rate)")
    print(f"{'recall by edit rate':<28}" + "".join(f"{r:>7}" for r in rates) + f"{'<0.5':>6}{'docs/cpu-s':>11}")
    for name, r in list(results.items()) + [(k, v) for k, v in tradeoff.items()]:
        row = "".join(f"{r['recall_by_edit_rate'].get(x, float('nan')):>7.3f}" for x in rates)
        print(f"{name:<28}{row}{r['removed_below_0.5']:>6}{r.get('docs_per_cpu_s', ''):>11}")
    print(f"{'recall by true J':<28}" + "".join(f"{b:>12}" for b in bins))
    print(f"{'(planted pairs)':<28}" + "".join(f"{n_bin[b]:>12}" for b in bins))
    for name, r in results.items():
        print(f"{name:<28}" + "".join(f"{r['recall_by_jaccard_bin'].get(b, float('nan')):>12.3f}" for b in bins))
    print("ratios:", ratios, "| stage verification == trade-off row:", same)
    if mq:
        print("medquad:", json.dumps(mq, indent=1))

    import apache_beam as beam

    payload = {
        "bench": "dedup",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "shared 2-core machine, every system under nice 10, one process, one worker"},
        "versions": {"numpy": np.__version__, "apache_beam": beam.__version__,
                     "datatrove": runs.get("datatrove", {}).get("version"),
                     "text-dedup": runs.get("text-dedup", {}).get("version")},
        "settings": {"docs": len(docs), "base_docs": len(records), "planted": len(planted), "edit_rates": EDIT_RATES,
                     "ngram": 5, "dapt": defaults.model_dump(),
                     "datatrove": {"n_grams": 5, "num_buckets": 14, "hashes_per_bucket": 8, "seed": 1},
                     "text-dedup": {"ngram": 5, "num_perm": 112, "b": 14, "r": 8, "hash_func": "xxh3", "num_proc": 1},
                     "max_words": args.max_words, "seed": args.seed, "corpus": str(CORPUS),
                     "caught": "both documents of a planted pair end with the same kept document",
                     "speed": "documents / CPU second of the system's process and children, input read to kept set"},
        "planted_jaccard_by_rate": {
            f"{r:.2f}": [round(float(np.percentile([planted_j[p["id"]] for p in planted if p["rate"] == r], q)), 3)
                         for q in (10, 50, 90)] for r in EDIT_RATES},
        "planted_per_jaccard_bin": n_bin,
        "results": results,
        "verification_tradeoff": tradeoff,
        "stage_verification_matches_tradeoff": same,
        "ratios": ratios,
        "medquad": mq,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
