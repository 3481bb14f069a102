"""Near-duplicate detection: our MinHash-LSH Beam stage vs datatrove's four MinHash stages, same data.

Data: documents sampled from ../shared/corpus (the clean text files, not raw_web) plus planted near-duplicates
(word substitutions, deletions and insertions at edit rates 1-30 %). True Jaccard of every planted pair and
of every detected pair is computed exactly on word 5-gram sets (``pipeline.rules.ngrams``).

Scoring (pairs): a system's detected pairs are all pairs inside its clusters. Positives are the pairs with
true Jaccard >= 0.8 among the planted pairs and the pairs detected by any system (pooled evaluation).
``strict``: every detected pair under 0.8 is a false positive. ``gray``: pairs with 0.5 <= J < 0.8 are
ignored on both sides (neither credited nor penalised), the usual way to score a threshold method.

Speed: wall time of each pipeline from reading the JSONL input to writing the kept documents, one worker
each (DirectRunner in-process; datatrove LocalPipelineExecutor tasks=1), reported as docs/s per core.

    /work/venv/bin/python bench/bench_dedup.py --docs 4000 --dups 800
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dapt.pipeline.documents import Document, write_documents  # noqa: E402
from dapt.pipeline.rules.ngrams import jaccard, ngram_set  # noqa: E402
from dapt.pipeline.select.config import NearDedupConfig  # noqa: E402
from dapt.pipeline.select.dedup import NearDedup  # noqa: E402
from dapt.pipeline.select.transforms import DUPLICATE_OF, KEPT, NEAR_DUPLICATE, ReadDocuments, WriteShards  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
EDIT_RATES = (0.01, 0.02, 0.05, 0.10, 0.15, 0.20, 0.30)
THRESHOLD = 0.8
GRAY = (0.5, 0.8)  # pairs in [0.5, 0.8): templated pages (MedQuAD, DC laws) near the S-curve midpoint


def load_corpus(n: int, seed: int, max_words: int) -> list[dict]:
    records = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                text = " ".join(obj["text"].split(" ")[:max_words])  # long books cut, keeping line breaks
                if len(text.split()) >= 30:
                    records.append({"id": f"{path.stem.split('.')[0]}/{obj['id']}", "text": text})
    random.Random(seed).shuffle(records)
    return records[:n]


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Applies round(rate * words) random word edits: substitution, deletion or insertion (1/3 each)."""
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


