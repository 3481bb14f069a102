"""datatrove's four MinHash stages (signature, buckets, cluster, filter) on a JSONL folder; run with
datatrove's own python.

    /work/peers/datatrove/bin/python bench/dedup_peers/datatrove_minhash.py IN_DIR OUT.json --bands 14 --rows 8

Writes {"removed": {id: kept id}, "cpu_s", "wall_s", "stage_cpu_s", "version"}: CPU seconds of this process
and its children, one task per stage (``num_buckets`` tasks for the bucket stage, as datatrove requires), one
worker.
"""

import argparse
import gzip
import itertools
import json
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def cpu_seconds() -> float:
    return sum(
        r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input_dir")
    ap.add_argument("output")
    ap.add_argument("--bands", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--ngram", type=int, default=5)
    args = ap.parse_args()
    import datatrove
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    base = Path(tempfile.mkdtemp(prefix="datatrove_"))
    cfg = MinhashConfig(n_grams=args.ngram, num_buckets=args.bands, hashes_per_bucket=args.rows, seed=1)
    stages = {
        "signatures": [JsonlReader(args.input_dir), MinhashDedupSignature(output_folder=str(base / "sigs"), config=cfg)],
        "buckets": [MinhashDedupBuckets(input_folder=str(base / "sigs"), output_folder=str(base / "buckets"), config=cfg)],
        "clusters": [MinhashDedupCluster(input_folder=str(base / "buckets"), output_folder=str(base / "remove"),
                                         config=cfg, save_cluster_id=True)],
        "filter": [
            JsonlReader(args.input_dir),
            MinhashDedupFilter(input_folder=str(base / "remove"), exclusion_writer=JsonlWriter(str(base / "removed")),
                               load_cluster_ids=True),
            JsonlWriter(str(base / "kept")),
        ],
    }
    stage_cpu, cpu0, wall0 = {}, cpu_seconds(), time.perf_counter()
    for name, steps in stages.items():
        start = cpu_seconds()
        tasks = cfg.num_buckets if name == "buckets" else 1
        LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1, logging_dir=str(base / f"logs_{name}")).run()
        stage_cpu[name] = cpu_seconds() - start
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    kept_of, members = {}, defaultdict(list)
    for kind in ("kept", "removed"):
        for path in (base / kind).rglob("*.jsonl.gz"):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    obj = json.loads(line)
                    cid = obj.get("metadata", {}).get("minhash_cluster_id", -1)
                    if cid != -1:
                        members[cid].append(obj["id"])
                        if kind == "kept":
                            kept_of[cid] = obj["id"]
    removed = {m: kept_of[cid] for cid, ms in members.items() if cid in kept_of for m in ms if m != kept_of[cid]}
    with open(args.output, "w", encoding="utf-8") as fh:
        json.dump({"removed": removed, "cpu_s": cpu, "wall_s": wall, "stage_cpu_s": stage_cpu,
                   "version": getattr(datatrove, "__version__", None) or _version("datatrove")}, fh)
    return 0


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
