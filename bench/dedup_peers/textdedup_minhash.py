"""text-dedup 0.4's MinHash (``text_dedup.minhash``) on a JSONL file; run with text-dedup's own python.

    /work/peers/textdedup/bin/python bench/dedup_peers/textdedup_minhash.py IN.jsonl OUT.json --bands 14 --rows 8

Writes {"removed": {id: kept id}, "cpu_s", "wall_s", "version"}: CPU seconds of this process and its children
from loading the data to the kept set (text-dedup's num_proc=1; its xxh3 hash, the faster of its two).
"""

import argparse
import json
import resource
import sys
import tempfile
import time


def cpu_seconds() -> float:
    return sum(
        r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--bands", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--ngram", type=int, default=5)
    args = ap.parse_args()
    import text_dedup
    import text_dedup.minhash as td

    ids = [json.loads(line)["id"] for line in open(args.input, encoding="utf-8")]
    work = tempfile.mkdtemp(prefix="textdedup_")
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    td.main.main(
        [
            "--path", "json", "--data_files", args.input, "--split", "train", "--cache_dir", f"{work}/cache",
            "--output", f"{work}/out", "--column", "text", "--num_proc", "1",
            "--ngram", str(args.ngram), "--num_perm", str(args.bands * args.rows),
            "--b", str(args.bands), "--r", str(args.rows), "--hash_func", "xxh3",
        ],
        standalone_mode=False,
    )
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    # The kept document of a cluster is its union-find root (text-dedup's filter keeps cluster == index).
    removed = {ids[i]: ids[td.uf.find(i)] for i in list(td.uf.parent) if td.uf.find(i) != i}
    version = getattr(text_dedup, "__version__", None)
    if version is None:
        from importlib.metadata import version as pkg_version

        version = pkg_version("text-dedup")
    with open(args.output, "w", encoding="utf-8") as fh:
        json.dump({"removed": removed, "cpu_s": cpu, "wall_s": wall, "version": version}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
