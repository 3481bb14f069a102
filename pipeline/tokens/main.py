"""`dapt tokenize`: encode selected documents into per-source token files with a Beam job.

Read shards | BatchElements | encode with the trained tokenizer (`encode_batch`, loaded once per
DoFn in setup()) | group by source | hold out a validation split by document-id hash, sort by
document id and write train/<source>.{bin,idx}, val/<source>.{bin,idx}, val_text/<source>.jsonl.gz.
Sorting before writing makes the output independent of bundle order, so reruns are byte-identical.
A source is written by one worker, so it must fit in its memory (tokens and text): fine for corpora
of a few GB per source; larger sources would need sharded token files.
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
from dapt.pipeline.documents import Document, iter_documents, shard_paths, write_documents
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.storage import Location
from dapt.pipeline.tokens.shards import TokenFileWriter, dtype_for_vocab

log = logging.getLogger(__name__)

SUMMARIES = ".summaries"  # per-source summaries the pipeline hands back to run_tokenize
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


def file_sha256(paths: Iterable[Location], root: Location | None = None) -> str:
    """Content hash of files (their names relative to root, then their bytes), in order."""
    h = hashlib.sha256()
    for path in paths:
        name = path.url[len(root.url) + 1 :] if root is not None else path.name
        h.update(name.encode("utf-8") + b"\0")
        with path.open_read() as fh:
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
    return {"path": str(path), "eos_id": int(eos_id), "vocab_size": vocab_size, "hash": file_sha256([Location(path)])}


def choose_val(doc_ids: Iterable[str], cfg: TokenizeConfig) -> set[str]:
    """The held-out documents of one source: hash below val_fraction, plus the val_min_docs smallest hashes.

    A source with no more than val_min_docs documents is kept whole for training.
    """
    ranked = sorted((split_hash(i), i) for i in doc_ids)
    if len(ranked) <= cfg.val_min_docs:
        return set()
    return {i for rank, (h, i) in enumerate(ranked) if rank < cfg.val_min_docs or h < cfg.val_fraction}


class EncodeDocs(beam.DoFn):
    """Encodes a batch of documents with `encode_batch`; emits (source, (id, ids as bytes, text, domain))."""

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
        # Text is text: a page that says "</s>" or "<unk>" (WikiText writes unknown words so) encodes as
        # those characters, never as the control tokens; the only EOS is the one the writer appends.
        self.tok.encode_special_tokens = True

    def process(self, batch: Sequence[Document]) -> Iterator[tuple[str, tuple[str, bytes, str, str]]]:
        encodings = self.tok.encode_batch([d.text for d in batch], add_special_tokens=False)
        n_tokens = 0
        for doc, enc in zip(batch, encodings):
            ids = np.asarray(enc.ids, dtype=self.dtype)
            n_tokens += ids.size
            # plain bytes and strings: Beam encodes them without pickling on the way to GroupByKey;
            # the text rides along because the split is decided per source, after grouping
            yield doc.source, (doc.id, ids.tobytes(), doc.text, doc.domain)
        self.docs.inc(len(batch))
        self.tokens.inc(n_tokens)


class WriteSource(beam.DoFn):
    """Splits one source into train/val, writes both token files (sorted by doc id) and the held-out text."""

    def __init__(self, cfg: TokenizeConfig, out_dir: str, dtype: str, eos_id: int) -> None:
        self.cfg = cfg
        self.out_dir = out_dir
        self.dtype = dtype
        self.eos_id = eos_id

    def process(self, element: tuple[str, Iterable[tuple[str, bytes, str, str]]]) -> Iterator[dict[str, Any]]:
        source, items = element
        items = sorted(items, key=lambda item: item[:2])  # by id (then tokens, for duplicate ids): bundle order must not matter
        domains = collections.Counter(item[3] for item in items)
        domain = domains.most_common(1)[0][0]
        if len(domains) > 1:
            log.warning("source %s mixes domains %s; using %s", source, dict(domains), domain)
        val_ids = choose_val((item[0] for item in items), self.cfg)
        stem = file_stem(source)
        out = Path(self.out_dir)
        summary: dict[str, Any] = {"name": stem, "source": source, "domain": domain, "group": group_of(domain)}
        val_docs: list[Document] = []
        for split, want_val in (("train", False), ("val", True)):
            with TokenFileWriter(out / split / stem, self.dtype, self.eos_id) as writer:
                for doc_id, ids, text, doc_domain in items:
                    if (doc_id in val_ids) == want_val:
                        writer.add(np.frombuffer(ids, dtype=self.dtype))
                        if want_val:
                            val_docs.append(Document(id=doc_id, text=text, source=source, domain=doc_domain))
            summary[f"{split}_tokens"], summary[f"{split}_docs"] = writer.n_tokens, writer.n_docs
        write_documents(out / "val_text" / f"{stem}.jsonl.gz", val_docs)
        summary["val_bytes"] = sum(len(d.text.encode("utf-8")) for d in val_docs)
        # one small file per source (named by a hash: clashing stems must not overwrite each other)
        key = hashlib.sha1(source.encode("utf-8")).hexdigest()
        (out / SUMMARIES / f"{key}.json").write_text(json.dumps(summary))
        yield summary


class Tokenize(beam.PTransform):
    """Documents -> per-source token files under out_dir; emits one summary dict per source."""

    def __init__(self, cfg: TokenizeConfig, tokenizer_path: str, out_dir: str, dtype: str, eos_id: int) -> None:
        super().__init__()
        self.cfg, self.tokenizer_path, self.out_dir, self.dtype, self.eos_id = cfg, tokenizer_path, out_dir, dtype, eos_id

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        return (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=self.cfg.batch_min, max_batch_size=self.cfg.batch_max)
            | "Encode" >> beam.ParDo(EncodeDocs(self.tokenizer_path, self.cfg, self.dtype))
            | "BySource" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(WriteSource(self.cfg, self.out_dir, self.dtype, self.eos_id))
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
    for sub in ("train", "val", "val_text", SUMMARIES):  # stale files from an earlier run must not leak into this one
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)  # written last: its presence means a complete run
    (out_dir / SUMMARIES).mkdir(parents=True)

    log.info("tokenize: %d shards from %s with %s (vocab %d, %s)", len(shards), docs_dir, tokenizer_dir, info["vocab_size"], dtype)
    options = PipelineOptions(list(beam_args))
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | "Shards" >> beam.Create([str(s) for s in shards])
            | "Read" >> beam.FlatMap(iter_documents)
            | "Tokenize" >> Tokenize(cfg, info["path"], str(out_dir), dtype.str, info["eos_id"])
        )
    summaries = sorted((json.loads(f.read_text()) for f in (out_dir / SUMMARIES).glob("*.json")), key=lambda s: s["name"])
    shutil.rmtree(out_dir / SUMMARIES)

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
    input_hash = file_sha256(shards, root=Location(docs_dir) if docs_dir.is_dir() else None)
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
