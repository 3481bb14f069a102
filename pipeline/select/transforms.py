"""Composite PTransforms of the select stage: read, score, decontaminate, route, select, write, count.

The two dedup transforms (NearDedup, LineDedup) live in ``pipeline.select.dedup``.

Every document ends in exactly one *fate* (kept, near_duplicates, not_selected, ...); `CountFates` sums
them per source in documents and whitespace words, so the stats reconcile with what was read.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import xxhash
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.stats import ApproximateQuantiles

from dapt.pipeline.documents import Document
from dapt.pipeline.rules.decontam import BenchmarkIndex, benchmark_examples
from dapt.pipeline.rules.quality import count_words
from dapt.pipeline.select.config import DecontamConfig, RoutingConfig, SelectionConfig
from dapt.pipeline.storage import Location

log = logging.getLogger(__name__)

# Signal names this stage adds to Document.signals (stable: later stages and reports read them).
QUALITY = "select/quality"
CLUSTER_SIZE = "select/cluster_size"
DUPLICATE_OF = "select/near_duplicate_of"
NOT_DUPLICATE_OF = "select/near_duplicate_rejected"  # in a cluster, but below verify_min_jaccard to its survivor
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

# (id, source, origin): ids need not be unique even within a source (shards numbered from 0 reuse them);
# the origin makes the node unique, and sorting nodes still sorts by id first.
NodeId = tuple[str, str, str]


def node_of(doc: Document) -> NodeId:
    return (doc.id, doc.source, doc.origin)


def word_count(text: str) -> int:
    """Whitespace words: the token unit of the stats until the tokenizer exists."""
    return count_words(text)


def quality_of(doc: Document) -> float:
    return float(doc.signals.get(QUALITY, 0.0))


class ReadDocuments(beam.PTransform):
    """Curated shards (gzip JSON Lines of Document records, on any Beam filesystem) -> PCollection[Document]."""

    def __init__(self, paths: Iterable[str | Path | Location]):
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
            from dapt.pipeline.select.quality_model import QualityModel  # sklearn import only where needed

            self.model = QualityModel.load(self.model_path)

    def process(self, doc: Document) -> Iterator[Document]:
        score = self.model.score(doc.text) if self.model is not None else 0.0
        yield doc.replace(signals={**doc.signals, QUALITY: round(float(score), 6)})


class ScoreQuality(beam.PTransform):
    """Scores every document with the quality model (0.0 for all when there is none)."""

    def __init__(self, model_path: str | Path | Location | None):
        super().__init__()
        self.model_path = None if model_path is None else str(Location(model_path))

    def expand(self, docs):
        return docs | "Score" >> beam.ParDo(_ScoreFn(self.model_path))


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
    """The n-gram index of every benchmark, read from its path or URL (workers call this in ``setup()``)."""
    index = BenchmarkIndex(cfg.ngram)
    for bench in cfg.benchmarks:
        where = Location(bench.path)
        with where.open_read() as raw:
            if where.name.endswith(".gz"):
                lines = gzip.open(raw, "rt", encoding="utf-8")
            else:
                lines = io.TextIOWrapper(raw, encoding="utf-8")
            with lines:
                for text in benchmark_examples(where.name, lines, bench.fields):
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
        from dapt.pipeline.select.quality_model import QualityModel

        self.model = QualityModel.load(self.model_path)

    def process(self, doc: Document):
        if doc.domain != "general" or not self.model.domains:
            yield doc
            return
        domain, prob = self.model.best_domain(doc.text)
        if domain != "general" and prob >= self.cfg.min_probability:
            signals = {**doc.signals, ORIGINAL_DOMAIN: doc.domain, DOMAIN_SCORE: round(prob, 6)}
            yield beam.pvalue.TaggedOutput("moved", ((doc.source, domain), (1, word_count(doc.text))))
            yield doc.replace(domain=domain, signals=signals)
        else:
            yield doc


class RouteDomains(beam.PTransform):
    """Moves general pages that the domain classifier scores as legal/medical/financial -> {"kept", "moved"}.

    ``moved`` holds ((source, new domain), (docs, words)) pairs; the original domain stays in the signals.
    """

    def __init__(self, cfg: RoutingConfig, model_path: str | Path | Location):
        super().__init__()
        self.cfg, self.model_path = cfg, str(Location(model_path))

    def expand(self, docs):
        out = docs | "Route" >> beam.ParDo(_RouteFn(self.cfg, self.model_path)).with_outputs("moved", main=KEPT)
        moved = out["moved"] | "CountMoved" >> beam.CombinePerKey(_sum_pairs)
        return {KEPT: out[KEPT], "moved": moved}


def threshold_from_quantiles(quantiles: list[float], keep_fraction: float) -> float:
    """Score threshold that keeps the top ``keep_fraction`` of the (token-weighted) score distribution."""
    index = int(round((1.0 - keep_fraction) * (len(quantiles) - 1)))
    return float(quantiles[min(max(index, 0), len(quantiles) - 1)])


def pareto_keep(doc_id: str, score: float, alpha: float, seed: int) -> bool:
    """GPT-3's rule: keep when a Pareto(alpha) draw exceeds 1 - score; the draw is seeded by the id."""
    rng = np.random.default_rng([seed, xxhash.xxh64_intdigest(doc_id.encode("utf-8"))])
    return bool(rng.pareto(alpha) > 1.0 - score)


