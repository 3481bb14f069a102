"""`dapt tokenize`: encode selected documents into per-source token files with a Beam job, on any Beam filesystem.

Read shards | BatchElements | encode with the trained tokenizer (`encode_batch`; each DoFn reads
tokenizer.json from the tokenizer folder's URL in setup()) | per source, a combine: documents, tokens and
the val_min_docs smallest split hashes (a few ids per source, the side input that decides the split) |
key every document by (source, split, bucket), the bucket a hash of its id, with as many buckets as the
split has tokenize.shard_tokens | group | sort a bucket by document id and write its part files | group
a (source, split)'s parts | join them in bucket order into train/<source>.{bin,idx}, val/<source>.{bin,idx}
and val_text/<source>.jsonl.gz, streaming.

A worker holds one bucket (about shard_tokens tokens), never a whole source, and the output depends on
neither bundle order nor worker count; a source of at most shard_tokens tokens is one bucket sorted by
document id. Every file is written under a temporary name and renamed, so a retried bundle rewrites the
same bytes under the same name; the summaries come back through a Beam text sink.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import heapq
import logging
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np

from dapt.errors import UserError
from dapt.pipeline.documents import Document, iter_documents, sha256_of, sha256_of_files, shard_paths
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.results import HandBack, handed_back
from dapt.pipeline.storage import Location, pipeline_options, staged_outputs, use_pipeline_options
from dapt.pipeline.tokens.shards import TokenFileWriter, concat_token_files, dtype_for_vocab
from dapt.manifest import read_manifest, write_manifest

log = logging.getLogger(__name__)

TOKENIZE_OUTPUTS = ("train", "val", "val_text", "manifest.json")  # what a rerun replaces
SUMMARIES = ".summaries"  # per-source summaries the pipeline hands back to run_tokenize
PARTS = ".parts"  # one token file per (source, split, bucket) until they are joined
TMP = ".tmp"  # files being written, before their rename
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


def tokenizer_info(tokenizer_dir: str | Path | Location) -> dict[str, Any]:
    """eos_id, vocab_size and hash of a tokenizer folder (manifest.json first, tokenizer.json as fallback)."""
    from tokenizers import Tokenizer

    where = Location(tokenizer_dir)
    path = where / "tokenizer.json"
    if not path.is_file():
        raise UserError(f"no tokenizer.json in {where}; run `dapt tokenizer` first or point to a tokenizer folder")
    tok = Tokenizer.from_str(path.read_text())
    manifest = read_manifest(where)
    eos_id = manifest.get("eos_id")
    if eos_id is None:
        eos_id = next((tok.token_to_id(t) for t in _EOS_NAMES if tok.token_to_id(t) is not None), None)
    if eos_id is None:
        raise UserError(f"tokenizer in {where} has no eos_id in manifest.json and no EOS token; retrain it with one")
    vocab_size = max(int(manifest.get("vocab_size", 0)), tok.get_vocab_size(with_added_tokens=True))
    return {"path": path.url, "eos_id": int(eos_id), "vocab_size": vocab_size, "hash": sha256_of(path)}


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

        # tokenizer.json from its URL: the worker shares no disk with the launcher
        self.tok = Tokenizer.from_str(Location(self.tokenizer_path).read_text())
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


def bucket_of(doc_id: str, n_buckets: int) -> int:
    """The bucket of a document among a split's n_buckets (a hash of its id, independent of split_hash)."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, person=b"dapt-bucket").digest()
    return int.from_bytes(digest, "big") % n_buckets


