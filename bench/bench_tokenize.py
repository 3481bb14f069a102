"""Tokenize throughput: the Beam job (`run_tokenize`, DirectRunner) against raw `tokenizers` encode_batch.

Both encode the same documents of the real corpus (../shared/corpus, one source per file) with the
same byte-level BPE on the same cores, in one process, alternating raw / Beam runs so that load from
other processes on the machine hits both. The Beam time is end to end: read gzip JSONL shards,
hash-split, encode, sort, write token files, held-out text and manifest. The raw time is only
`encode_batch` over texts already in memory, so the ratio is what the pipeline costs over encoding.
Target (issue 6): Beam >= 90 % of raw throughput.

    python bench/bench_tokenize.py [--limit-mb 20] [--vocab 16000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "true"  # both sides use the Rust thread pool on every core

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dapt.pipeline.documents import Document, write_documents  # noqa: E402
from dapt.pipeline.tokens.config import TokenizeConfig  # noqa: E402
from dapt.pipeline.tokens.main import run_tokenize  # noqa: E402


def load_corpus(corpus: Path, limit_mb: float) -> dict[str, list[Document]]:
    """Documents per corpus file (source = file stem), optionally the first limit_mb MB of text in total."""
    files = sorted(p for p in corpus.glob("*.jsonl.gz") if p.is_file())
    per_file = limit_mb * 1e6 / len(files) if limit_mb else float("inf")
    out: dict[str, list[Document]] = {}
    for path in files:
        source = path.name.removesuffix(".jsonl.gz")
        docs, size = [], 0
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                obj = json.loads(line)
                text = obj.get("text") or ""
                docs.append(Document(id=str(obj.get("id", f"{source}-{n}")), text=text, source=source, domain=obj.get("domain", "general")))
                size += len(text.encode("utf-8"))
                if size >= per_file:
                    break
        out[source] = docs
    return out


def train_bpe(texts: list[str], vocab: int, out: Path) -> Path:
    """A byte-level BPE like the tokenizer stage trains (trained on up to 10 MB of the same text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    sample, size = [], 0
    for t in texts:
        sample.append(t)
        size += len(t)
        if size > 10e6:
            break
    tok.train_from_iterator(sample, trainer)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "manifest.json").write_text(json.dumps({"eos_id": tok.token_to_id("<|endoftext|>"), "vocab_size": tok.get_vocab_size()}))
    return out


def raw_encode(tokenizer_dir: Path, texts: list[str], batch: int) -> tuple[float, float, int]:
    """(wall seconds, process CPU seconds, tokens) of encode_batch over the texts in batches."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    start, cpu = time.perf_counter(), time.process_time()
    n = 0
    for b in range(0, len(texts), batch):
        n += sum(len(e.ids) for e in tok.encode_batch(texts[b : b + batch], add_special_tokens=False))
    return time.perf_counter() - start, time.process_time() - cpu, n


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--limit-mb", type=float, default=0.0, help="MB of text to use (0: all)")
    ap.add_argument("--vocab", type=int, default=16000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "tokenize.json")
    ap.add_argument("--keep", type=Path, default=None, help="copy the Beam job's token folder here (for bench_sampler)")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    corpus = load_corpus(args.corpus, args.limit_mb)
    texts = [d.text for docs in corpus.values() for d in docs]
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    work = Path(tempfile.mkdtemp(prefix="bench_tokenize_"))
    try:
        for source, docs in corpus.items():
            write_documents(work / "docs" / source / "part-00000.jsonl.gz", docs)
        tok_dir = train_bpe(texts, args.vocab, work / "tokenizer")
        cfg = TokenizeConfig()
        raw_s, beam_s, raw_cpu, beam_cpu = [], [], [], []
        for r in range(args.repeats):
            t, c, n_tokens = raw_encode(tok_dir, texts, cfg.batch_max)
            raw_s.append(t)
            raw_cpu.append(c)
            start, cpu = time.perf_counter(), time.process_time()
            manifest = run_tokenize(cfg, work / "docs", tok_dir, work / "tokens")
            beam_s.append(time.perf_counter() - start)
            beam_cpu.append(time.process_time() - cpu)
            print(f"repeat {r}: raw {t:.2f}s ({c:.2f} cpu-s)  beam {beam_s[-1]:.2f}s ({beam_cpu[-1]:.2f} cpu-s)", flush=True)
        beam_tokens = manifest["train_tokens"] + manifest["val_tokens"] - manifest["docs"]  # minus the EOS per doc
        assert beam_tokens == n_tokens, (beam_tokens, n_tokens)  # same text, same tokens
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(work / "tokens", args.keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    raw, beam = statistics.median(raw_s), statistics.median(beam_s)
    import apache_beam
    import numpy
    import tokenizers

    result = {
        "benchmark": "tokenize: Beam run_tokenize (DirectRunner) vs raw tokenizers encode_batch",
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"tokenizers": tokenizers.__version__, "apache_beam": apache_beam.__version__, "numpy": numpy.__version__},
        "settings": {"corpus": str(args.corpus), "limit_mb": args.limit_mb, "vocab": args.vocab, "batch": cfg.batch_max, "repeats": args.repeats},
        "data": {"sources": len(corpus), "docs": len(texts), "bytes": n_bytes, "tokens": n_tokens},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "raw_seconds": raw_s,
        "beam_seconds": beam_s,
        "raw_cpu_seconds": raw_cpu,
        "beam_cpu_seconds": beam_cpu,
        # CPU time is what each side costs; wall time also counts idle cores and other processes' load
        "beam_vs_raw_cpu": statistics.median(raw_cpu) / statistics.median(beam_cpu),
        "raw_mb_per_s": n_bytes / raw / 1e6,
        "beam_mb_per_s": n_bytes / beam / 1e6,
        "beam_vs_raw": raw / beam,
        "target": ">= 0.90",
    }
    print(f"{'':<8}{'seconds':>9}{'MB/s':>8}{'tok/s':>12}")
    for name, t in (("raw", raw), ("beam", beam)):
        print(f"{name:<8}{t:>9.2f}{n_bytes / t / 1e6:>8.2f}{n_tokens / t:>12,.0f}")
    print(f"beam / raw throughput: {result['beam_vs_raw']:.1%} wall, {result['beam_vs_raw_cpu']:.1%} per CPU-second (target >= 90%)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
