"""`dapt tokenize`: encode selected documents into per-source token files with a Beam job.

Read shards | hold out a validation split by document-id hash | BatchElements | encode with the
trained tokenizer (`encode_batch`, loaded once per DoFn in setup()) | group by source | sort by
document id and write train/<source>.{bin,idx}, val/<source>.{bin,idx}, val_text/<source>.jsonl.gz.
Sorting before writing makes the output independent of bundle order, so reruns are byte-identical.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions

from dapt.errors import UserError
from pipeline.documents import Document, iter_documents, shard_paths, write_documents
from pipeline.tokens.config import TokenizeConfig
from pipeline.tokens.shards import TokenFileWriter, dtype_for_vocab

log = logging.getLogger(__name__)

SOURCES_PART = ".sources.json"  # per-source summaries the pipeline hands back to run_tokenize
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EOS_NAMES = ("<|endoftext|>", "</s>", "<eos>", "[EOS]")


def group_of(domain: str) -> str:
    """Mixture group of a domain (CONTRACTS: "general" if the domain is general, else "domain")."""
    return "general" if domain == "general" else "domain"


def file_stem(source: str) -> str:
    """A file-name-safe stem for a source name (the manifest key and file name of the source)."""
    return _SAFE.sub("_", source).strip("._") or "source"


def split_hash(doc_id: str) -> float:
    """Stable pseudo-random number in [0, 1) from a document id (same on every machine and run)."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def file_sha256(paths: Iterable[Path], root: Path | None = None) -> str:
    """Content hash of files (their names relative to root, then their bytes), in order."""
    h = hashlib.sha256()
    for path in paths:
        name = str(path.relative_to(root)) if root is not None else path.name
        h.update(name.encode("utf-8") + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def tokenizer_info(tokenizer_dir: Path) -> dict[str, Any]:
    """eos_id, vocab_size and hash of a tokenizer folder (manifest.json first, tokenizer.json as fallback)."""
    from tokenizers import Tokenizer

    path = Path(tokenizer_dir) / "tokenizer.json"
    if not path.is_file():
        raise UserError(f"no tokenizer.json in {tokenizer_dir}; run `dapt tokenizer` first or point to a tokenizer folder")
    tok = Tokenizer.from_file(str(path))
    manifest_path = Path(tokenizer_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    eos_id = manifest.get("eos_id")
    if eos_id is None:
        eos_id = next((tok.token_to_id(t) for t in _EOS_NAMES if tok.token_to_id(t) is not None), None)
    if eos_id is None:
        raise UserError(f"tokenizer in {tokenizer_dir} has no eos_id in manifest.json and no EOS token; retrain it with one")
    vocab_size = max(int(manifest.get("vocab_size", 0)), tok.get_vocab_size(with_added_tokens=True))
    return {"path": str(path), "eos_id": int(eos_id), "vocab_size": vocab_size, "hash": file_sha256([path])}


class _SmallestHashes(beam.CombineFn):
    """Per source: the document count and the ids of the k documents with the smallest split hash."""

    def __init__(self, k: int) -> None:
        self.k = k

    def create_accumulator(self) -> tuple[int, list[tuple[float, str]]]:
        return 0, []

    def add_input(self, acc: tuple[int, list], item: tuple[float, str]) -> tuple[int, list]:
        n, best = acc
        return n + 1, sorted([*best, item])[: self.k]

    def merge_accumulators(self, accs: Iterable[tuple[int, list]]) -> tuple[int, list]:
        n, best = 0, []
        for a_n, a_best in accs:
            n, best = n + a_n, sorted(best + a_best)[: self.k]
        return n, best

    def extract_output(self, acc: tuple[int, list]) -> tuple[int, frozenset[str]]:
        return acc[0], frozenset(doc_id for _, doc_id in acc[1])


def is_val(doc_id: str, source_stats: tuple[int, frozenset[str]], cfg: TokenizeConfig) -> bool:
    """The validation rule: hash below the fraction, or among the source's val_min_docs smallest hashes."""
    n_docs, smallest = source_stats
    if n_docs <= cfg.val_min_docs:
        return False  # too small to hold anything out; training needs it whole
    return split_hash(doc_id) < cfg.val_fraction or doc_id in smallest


class EncodeDocs(beam.DoFn):
    """Encodes a batch of documents with `encode_batch`; emits (source, (id, is_val, ids, val text, domain))."""

    def __init__(self, tokenizer_path: str, cfg: TokenizeConfig, dtype: str) -> None:
        self.tokenizer_path = tokenizer_path
        self.cfg = cfg
        self.dtype = dtype
        self.tok = None
        self.docs = beam.metrics.Metrics.counter("tokenize", "docs")
        self.tokens = beam.metrics.Metrics.counter("tokenize", "tokens")

    def setup(self) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(self.tokenizer_path)
        # Token files hold whole documents; padding or truncation set at training time would lose text.
        self.tok.no_padding()
        self.tok.no_truncation()

    def process(self, batch: Sequence[Document], val_rules: dict[str, tuple[int, frozenset[str]]]) -> Iterator:
        encodings = self.tok.encode_batch([d.text for d in batch], add_special_tokens=False)
        n_tokens = 0
        for doc, enc in zip(batch, encodings):
            ids = np.asarray(enc.ids, dtype=self.dtype)
            n_tokens += ids.size
            val = is_val(doc.id, val_rules[doc.source], self.cfg)
            # plain bytes and strings: Beam encodes them without pickling on the way to GroupByKey
            yield doc.source, (doc.id, val, ids.tobytes(), doc.text if val else "", doc.domain)
        self.docs.inc(len(batch))
        self.tokens.inc(n_tokens)


class WriteSource(beam.DoFn):
    """Writes one source's train and val token files (sorted by doc id) and its held-out text."""

    def __init__(self, out_dir: str, dtype: str, eos_id: int) -> None:
        self.out_dir = out_dir
        self.dtype = dtype
        self.eos_id = eos_id

    def process(self, element: tuple[str, Iterable[tuple]]) -> Iterator[dict[str, Any]]:
        source, items = element
        items = sorted(items, key=lambda item: item[0])
        domains = collections.Counter(item[4] for item in items)
        domain = domains.most_common(1)[0][0]
        if len(domains) > 1:
            log.warning("source %s mixes domains %s; using %s", source, dict(domains), domain)
        stem = file_stem(source)
        out = Path(self.out_dir)
        summary: dict[str, Any] = {"name": stem, "source": source, "domain": domain, "group": group_of(domain)}
        val_docs: list[Document] = []
        for split, want_val in (("train", False), ("val", True)):
            with TokenFileWriter(out / split / stem, self.dtype, self.eos_id) as writer:
                for doc_id, val, ids, text, doc_domain in items:
                    if val == want_val:
                        writer.add(np.frombuffer(ids, dtype=self.dtype))
                        if val:
                            val_docs.append(Document(id=doc_id, text=text, source=source, domain=doc_domain))
            summary[f"{split}_tokens"], summary[f"{split}_docs"] = writer.n_tokens, writer.n_docs
        write_documents(out / "val_text" / f"{stem}.jsonl.gz", val_docs)
        summary["val_bytes"] = sum(len(d.text.encode("utf-8")) for d in val_docs)
        yield summary


def _write_json(summaries: list[dict[str, Any]], path: str) -> None:
    Path(path).write_text(json.dumps(sorted(summaries, key=lambda s: s["name"]), indent=1))


class Tokenize(beam.PTransform):
    """Documents -> per-source token files under out_dir; emits one summary dict per source."""

    def __init__(self, cfg: TokenizeConfig, tokenizer_path: str, out_dir: str, dtype: str, eos_id: int) -> None:
        super().__init__()
        self.cfg, self.tokenizer_path, self.out_dir, self.dtype, self.eos_id = cfg, tokenizer_path, out_dir, dtype, eos_id

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        val_rules = (
            docs
            | "KeyByHash" >> beam.Map(lambda d: (d.source, (split_hash(d.id), d.id)))
            | "SmallestHashes" >> beam.CombinePerKey(_SmallestHashes(self.cfg.val_min_docs))
        )
        return (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=self.cfg.batch_min, max_batch_size=self.cfg.batch_max)
            | "Encode" >> beam.ParDo(EncodeDocs(self.tokenizer_path, self.cfg, self.dtype), beam.pvalue.AsDict(val_rules))
            | "BySource" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(WriteSource(self.out_dir, self.dtype, self.eos_id))
        )


def run_tokenize(
    cfg: TokenizeConfig, docs_dir: Path, tokenizer_dir: Path, out_dir: Path, beam_args: Sequence[str] = ()
) -> dict[str, Any]:
    """Runs the tokenize job; writes token files and manifest.json under out_dir; returns the manifest."""
    docs_dir, tokenizer_dir, out_dir = Path(docs_dir), Path(tokenizer_dir), Path(out_dir)
    try:
        shards = shard_paths(docs_dir)
    except FileNotFoundError as exc:
        raise UserError(f"{exc}; run `dapt select` first or set the documents folder") from exc
    if not shards:
        raise UserError(f"no *.jsonl.gz document shards under {docs_dir}; run `dapt select` first")
    info = tokenizer_info(tokenizer_dir)
    dtype = dtype_for_vocab(info["vocab_size"])
    for sub in ("train", "val", "val_text"):  # stale files from an earlier run must not leak into this one
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    part = out_dir / SOURCES_PART
    part.unlink(missing_ok=True)

    log.info("tokenize: %d shards from %s with %s (vocab %d, %s)", len(shards), docs_dir, tokenizer_dir, info["vocab_size"], dtype)
    options = PipelineOptions(list(beam_args))
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | "Shards" >> beam.Create([str(s) for s in shards])
            | "Read" >> beam.FlatMap(iter_documents)
            | "Tokenize" >> Tokenize(cfg, info["path"], str(out_dir), dtype.str, info["eos_id"])
            | "Collect" >> beam.combiners.ToList()
            | "Summaries" >> beam.Map(_write_json, str(part))
        )
    summaries = json.loads(part.read_text())
    part.unlink()

    clashes = collections.defaultdict(list)
    for s in summaries:
        clashes[s["name"]].append(s["source"])
    clashes = {stem: names for stem, names in clashes.items() if len(names) > 1}
    if clashes:
        raise UserError(f"sources {clashes} share a token file name; rename them so they differ in letters, digits, '.', '_' or '-'")
    sources = {s.pop("name"): s for s in summaries}
    for name, s in sources.items():
        if s["val_docs"] == 0:
            log.warning("source %s has no validation documents; raise tokenize.val_fraction or val_min_docs", name)
    input_hash = file_sha256(shards, root=docs_dir if docs_dir.is_dir() else None)
    manifest = {
        "stage": "tokenize",
        "config": cfg.model_dump(),
        "inputs": {
            "docs_dir": str(docs_dir),
            "tokenizer_dir": str(tokenizer_dir),
            "input_hash": input_hash,
            "tokenizer_hash": info["hash"],
        },
        "input_hash": input_hash,
        "tokenizer_hash": info["hash"],
        "dtype": dtype.name,
        "eos_id": info["eos_id"],
        "vocab_size": info["vocab_size"],
        "sources": sources,
        "train_tokens": sum(s["train_tokens"] for s in sources.values()),
        "val_tokens": sum(s["val_tokens"] for s in sources.values()),
        "docs": sum(s["train_docs"] + s["val_docs"] for s in sources.values()),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    _print_table(manifest)
    return manifest


def _print_table(manifest: dict[str, Any]) -> None:
    rows = [f"{'source':<32} {'group':<8} {'train tok':>12} {'docs':>7} {'val tok':>10} {'docs':>6}"]
    for name, s in sorted(manifest["sources"].items()):
        rows.append(
            f"{name:<32} {s['group']:<8} {s['train_tokens']:>12,} {s['train_docs']:>7,} {s['val_tokens']:>10,} {s['val_docs']:>6,}"
        )
    rows.append(f"{'total':<41} {manifest['train_tokens']:>12,} {'':>7} {manifest['val_tokens']:>10,}")
    print("\n".join(rows))
