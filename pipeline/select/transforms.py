"""Composite PTransforms of the select stage: read, score, near-dedup, select, write, count.

Every document ends in exactly one *fate* (kept, near_duplicates, not_selected, ...); `CountFates` sums
them per source in documents and whitespace words, so the stats reconcile with what was read.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import xxhash
from apache_beam.transforms.stats import ApproximateQuantiles

from pipeline.documents import Document
from pipeline.rules.decontam import BenchmarkIndex, benchmark_texts
from pipeline.rules.lines import line_keys, remove_lines
from pipeline.rules.minhash import MinHasher, choose_survivor, connected_components
from pipeline.select.config import (
    DecontamConfig,
    LineDedupConfig,
    NearDedupConfig,
    RoutingConfig,
    SelectionConfig,
)

log = logging.getLogger(__name__)

# Signal names this stage adds to Document.signals (stable: later stages and reports read them).
QUALITY = "select/quality"
CLUSTER_SIZE = "select/cluster_size"
DUPLICATE_OF = "select/near_duplicate_of"
REMOVED_LINES = "select/removed_lines"
CONTAMINATED_BY = "select/contaminated_by"
ORIGINAL_DOMAIN = "select/original_domain"
DOMAIN_SCORE = "select/domain_probability"

# Fates: every input document ends in exactly one of these.
KEPT = "kept"
NEAR_DUPLICATE = "near_duplicates"
NOT_SELECTED = "not_selected"
BOILERPLATE_ONLY = "boilerplate_only"
CONTAMINATED = "contaminated"
LINES_REMOVED = "removed_lines"  # words only (docs = 0): the words cut from documents that live on

# (id, source): ids are unique within a source, not necessarily across sources; sorting nodes sorts by id.
NodeId = tuple[str, str]


def node_of(doc: Document) -> NodeId:
    return (doc.id, doc.source)


def word_count(text: str) -> int:
    """Whitespace words: the token unit of the stats until the tokenizer exists."""
    return len(text.split())


def quality_of(doc: Document) -> float:
    return float(doc.signals.get(QUALITY, 0.0))


class ReadDocuments(beam.PTransform):
    """Curated shards (gzip JSON Lines of Document records) -> PCollection[Document]."""

    def __init__(self, paths: Iterable[str | Path]):
        super().__init__()
        self.paths = sorted(str(p) for p in paths)

    def expand(self, pbegin):
        return (
            pbegin
            | "ShardPaths" >> beam.Create(self.paths)
            | "ReadLines" >> beam.io.ReadAllFromText()
            | "SkipBlank" >> beam.Filter(lambda line: bool(line.strip()))
            | "Parse" >> beam.Map(lambda line: Document.from_dict(json.loads(line)))
        )


class _ScoreFn(beam.DoFn):
    """Adds the quality-model score to each document's signals; the model is loaded once in setup()."""

    def __init__(self, model_path: str | None):
        self.model_path = model_path
        self.model = None

    def setup(self):
        if self.model_path is not None:
            from pipeline.select.quality_model import QualityModel  # sklearn import only where needed

            self.model = QualityModel.load(Path(self.model_path))

    def process(self, doc: Document) -> Iterator[Document]:
        score = self.model.score(doc.text) if self.model is not None else 0.0
        yield doc.replace(signals={**doc.signals, QUALITY: round(float(score), 6)})


class ScoreQuality(beam.PTransform):
    """Scores every document with the quality model (0.0 for all when there is none)."""

    def __init__(self, model_path: Path | None):
        super().__init__()
        self.model_path = None if model_path is None else str(model_path)

    def expand(self, docs):
        return docs | "Score" >> beam.ParDo(_ScoreFn(self.model_path))