ROUTED_GROUP = "/routed"  # suffix of the selection group of routed pages (source names cannot hold "/")


class Fractions:
    """Target token fraction of each selection group: a source, or its routed pages ("<source>/routed")."""

    def __init__(self, cfg: SelectionConfig, routed_fraction: float | None):
        self.cfg, self.routed_fraction = cfg, routed_fraction

    @staticmethod
    def group(doc: Document) -> str:
        return doc.source + ROUTED_GROUP if ORIGINAL_DOMAIN in doc.signals else doc.source

    def for_group(self, group: str) -> float:
        if group.endswith(ROUTED_GROUP) and self.routed_fraction is not None:
            return self.routed_fraction
        return self.cfg.fraction_for(group.removesuffix(ROUTED_GROUP))


class _SelectFn(beam.DoFn):
    def __init__(self, cfg: SelectionConfig, fractions: Fractions):
        self.cfg, self.fractions = cfg, fractions

    def process(self, doc: Document, thresholds: dict[str, float]):
        group = self.fractions.group(doc)
        if self.fractions.for_group(group) >= 1.0:
            keep = True
        elif self.cfg.method == "pareto":
            keep = pareto_keep(f"{doc.source}/{doc.id}", quality_of(doc), self.cfg.pareto_alpha, self.cfg.seed)
        else:
            # Strictly above the (1 - f) quantile: the document straddling the quantile is dropped, so the
            # achieved fraction undershoots the target by less than one document's tokens.
            keep = quality_of(doc) > thresholds[group]
        if keep:
            yield doc
        else:
            yield beam.pvalue.TaggedOutput(NOT_SELECTED, doc)


class SelectByQuality(beam.PTransform):
    """Keeps each source's best ``keep_token_fraction`` of words -> {"kept", "not_selected", "thresholds"}.

    Routed pages form their own group per source, selected at ``routed_fraction`` (None: the source's own).
    """

    def __init__(self, cfg: SelectionConfig, routed_fraction: float | None = None):
        super().__init__()
        self.cfg = cfg
        self.fractions = Fractions(cfg, routed_fraction)

    def expand(self, docs):
        cfg, fractions = self.cfg, self.fractions
        thresholds = (
            docs
            | "NeedsThreshold" >> beam.Filter(lambda d: fractions.for_group(fractions.group(d)) < 1.0)
            | "ScoreAndWeight" >> beam.Map(lambda d: (fractions.group(d), (quality_of(d), max(word_count(d.text), 1))))
            | "Quantiles" >> ApproximateQuantiles.PerKey(cfg.num_quantiles, weighted=True)
            | "Threshold" >> beam.Map(lambda kv: (kv[0], threshold_from_quantiles(kv[1], fractions.for_group(kv[0]))))
        )
        out = docs | "Select" >> beam.ParDo(_SelectFn(cfg, fractions), beam.pvalue.AsDict(thresholds)).with_outputs(
            NOT_SELECTED, main=KEPT
        )
        return {KEPT: out[KEPT], NOT_SELECTED: out[NOT_SELECTED], "thresholds": thresholds}


def shard_of(doc: Document, num_shards: int) -> int:
    return xxhash.xxh64_intdigest(doc.id.encode("utf-8")) % num_shards


def write_atomically(where: Location, data: bytes, temp_dir: Location) -> None:
    """Writes a whole file or nothing: the bytes go to a uniquely named file in ``temp_dir`` and are then
    renamed into place, so a retried bundle replaces the file and a killed one leaves only a temporary file
    (the driver deletes ``temp_dir`` after the job)."""
    temp = temp_dir / f"{uuid.uuid4().hex}-{where.name}"
    temp.write_bytes(data)
    where.parent.mkdir()
    FileSystems.rename([temp.url], [where.url])  # replaces an earlier attempt's file (os.rename; copy on stores)


def write_shard(
    out_dir: str, source: str, shard: int, num_shards: int, lines: Iterable[tuple[str, str]], temp_dir: str
) -> dict:
    """Writes one shard sorted by id, gzip with mtime 0: the same documents give the same bytes; returns its
    source, path below ``out_dir`` and document count."""
    rows = sorted(lines)
    name = f"{source}/part-{shard:05d}-of-{num_shards:05d}.jsonl.gz"
    path = Location(out_dir) / name
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as fh:
        for _, line in rows:
            fh.write(line.encode("utf-8") + b"\n")
    write_atomically(path, buf.getvalue(), Location(temp_dir))
    return {"source": source, "path": name, "docs": len(rows)}  # below out_dir: the folder may move


class WriteShards(beam.PTransform):
    """Documents -> out_dir/<source>/part-SSSSS-of-NNNNN.jsonl.gz, deterministic bytes; emits one dict per shard.

    Each shard is written whole through a temporary file in ``temp_dir`` (see :func:`write_atomically`).
    """

    def __init__(self, out_dir: str | Path | Location, num_shards: int, temp_dir: str | Path | Location):
        super().__init__()
        self.out_dir = str(Location(out_dir))
        self.num_shards = num_shards
        self.temp_dir = str(Location(temp_dir))

    def expand(self, docs):
        n, out_dir, temp_dir = self.num_shards, self.out_dir, self.temp_dir
        return (
            docs
            | "KeyByShard" >> beam.Map(lambda d: ((d.source, shard_of(d, n)), (d.id, d.to_json())))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.MapTuple(lambda key, rows: write_shard(out_dir, key[0], key[1], n, rows, temp_dir))
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
