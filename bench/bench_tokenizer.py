"""Tokenizer stage on the real corpus: training MB/s, encoding tokens/s, domain vs general-only fertility.

Data: the clean text files of ../shared/corpus (not raw_web), split per document by a stable hash into
train (90 %) and held-out (10 %) shards written in the pipeline's Document format. Two tokenizers are
trained by `train_tokenizer` with the same config and size: the mixture tokenizer (51 % domain /
49 % general by bytes, BloombergGPT §2) and the general-only baseline (the named peer). Reports:

* training throughput: sample MB / seconds of `train_from_iterator` (reading and decompressing the
  sample's shards included), and the stage's wall time (with the byte-counting pass and saving);
* encoding throughput: tokens/s of `Tokenizer.encode_batch` over the held-out texts already in memory,
  with the Rust thread pool on every core (best of --repeats);
* fit: `report_tokenizer` on the held-out text: fertility (tokens per word), bytes per token, share of
  words in >= 3 pieces per domain, and the RATIO mixture / general-only (below 1 = fewer tokens).

    /work/venv/bin/python bench/bench_tokenizer.py [--vocab 32768] [--sample-mb 0] [--model bpe]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "true"  # encode_batch and the trainer use every core

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dapt.pipeline.documents import Document, iter_documents, write_documents  # noqa: E402
from dapt.tokenizer.config import TokenizerConfig  # noqa: E402
from dapt.tokenizer.report import report_tokenizer  # noqa: E402
from dapt.tokenizer.train import doc_key, load_tokenizer, train_tokenizer  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
HELDOUT_SHARE = 0.10
SPLIT_SEED = 12345  # another salt than the tokenizer sample's, so the split and the sample are independent


def split_corpus(corpus: Path, root: Path) -> dict[str, dict[str, int]]:
    """Writes train/<file>/part-0.jsonl.gz and heldout/<file>/part-0.jsonl.gz; returns counts per file."""
    counts = {}
    for path in sorted(corpus.glob("*.jsonl.gz")):
        name = path.name.removesuffix(".jsonl.gz")
        train: list[Document] = []
        held: list[Document] = []
        for doc in iter_documents(path):
            (held if doc_key(doc, SPLIT_SEED) < HELDOUT_SHARE else train).append(doc)
        write_documents(root / "train" / name / "part-0.jsonl.gz", train)
        write_documents(root / "heldout" / name / "part-0.jsonl.gz", held)
        counts[name] = {"domain": train[0].domain if train else held[0].domain,
                        "train_docs": len(train), "heldout_docs": len(held),
                        "train_mb": round(sum(len(d.text.encode()) for d in train) / 1e6, 3)}
    return counts


def encode_throughput(tokenizer_dir: Path, texts: list[str], repeats: int) -> dict[str, float]:
    backend = load_tokenizer(tokenizer_dir).backend_tokenizer
    best, best_cpu = float("inf"), float("inf")
    n_tokens = 0
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        n_tokens = sum(len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False))
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    # CPU seconds (all threads of this process) are far less sensitive than wall time to other
    # processes on a shared machine: tokens per CPU-second is the per-core rate.
    return {"tokens": n_tokens, "mb": round(mb, 3), "seconds": round(best, 3),
            "tokens_per_s": round(n_tokens / best), "mb_per_s": round(mb / best, 3),
            "cpu_seconds": round(best_cpu, 3), "tokens_per_cpu_s": round(n_tokens / best_cpu)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=32768)
    ap.add_argument("--model", choices=["bpe", "unigram"], default="bpe")
    ap.add_argument("--sample-mb", type=float, default=0, help="cap on the training sample (0: all the mixture allows)")
    ap.add_argument("--heldout-mb", type=float, default=5.0, help="held-out text per domain for the fit metrics")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--split-digits", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "tokenizer.json"))
    args = ap.parse_args()

    cfg = TokenizerConfig(
        model=args.model, vocab_size=args.vocab, split_digits=args.split_digits, show_progress=False,
        sample_bytes=int(args.sample_mb * 1e6) if args.sample_mb else TokenizerConfig().sample_bytes,
        report={"max_bytes_per_domain": int(args.heldout_mb * 1e6)},
    )
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench_tokenizer_"))
    try:
        t0 = time.perf_counter()
        files = split_corpus(CORPUS, work)
        split_s = time.perf_counter() - t0
        runs = {}
        for name, domains in [("mixture", None), ("general_only", {"general"})]:
            t0, cpu0 = time.perf_counter(), time.process_time()
            manifest = train_tokenizer(cfg, work / "train", work / name, domains=domains)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            runs[name] = {
                "sample_mb": round(manifest["corpus"]["sample_bytes"] / 1e6, 3),
                "sample_groups": {g: round(v["sampled_share"], 4) for g, v in manifest["corpus"]["groups"].items()},
                "vocab_size": manifest["vocab_size"],
                "learned_vocab_size": manifest["learned_vocab_size"],
                "train_seconds": manifest["train_seconds"],
                "train_mb_per_s": manifest["train_mb_per_s"],
                "stage_wall_seconds": round(wall, 3),
                # The whole stage (both passes, training, saving) per CPU-second, robust to machine load.
                "stage_cpu_seconds": round(cpu, 3),
                "stage_mb_per_cpu_s": round(manifest["corpus"]["sample_bytes"] / 1e6 / cpu, 3),
            }
        texts = [d.text for d in iter_documents(work / "heldout")]
        for name in runs:
            runs[name]["encode"] = encode_throughput(work / name, texts, args.repeats)
        rep = report_tokenizer(cfg, work / "mixture", work / "general_only", work / "heldout", work / "report")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    fit = {}
    for domain, row in rep["domains"].items():
        m, g = row["tokenizer"], row["baseline"]
        fit[domain] = {
            "words": m["words"], "heldout_mb": round(m["bytes"] / 1e6, 3),
            "fertility_mixture": round(m["fertility"], 4), "fertility_general_only": round(g["fertility"], 4),
            "fertility_ratio": round(m["fertility"] / g["fertility"], 4),
            "bytes_per_token_mixture": round(m["bytes_per_token"], 3),
            "bytes_per_token_general_only": round(g["bytes_per_token"], 3),
            "split3_mixture": round(m["split_3plus_share"], 4), "split3_general_only": round(g["split_3plus_share"], 4),
        }
    import tokenizers
    import transformers

    result = {
        "bench": "tokenizer",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "loadavg_at_start": load_start, "loadavg_at_end": os.getloadavg()},
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "settings": {"model": cfg.model, "vocab_size": cfg.vocab_size, "split_digits": cfg.split_digits,
                     "domain_share": cfg.domain_share, "sample_bytes_cap": cfg.sample_bytes,
                     "heldout_share": HELDOUT_SHARE, "heldout_mb_per_domain": args.heldout_mb,
                     "repeats": args.repeats, "corpus": str(CORPUS)},
        "corpus_files": files,
        "split_seconds": round(split_s, 2),
        "tokenizers": runs,
        "encode_ratio_mixture_vs_general_only": round(
            runs["mixture"]["encode"]["tokens_per_s"] / runs["general_only"]["encode"]["tokens_per_s"], 4),
        "fit": fit,
        "mixture_fewer_tokens_per_word": {d: f["fertility_ratio"] < 1 for d, f in fit.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\ntokenizer bench ({cfg.model}, vocab {cfg.vocab_size}, {os.cpu_count()} cores)")
    print(f"load average {load_start[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(f"{'tokenizer':<14}{'sample MB':>10}{'train s':>9}{'train MB/s':>11}{'MB/cpu-s':>10}"
          f"{'encode tok/s':>14}{'encode MB/s':>12}{'tok/cpu-s':>11}")
    for name, r in runs.items():
        print(f"{name:<14}{r['sample_mb']:>10.1f}{r['train_seconds']:>9.1f}{r['train_mb_per_s']:>11.2f}"
              f"{r['stage_mb_per_cpu_s']:>10.2f}{r['encode']['tokens_per_s']:>14,}{r['encode']['mb_per_s']:>12.2f}"
              f"{r['encode']['tokens_per_cpu_s']:>11,}")
    print(f"\n{'domain':<11}{'words':>10}{'fert mix':>10}{'fert gen':>10}{'ratio':>8}{'B/tok mix':>11}{'B/tok gen':>11}"
          f"{'split3 mix':>12}{'split3 gen':>12}")
    for d, f in fit.items():
        print(f"{d:<11}{f['words']:>10,}{f['fertility_mixture']:>10.3f}{f['fertility_general_only']:>10.3f}"
              f"{f['fertility_ratio']:>8.3f}{f['bytes_per_token_mixture']:>11.2f}{f['bytes_per_token_general_only']:>11.2f}"
              f"{f['split3_mixture']:>12.1%}{f['split3_general_only']:>12.1%}")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