class _RemoveLinesFn(beam.DoFn):
    def __init__(self, cfg: LineDedupConfig):
        self.cfg = cfg

    def process(self, doc: Document, frequent: dict[tuple[str, int], int]):
        if doc.domain not in self.cfg.domains:
            yield doc
            return
        text, n_lines, n_words = remove_lines(doc.text, _SourceLines(frequent, doc.source))
        if not n_lines:
            yield doc
            return
        doc = doc.replace(text=text, signals={**doc.signals, REMOVED_LINES: {"lines": n_lines, "words": n_words}})
        if word_count(text) < self.cfg.min_words_after:
            yield beam.pvalue.TaggedOutput(BOILERPLATE_ONLY, doc)
        else:
            yield doc


class _SourceLines:
    """The frequent-line side input seen as a set of one source's line keys."""

    def __init__(self, frequent: dict[tuple[str, int], int], source: str):
        self.frequent, self.source = frequent, source

    def __contains__(self, key: int) -> bool:
        return (self.source, key) in self.frequent


class LineDedup(beam.PTransform):
    """Removes lines that occur in more than K documents of a source -> {"kept", "boilerplate_only", "lines"}.

    Line counts are a CombinePerKey over (source, line key); only the frequent lines (few: navigation,
    banners) travel to the workers as a side input.
    """

    def __init__(self, cfg: LineDedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        cfg = self.cfg
        frequent = (
            docs
            | "LineDedupDomains" >> beam.Filter(lambda d: d.domain in cfg.domains)
            | "LineKeys" >> beam.FlatMap(lambda d: (((d.source, k), 1) for k in line_keys(d.text)))
            | "DocsPerLine" >> beam.CombinePerKey(sum)
            | "Frequent" >> beam.Filter(lambda kv: kv[1] > cfg.max_docs)
        )
        out = docs | "RemoveLines" >> beam.ParDo(_RemoveLinesFn(cfg), beam.pvalue.AsDict(frequent)).with_outputs(
            BOILERPLATE_ONLY, main=KEPT
        )
        lines = frequent | "FrequentPerSource" >> beam.Map(lambda kv: (kv[0][0], 1)) | "CountLines" >> beam.CombinePerKey(sum)
        return {KEPT: out[KEPT], BOILERPLATE_ONLY: out[BOILERPLATE_ONLY], "lines": lines}


class _DecontamFn(beam.DoFn):
    """Drops or flags documents sharing an n-gram with a benchmark; the index is built once in setup()."""

    def __init__(self, cfg: DecontamConfig):
        self.cfg = cfg
        self.index = None

    def setup(self):
        self.index = build_benchmark_index(self.cfg)

    def process(self, doc: Document):
        names = self.index.hits(doc.text)
        if not names:
            yield doc
            return
        doc = doc.replace(signals={**doc.signals, CONTAMINATED_BY: names})
        if self.cfg.mode == "drop":
            yield beam.pvalue.TaggedOutput(CONTAMINATED, doc)
        else:
            yield doc


def build_benchmark_index(cfg: DecontamConfig) -> BenchmarkIndex:
    index = BenchmarkIndex(cfg.ngram)
    for bench in cfg.benchmarks:
        for text in benchmark_texts(Path(bench.path), bench.fields):
            index.add(bench.name, text)
    return index


class Decontaminate(beam.PTransform):
    """Benchmark n-gram overlap -> {"kept", "contaminated", "hits"}; hits are (benchmark, docs) pairs."""

    def __init__(self, cfg: DecontamConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        out = docs | "FindOverlap" >> beam.ParDo(_DecontamFn(self.cfg)).with_outputs(CONTAMINATED, main=KEPT)
        hits = (
            (out[KEPT], out[CONTAMINATED])
            | "AllChecked" >> beam.Flatten()
            | "HitNames" >> beam.FlatMap(lambda d: ((name, 1) for name in d.signals.get(CONTAMINATED_BY, ())))
            | "HitsPerBenchmark" >> beam.CombinePerKey(sum)
        )
        return {KEPT: out[KEPT], CONTAMINATED: out[CONTAMINATED], "hits": hits}


class _RouteFn(beam.DoFn):
    def __init__(self, cfg: RoutingConfig, model_path: str):
        self.cfg, self.model_path = cfg, model_path
        self.model = None

    def setup(self):
        from pipeline.select.quality_model import QualityModel

        self.model = QualityModel.load(Path(self.model_path))

    def process(self, doc: Document):
        if doc.domain != "general" or not self.model.domains:
            yield doc
            return
        domain, prob = self.model.best_domain(doc.text)
        if domain != "general" and prob >= self.cfg.min_probability:
            signals = {**doc.signals, ORIGINAL_DOMAIN: doc.domain, DOMAIN_SCORE: round(prob, 6)}
            yield beam.pvalue.TaggedOutput("moved", (doc.source, domain))
            yield doc.replace(domain=domain, signals=signals)
        else:
            yield doc


class RouteDomains(beam.PTransform):
    """Moves general pages that the domain classifier scores as legal/medical/financial -> {"kept", "moved"}.

    ``moved`` holds ((source, new domain), count) pairs; the original domain stays in the signals.
    """

    def __init__(self, cfg: RoutingConfig, model_path: Path):
        super().__init__()
        self.cfg, self.model_path = cfg, str(model_path)

    def expand(self, docs):
        out = docs | "Route" >> beam.ParDo(_RouteFn(self.cfg, self.model_path)).with_outputs("moved", main=KEPT)
        moved = out["moved"] | "MovedOnes" >> beam.Map(lambda k: (k, 1)) | "CountMoved" >> beam.CombinePerKey(sum)
        return {KEPT: out[KEPT], "moved": moved}


class _BandKeysFn(beam.DoFn):
    """Document -> one ((band, band hash), (node, score, signature bytes)) per LSH band.

    The signature rides along only when candidates are verified (verify_min_jaccard > 0): 4 bytes per hash.
    """

    def __init__(self, cfg: NearDedupConfig):
        self.hasher = MinHasher(ngram=cfg.ngram, bands=cfg.bands, rows=cfg.rows, seed=cfg.seed)
        self.verify = cfg.verify_min_jaccard > 0
        self.coeffs = None

    def setup(self):
        self.coeffs = self.hasher.coefficients()

    def process(self, doc: Document):
        sig = self.hasher.signature(doc.text, self.coeffs)
        member = (node_of(doc), quality_of(doc), sig.tobytes() if self.verify else b"")
        for key in self.hasher.band_keys(sig):
            yield key, member


# Buckets up to this size are verified all-pairs (row by row, O(n^2 * hashes) compares); larger ones (rare:
# thousands of near-identical pages in one band) only against their smallest member, bounding the work.
_ALL_PAIRS_MAX = 3000


def _bucket_edges(bucket: tuple[Any, Iterable[tuple[NodeId, float, bytes]]], min_jaccard: float):
    """A band bucket -> edges ((node, score), (node, score)) between members, spanning-forest only.

    Unverified (min_jaccard == 0): star edges to the smallest member, as datatrove. Verified: only pairs
    whose signatures agree on at least ``min_jaccard`` of the hashes are joined.
    """
    members = sorted(set(bucket[1]))
    if len(members) < 2:
        return
    nodes = [(m[0], m[1]) for m in members]
    if min_jaccard <= 0:
        for other in nodes[1:]:
            yield (nodes[0], other)
        return
    sigs = np.stack([np.frombuffer(m[2], dtype=np.uint32) for m in members])
    parent = list(range(len(members)))  # union-find inside the bucket: emit a spanning forest, not all pairs

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(members) if len(members) <= _ALL_PAIRS_MAX else 1):
        similar = (sigs[i + 1 :] == sigs[i]).mean(axis=1) >= min_jaccard
        for j in (np.nonzero(similar)[0] + i + 1).tolist():
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
                yield (nodes[i], nodes[j])


def _clusters(edges: list[tuple[tuple[NodeId, float], tuple[NodeId, float]]]):
    """All candidate edges (one worker, as datatrove's cluster stage) -> (node, (survivor, size)) per member."""
    scores = {}
    pairs = []
    for (a, sa), (b, sb) in edges:
        scores[a], scores[b] = sa, sb
        pairs.append((a, b))
    for members in connected_components(pairs).values():
        survivor = choose_survivor(members, scores)
        for m in members:
            yield m, (survivor, len(members))


def _apply_clusters(joined: tuple[NodeId, dict[str, list]]):
    node, parts = joined
    for doc in parts["doc"]:
        if not parts["cluster"]:
            yield doc
            continue
        survivor, size = parts["cluster"][0]
        signals = {**doc.signals, CLUSTER_SIZE: size}
        if survivor == node:
            yield doc.replace(signals=signals)
        else:
            signals[DUPLICATE_OF] = {"id": survivor[0], "source": survivor[1]}
            yield beam.pvalue.TaggedOutput(NEAR_DUPLICATE, doc.replace(signals=signals))


class NearDedup(beam.PTransform):
    """MinHash-LSH near-duplicate removal -> {"kept", "near_duplicates", "cluster_sizes"}.

    Band keys are grouped by a shuffle (GroupByKey), candidate edges are collected on one worker for the
    connected components (as datatrove's stage 3), and the survivor choice is joined back to the documents
    by id (CoGroupByKey), so no worker ever holds the documents of the whole corpus.
    """

    def __init__(self, cfg: NearDedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        edges = (
            docs
            | "BandKeys" >> beam.ParDo(_BandKeysFn(self.cfg))
            | "GroupByBand" >> beam.GroupByKey()
            | "BucketEdges" >> beam.FlatMap(_bucket_edges, self.cfg.verify_min_jaccard)
            | "DistinctEdges" >> beam.Distinct()
        )
        membership = (
            edges
            | "AllEdges" >> beam.combiners.ToList()
            | "Components" >> beam.FlatMap(_clusters)
        )
        keyed = docs | "KeyById" >> beam.Map(lambda d: (node_of(d), d))
        out = (
            {"doc": keyed, "cluster": membership}
            | "JoinClusters" >> beam.CoGroupByKey()
            | "ApplyClusters" >> beam.FlatMap(_apply_clusters).with_outputs(NEAR_DUPLICATE, main=KEPT)
        )
        sizes = (
            membership
            | "ClusterRoots" >> beam.Filter(lambda kv: kv[0] == kv[1][0])
            | "ClusterSize" >> beam.Map(lambda kv: kv[1][1])
        )
        return {KEPT: out[KEPT], NEAR_DUPLICATE: out[NEAR_DUPLICATE], "cluster_sizes": sizes}


def threshold_from_quantiles(quantiles: list[float], keep_fraction: float) -> float:
    """Score threshold that keeps the top ``keep_fraction`` of the (token-weighted) score distribution."""
    index = int(round((1.0 - keep_fraction) * (len(quantiles) - 1)))
    return float(quantiles[min(max(index, 0), len(quantiles) - 1)])


def pareto_keep(doc_id: str, score: float, alpha: float, seed: int) -> bool:
    """GPT-3's rule: keep when a Pareto(alpha) draw exceeds 1 - score; the draw is seeded by the id."""
    rng = np.random.default_rng([seed, xxhash.xxh64_intdigest(doc_id.encode("utf-8"))])
    return bool(rng.pareto(alpha) > 1.0 - score)


class _SelectFn(beam.DoFn):
    def __init__(self, cfg: SelectionConfig):
        self.cfg = cfg

    def process(self, doc: Document, thresholds: dict[str, float]):
        frac = self.cfg.fraction_for(doc.source)
        if frac >= 1.0:
            keep = True
        elif self.cfg.method == "pareto":
            keep = pareto_keep(f"{doc.source}/{doc.id}", quality_of(doc), self.cfg.pareto_alpha, self.cfg.seed)
        else:
            # Strictly above the (1 - f) quantile: the document straddling the quantile is dropped, so the
            # achieved fraction undershoots the target by less than one document's tokens.
            keep = quality_of(doc) > thresholds[doc.source]
        if keep:
            yield doc
        else:
            yield beam.pvalue.TaggedOutput(NOT_SELECTED, doc)


class SelectByQuality(beam.PTransform):
    """Keeps each source's best ``keep_token_fraction`` of words -> {"kept", "not_selected", "thresholds"}."""

    def __init__(self, cfg: SelectionConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        cfg = self.cfg
        thresholds = (
            docs
            | "NeedsThreshold" >> beam.Filter(lambda d: cfg.fraction_for(d.source) < 1.0)
            | "ScoreAndWeight" >> beam.Map(lambda d: (d.source, (quality_of(d), max(word_count(d.text), 1))))
            | "Quantiles" >> ApproximateQuantiles.PerKey(cfg.num_quantiles, weighted=True)
            | "Threshold" >> beam.Map(lambda kv: (kv[0], threshold_from_quantiles(kv[1], cfg.fraction_for(kv[0]))))
        )
        out = docs | "Select" >> beam.ParDo(_SelectFn(cfg), beam.pvalue.AsDict(thresholds)).with_outputs(
            NOT_SELECTED, main=KEPT
        )
        return {KEPT: out[KEPT], NOT_SELECTED: out[NOT_SELECTED], "thresholds": thresholds}


def shard_of(doc: Document, num_shards: int) -> int:
    return xxhash.xxh64_intdigest(doc.id.encode("utf-8")) % num_shards


def write_shard(out_dir: str, source: str, shard: int, num_shards: int, lines: Iterable[tuple[str, str]]) -> dict:
    """Writes one shard sorted by id, gzip with mtime 0: the same documents give the same bytes."""
    rows = sorted(lines)
    path = Path(out_dir) / source / f"part-{shard:05d}-of-{num_shards:05d}.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        for _, line in rows:
            fh.write(line.encode("utf-8") + b"\n")
    return {"source": source, "path": str(path), "docs": len(rows)}


class WriteShards(beam.PTransform):
    """Documents -> out_dir/<source>/part-SSSSS-of-NNNNN.jsonl.gz, deterministic bytes; emits one dict per shard."""

    def __init__(self, out_dir: Path, num_shards: int):
        super().__init__()
        self.out_dir = str(out_dir)
        self.num_shards = num_shards

    def expand(self, docs):
        n, out_dir = self.num_shards, self.out_dir
        return (
            docs
            | "KeyByShard" >> beam.Map(lambda d: ((d.source, shard_of(d, n)), (d.id, d.to_json())))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.MapTuple(lambda key, rows: write_shard(out_dir, key[0], key[1], n, rows))
        )


def _fate_record(doc: Document, fate: str) -> tuple[tuple[str, str], tuple[int, int]]:
    if fate == LINES_REMOVED:
        return (doc.source, fate), (0, int(doc.signals.get(REMOVED_LINES, {}).get("words", 0)))
    return (doc.source, fate), (1, word_count(doc.text))


class CountFates(beam.PTransform):
    """{fate: PCollection[Document]} -> one ((source, fate), (docs, words)) record per pair.

    The ``removed_lines`` fate counts only the words cut out of documents (docs = 0), so that per source
    in = sum of all fates holds for documents and for words alike.
    """

    def expand(self, fates: dict[str, Any]):
        tagged = [
            pcoll | f"Tag_{fate}" >> beam.Map(_fate_record, fate) for fate, pcoll in sorted(fates.items())
        ]
        return (
            tagged
            | "FlattenFates" >> beam.Flatten()
            | "SumFates" >> beam.CombinePerKey(_sum_pairs)
        )


def _sum_pairs(pairs: Iterable[tuple[int, int]]) -> tuple[int, int]:
    docs = words = 0
    for d, w in pairs:
        docs += d
        words += w
    return docs, words


def write_json(path: str, items: list[Any]) -> str:
    """Writes a list (collected in the pipeline) as sorted JSON so the driver can read the job's results."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(sorted(items, key=json.dumps), indent=1), encoding="utf-8")
    return path