def plant(records: list[dict], n_dups: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    planted = []
    for k, orig in enumerate(rng.sample(records, n_dups)):
        rate = EDIT_RATES[k % len(EDIT_RATES)]
        planted.append({"id": f"dup{k:05d}", "text": edit(orig["text"], rate, rng), "of": orig["id"], "rate": rate})
    docs = records + [{"id": p["id"], "text": p["text"]} for p in planted]
    rng.shuffle(docs)
    return docs, planted


class JaccardCache:
    def __init__(self, texts: dict[str, str]):
        self.texts, self.sets, self.pairs = texts, {}, {}

    def __call__(self, a: str, b: str) -> float:
        key = (a, b) if a < b else (b, a)
        if key not in self.pairs:
            for x in key:
                if x not in self.sets:
                    self.sets[x] = ngram_set(self.texts[x], 5)
            self.pairs[key] = jaccard(self.sets[key[0]], self.sets[key[1]])
        return self.pairs[key]


def pairs_of(clusters: list[list[str]]) -> set[tuple[str, str]]:
    out = set()
    for members in clusters:
        out.update(tuple(sorted(p)) for p in itertools.combinations(sorted(members), 2))
    return out


def run_ours(docs_dir: Path, work: Path, verify: float) -> tuple[list[list[str]], float]:
    out = work / f"ours_{verify}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = NearDedupConfig(verify_min_jaccard=verify)
    start = time.perf_counter()
    with beam.Pipeline() as p:
        docs = p | ReadDocuments(sorted(docs_dir.rglob("*.jsonl.gz")))
        dedup = docs | NearDedup(cfg)
        dedup[KEPT] | WriteShards(out / "docs", 1)
        (
            dedup[NEAR_DUPLICATE]
            | beam.Map(lambda d: (d.id, d.signals[DUPLICATE_OF]["id"]))
            | beam.combiners.ToList()
            | beam.Map(lambda pairs: (out / "dups.json").write_text(json.dumps(pairs)))
        )
    wall = time.perf_counter() - start
    groups = defaultdict(set)
    for dup, survivor in json.loads((out / "dups.json").read_text()):
        groups[survivor].update((dup, survivor))
    return [sorted(g) for g in groups.values()], wall


def _shim_xxhash4() -> None:
    """datatrove pins xxhash<4, whose functions encoded str as UTF-8 themselves; the project venv has xxhash 4
    (datasets needs it), which refuses str. Encode first, exactly what xxhash 3 did inside: same hashes."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)
    dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode("utf-8") if isinstance(data, str) else data)


def run_datatrove(jsonl_dir: Path, work: Path) -> tuple[list[list[str]], float, dict[str, float]]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    _shim_xxhash4()
    base = work / "datatrove"
    shutil.rmtree(base, ignore_errors=True)
    cfg = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1)  # FineWeb settings, as ours
    stages = {
        "signatures": [JsonlReader(str(jsonl_dir)), MinhashDedupSignature(output_folder=str(base / "sigs"), config=cfg)],
        "buckets": [MinhashDedupBuckets(input_folder=str(base / "sigs"), output_folder=str(base / "buckets"), config=cfg)],
        "clusters": [
            MinhashDedupCluster(
                input_folder=str(base / "buckets"), output_folder=str(base / "remove"), config=cfg, save_cluster_id=True
            )
        ],
        "filter": [
            JsonlReader(str(jsonl_dir)),
            MinhashDedupFilter(
                input_folder=str(base / "remove"),
                exclusion_writer=JsonlWriter(str(base / "removed")),
                load_cluster_ids=True,
            ),
            JsonlWriter(str(base / "kept")),
        ],
    }
    times = {}
    for name, steps in stages.items():
        tasks = cfg.num_buckets if name == "buckets" else 1
        start = time.perf_counter()
        LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1, logging_dir=str(base / f"logs_{name}")).run()
        times[name] = time.perf_counter() - start
    clusters = defaultdict(list)
    for path in itertools.chain((base / "kept").rglob("*.jsonl.gz"), (base / "removed").rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                cid = obj.get("metadata", {}).get("minhash_cluster_id", -1)
                if cid != -1:
                    clusters[cid].append(obj["id"])
    return [sorted(c) for c in clusters.values() if len(c) > 1], sum(times.values()), times


def score(detected: set, positives: set, jac: JaccardCache, gray: tuple[float, float] | None) -> dict:
    def ignored(pair):
        return gray is not None and gray[0] <= jac(*pair) < gray[1]

    pos = {p for p in positives if not ignored(p)}
    det = {p for p in detected if not ignored(p)}
    tp = len(det & pos)
    fp = len(det - pos)
    fn = len(pos - det)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def recall_by_rate(detected: set, planted: list[dict]) -> dict[str, float]:
    out = {}
    for rate in EDIT_RATES:
        pairs = [tuple(sorted((p["id"], p["of"]))) for p in planted if p["rate"] == rate]
        out[f"{rate:.2f}"] = round(sum(p in detected for p in pairs) / len(pairs), 4) if pairs else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=4000, help="base documents sampled from ../shared/corpus")
    ap.add_argument("--dups", type=int, default=800, help="planted near-duplicates")
    ap.add_argument("--max-words", type=int, default=3000, help="long documents are cut to this many words")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dedup.json")
    args = ap.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2

    records = load_corpus(args.docs, args.seed, args.max_words)
    docs, planted = plant(records, args.dups, args.seed + 1)
    texts = {d["id"]: d["text"] for d in docs}
    jac = JaccardCache(texts)
    work = Path(tempfile.mkdtemp(prefix="bench_dedup_"))
    jsonl_dir = work / "jsonl"
    jsonl_dir.mkdir()
    with gzip.open(jsonl_dir / "input.jsonl.gz", "wt", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
    write_documents(work / "curated" / "bench" / "part-00000.jsonl.gz",
                    (Document(id=d["id"], text=d["text"], source="bench", domain="general") for d in docs))

    planted_pairs = {tuple(sorted((p["id"], p["of"]))) for p in planted}
    systems: dict[str, dict] = {}
    for verify in (0.7, 0.0):
        clusters, wall = run_ours(work / "curated", work, verify)
        systems[f"ours (verify {verify})"] = {"clusters": clusters, "wall_s": wall}
    if not args.skip_datatrove:
        clusters, wall, stage_times = run_datatrove(jsonl_dir, work)
        systems["datatrove"] = {"clusters": clusters, "wall_s": wall, "stage_s": stage_times}

    detected_all = set()
    for s in systems.values():
        s["pairs"] = pairs_of(s["clusters"])
        detected_all |= s["pairs"]
    positives = {p for p in planted_pairs | detected_all if jac(*p) >= THRESHOLD}
    planted_j = [jac(*tuple(sorted((p["id"], p["of"])))) for p in planted]

    results = {}
    for name, s in systems.items():
        results[name] = {
            "strict": score(s["pairs"], positives, jac, None),
            "gray_zone_ignored": score(s["pairs"], positives, jac, GRAY),
            "recall_by_edit_rate": recall_by_rate(s["pairs"], planted),
            "clusters": len(s["clusters"]),
            "detected_pairs": len(s["pairs"]),
            "false_pairs_below_0.5": sum(jac(*p) < 0.5 for p in s["pairs"]),
            "wall_s": round(s["wall_s"], 2),
            "docs_per_s_per_core": round(len(docs) / s["wall_s"], 1),
            **({"stage_s": {k: round(v, 2) for k, v in s["stage_s"].items()}} if "stage_s" in s else {}),
        }

    print(f"{len(docs)} docs ({len(planted)} planted near-duplicates), positives (J >= {THRESHOLD}): {len(positives)}")
    print(f"{'system':<22} {'P':>7} {'R':>7} {'F1':>7} {'F1 gray':>8} {'pairs':>7} {'<0.5':>5} {'docs/s':>8}")
    for name, r in results.items():
        st, gz = r["strict"], r["gray_zone_ignored"]
        print(f"{name:<22} {st['precision']:>7.4f} {st['recall']:>7.4f} {st['f1']:>7.4f} {gz['f1']:>8.4f} "
              f"{r['detected_pairs']:>7} {r['false_pairs_below_0.5']:>5} {r['docs_per_s_per_core']:>8.1f}")
    print("recall of planted pairs by edit rate:")
    for name, r in results.items():
        print(f"  {name:<22} " + " ".join(f"{k}:{v}" for k, v in r["recall_by_edit_rate"].items()))
    ratios = {}
    if "datatrove" in results:
        ours = results["ours (verify 0.7)"]
        ratios = {
            "speed_ours_over_datatrove": round(ours["docs_per_s_per_core"] / results["datatrove"]["docs_per_s_per_core"], 3),
            "f1_strict_ours_minus_datatrove": round(ours["strict"]["f1"] - results["datatrove"]["strict"]["f1"], 4),
        }
        print("ratios:", ratios)

    import datatrove

    payload = {
        "bench": "dedup",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"numpy": np.__version__, "apache_beam": beam.__version__,
                     "datatrove": getattr(datatrove, "__version__", "installed")},
        "settings": {"docs": len(docs), "base_docs": len(records), "planted": len(planted), "edit_rates": EDIT_RATES,
                     "ngram": 5, "bands": 14, "rows": 8, "threshold": THRESHOLD, "gray_zone": GRAY,
                     "max_words": args.max_words, "seed": args.seed, "corpus": str(CORPUS)},
        "planted_jaccard_by_rate": {
            f"{r:.2f}": round(float(np.mean([j for j, p in zip(planted_j, planted) if p["rate"] == r])), 4)
            for r in EDIT_RATES
        },
        "positives": len(positives),
        "results": results,
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