class SourcePlan(beam.CombineFn):
    """Per source, from (split hash, id, tokens, domain) of every document: which documents are held out
    (choose_val's rule from the val_min_docs smallest hashes), the buckets of each split and the domain.

    The accumulator is a few counts and val_min_docs entries, whatever the size of the source.
    """

    def __init__(self, cfg: TokenizeConfig) -> None:
        self.cfg = cfg

    def create_accumulator(self) -> dict[str, Any]:
        return {"docs": 0, "tokens": 0, "tokens_below": 0, "smallest": [], "domains": {}}

    def add_input(self, acc: dict[str, Any], item: tuple[float, str, int, str]) -> dict[str, Any]:
        h, doc_id, n_tokens, domain = item
        acc["docs"] += 1
        acc["tokens"] += n_tokens
        acc["tokens_below"] += n_tokens if h < self.cfg.val_fraction else 0
        smallest, k = acc["smallest"], self.cfg.val_min_docs
        if len(smallest) < k or (k and (h, doc_id, n_tokens) < smallest[-1]):
            bisect.insort(smallest, (h, doc_id, n_tokens))
            del smallest[k:]
        count, first = acc["domains"].get(domain, (0, doc_id))
        acc["domains"][domain] = (count + 1, min(first, doc_id))
        return acc

    def merge_accumulators(self, accs: Iterable[dict[str, Any]]) -> dict[str, Any]:
        out = self.create_accumulator()
        for acc in accs:
            for key in ("docs", "tokens", "tokens_below"):
                out[key] += acc[key]
            out["smallest"] = heapq.nsmallest(self.cfg.val_min_docs, [*out["smallest"], *acc["smallest"]])
            for domain, (count, first) in acc["domains"].items():
                c0, f0 = out["domains"].get(domain, (0, first))
                out["domains"][domain] = (c0 + count, min(f0, first))
        return out

    def extract_output(self, acc: dict[str, Any]) -> dict[str, Any]:
        held_out = acc["docs"] > self.cfg.val_min_docs  # a source this small stays whole for training
        smallest = acc["smallest"] if held_out else []
        val_tokens = (acc["tokens_below"] + sum(n for h, _, n in smallest if h >= self.cfg.val_fraction)) if held_out else 0
        split_tokens = {"train": acc["tokens"] - val_tokens, "val": val_tokens}
        # the most common domain; a tie goes to the domain of the smallest id (the old single sort's pick)
        domain = min(acc["domains"].items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]
        return {
            "held_out": held_out,
            "val_ids": frozenset(i for _, i, _ in smallest),
            "buckets": {s: max(1, math.ceil(t / self.cfg.shard_tokens)) for s, t in split_tokens.items()},
            "domain": domain,
            "domains": {d: c for d, (c, _) in sorted(acc["domains"].items())},
        }


def is_val(doc_id: str, plan: dict[str, Any], cfg: TokenizeConfig) -> bool:
    """choose_val's rule for one document, given its source's plan."""
    return plan["held_out"] and (split_hash(doc_id) < cfg.val_fraction or doc_id in plan["val_ids"])


def key_by_bucket(
    element: tuple[str, tuple[str, bytes, str, str]], plans: dict[str, dict[str, Any]], cfg: TokenizeConfig
) -> tuple[tuple[str, str, int], tuple[str, bytes, str, str]]:
    """(source, split, bucket) of an encoded document; only held-out documents keep their text."""
    source, (doc_id, ids, text, domain) = element
    plan = plans[source]
    split = "val" if is_val(doc_id, plan, cfg) else "train"
    return (source, split, bucket_of(doc_id, plan["buckets"][split])), (doc_id, ids, text if split == "val" else "", domain)


def _part(out: Location, kind: str, source: str, bucket: int) -> Location:
    # parts are named by a hash of the source: sources whose file stems clash must not overwrite each other
    return out / PARTS / kind / hashlib.sha1(source.encode("utf-8")).hexdigest() / f"{bucket:05d}"


class WriteBucket(beam.DoFn):
    """Sorts one (source, split, bucket) by document id and writes its part token file (and held-out text)."""

    def __init__(self, out_dir: str, dtype: str, eos_id: int) -> None:
        self.out_dir, self.dtype, self.eos_id = out_dir, dtype, eos_id

    def process(self, element: tuple[tuple[str, str, int], Iterable[tuple[str, bytes, str, str]]]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
        (source, split, bucket), items = element
        items = sorted(items, key=lambda item: item[:2])  # by id (then tokens, for duplicate ids): bundle order must not matter
        out = Location(self.out_dir)
        with TokenFileWriter(_part(out, split, source, bucket), self.dtype, self.eos_id, tmp_dir=out / TMP) as writer:
            for _, ids, _, _ in items:
                writer.add(np.frombuffer(ids, dtype=self.dtype))
        part = {"bucket": bucket, "tokens": writer.n_tokens, "docs": writer.n_docs, "val_bytes": 0}
        if split == "val":
            docs = [Document(id=i, text=text, source=source, domain=domain) for i, _, text, domain in items]
            _write_staged(_part(out, "val_text", source, bucket).url + ".jsonl.gz", out / TMP, docs)
            part["val_bytes"] = sum(len(d.text.encode("utf-8")) for d in docs)
        yield (source, split), part


def _write_staged(final: str, tmp_dir: Location, docs: Iterable[Document]) -> None:
    """write_documents under a temporary name, renamed into place (the gzip header names the final file)."""
    import gzip

    from apache_beam.io.filesystems import FileSystems

    final_loc = Location(final)
    tmp = tmp_dir / f"{final_loc.name}.tmp-{uuid.uuid4().hex[:12]}"
    with tmp.open_write() as raw, gzip.GzipFile(filename=final_loc.name, fileobj=raw, mode="wb", mtime=0) as fh:
        for doc in docs:
            fh.write((doc.to_json() + "\n").encode("utf-8"))
    final_loc.parent.mkdir()
    FileSystems.rename([tmp.url], [final_loc.url])


class JoinParts(beam.DoFn):
    """Joins a (source, split)'s parts in bucket order into its token file (and val_text); emits its counts."""

    def __init__(self, out_dir: str, dtype: str) -> None:
        self.out_dir, self.dtype = out_dir, dtype

    def process(self, element: tuple[tuple[str, str], Iterable[dict[str, Any] | None]]) -> Iterator[tuple[str, dict[str, Any]]]:
        (source, split), parts = element
        parts = sorted((p for p in parts if p is not None), key=lambda p: p["bucket"])
        out, stem = Location(self.out_dir), file_stem(source)
        buckets = [p["bucket"] for p in parts]
        tokens, docs = concat_token_files([_part(out, split, source, b) for b in buckets], out / split / stem,
                                          self.dtype, tmp_dir=out / TMP)
        counts = {f"{split}_tokens": tokens, f"{split}_docs": docs, f"{split}_shards": len(parts),
                  f"{split}_shard_tokens_max": max((p["tokens"] for p in parts), default=0)}
        if split == "val":
            texts = [Location(_part(out, "val_text", source, b).url + ".jsonl.gz") for b in buckets]
            _write_staged((out / "val_text" / f"{stem}.jsonl.gz").url, out / TMP, iter_documents(texts))
            counts["val_bytes"] = sum(p["val_bytes"] for p in parts)
        yield source, counts


def summarize(element: tuple[str, Iterable[dict[str, Any]]], plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One source's summary (the manifest entry) from its two splits' counts."""
    source, counts = element
    plan = plans[source]
    domain = plan["domain"]
    if len(plan["domains"]) > 1:
        log.warning("source %s mixes domains %s; using %s", source, plan["domains"], domain)
    summary: dict[str, Any] = {"name": file_stem(source), "source": source, "domain": domain, "group": group_of(domain)}
    for c in counts:
        summary.update(c)
    return summary


class Tokenize(beam.PTransform):
    """Documents -> per-source token files under out_dir; emits one summary dict per source."""

    def __init__(self, cfg: TokenizeConfig, tokenizer_path: str, out_dir: str, dtype: str, eos_id: int) -> None:
        super().__init__()
        self.cfg, self.tokenizer_path, self.out_dir, self.dtype, self.eos_id = cfg, tokenizer_path, out_dir, dtype, eos_id

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        cfg = self.cfg
        encoded = (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=cfg.batch_min, max_batch_size=cfg.batch_max)
            | "Encode" >> beam.ParDo(EncodeDocs(self.tokenizer_path, cfg, self.dtype))
        )
        itemsize = np.dtype(self.dtype).itemsize
        plans = (
            encoded
            | "SplitKeys" >> beam.MapTuple(lambda source, d: (source, (split_hash(d[0]), d[0], len(d[1]) // itemsize, d[3])))
            | "PlanSources" >> beam.CombinePerKey(SourcePlan(cfg))
        )
        every_split = plans | "EverySplit" >> beam.FlatMap(lambda kv: [((kv[0], "train"), None), ((kv[0], "val"), None)])
        parts = (
            encoded
            | "KeyByBucket" >> beam.Map(key_by_bucket, plans=beam.pvalue.AsDict(plans), cfg=cfg)
            | "ByBucket" >> beam.GroupByKey()
            | "WriteBuckets" >> beam.ParDo(WriteBucket(self.out_dir, self.dtype, self.eos_id))
        )
        return (
            (parts, every_split)
            | "AllParts" >> beam.Flatten()
            | "BySplit" >> beam.GroupByKey()
            | "JoinParts" >> beam.ParDo(JoinParts(self.out_dir, self.dtype))
            | "BySource" >> beam.GroupByKey()
            | "Summarize" >> beam.Map(summarize, plans=beam.pvalue.AsDict(plans))
        )


def run_tokenize(
    cfg: TokenizeConfig, docs_dir: str | Path | Location, tokenizer_dir: str | Path | Location,
    out_dir: str | Path | Location, beam_args: Sequence[str] = (),
) -> dict[str, Any]:
    """Runs the tokenize job; writes token files and manifest.json under out_dir (any Beam filesystem);
    returns the manifest."""
    use_pipeline_options(beam_args)
    docs_dir, tokenizer_dir, final = Location(docs_dir), Location(tokenizer_dir), Location(out_dir)
    try:
        shards = shard_paths(docs_dir)
    except FileNotFoundError as exc:
        raise UserError(f"{exc}; run `dapt select` first or set the documents folder") from exc
    if not shards:
        raise UserError(f"no *.jsonl.gz document shards under {docs_dir}; run `dapt select` first")
    info = tokenizer_info(tokenizer_dir)
    # A fresh staging folder replaces this stage's outputs only when the job succeeded: stale token files
    # never leak into this run, and a failed run leaves the previous outputs intact.
    with staged_outputs(final, TOKENIZE_OUTPUTS) as out_dir:
        manifest = _tokenize(cfg, shards, docs_dir, tokenizer_dir, info, out_dir, beam_args)
    _print_table(manifest)
    return manifest


def _tokenize(cfg: TokenizeConfig, shards: list[Location], docs_dir: Location, tokenizer_dir: Location,
              info: dict[str, Any], out_dir: Location, beam_args: Sequence[str]) -> dict[str, Any]:
    """The tokenize job, writing into ``out_dir`` (the staging folder of the stage's folder)."""
    dtype = dtype_for_vocab(info["vocab_size"])
    log.info("tokenize: %d shards from %s with %s (vocab %d, %s)", len(shards), docs_dir, tokenizer_dir, info["vocab_size"], dtype)
    options = pipeline_options(beam_args)
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | "Shards" >> beam.Create([s.url for s in shards])
            | "Read" >> beam.FlatMap(iter_documents)
            | "Tokenize" >> Tokenize(cfg, info["path"], out_dir.url, dtype.str, info["eos_id"])
            | "HandBack" >> HandBack(out_dir / SUMMARIES)
        )
    summaries = sorted(handed_back(out_dir / SUMMARIES), key=lambda s: (s["name"], s["source"]))
    for sub in (SUMMARIES, PARTS, TMP):
        (out_dir / sub).rmtree()

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
    input_hash = sha256_of_files(shards, root=None if docs_dir.is_file() else docs_dir)
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
    write_manifest(out_dir, manifest)
    return manifest


def _print_table(manifest: dict[str, Any]) -> None:
    rows = [f"{'source':<32} {'group':<8} {'train tok':>12} {'docs':>7} {'val tok':>10} {'docs':>6}"]
    for name, s in sorted(manifest["sources"].items()):
        rows.append(
            f"{name:<32} {s['group']:<8} {s['train_tokens']:>12,} {s['train_docs']:>7,} {s['val_tokens']:>10,} {s['val_docs']:>6,}"
        )
    rows.append(f"{'total':<41} {manifest['train_tokens']:>12,} {'':>7} {manifest['val_tokens']:>10,}")
    print("\n".join(rows))
