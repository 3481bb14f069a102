"""The dedup PTransforms of the select stage: MinHash-LSH near-duplicates and line-level boilerplate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import numpy as np

from dapt.pipeline.rules.lines import line_keys, remove_lines
from dapt.pipeline.rules.minhash import MinHasher, ShingleSketch, content_shingles, shingle_jaccard, shingles, signature_of
from dapt.pipeline.select.components import ConnectedComponents
from dapt.pipeline.select.config import LineDedupConfig, NearDedupConfig
from dapt.pipeline.select.transforms import (
    BOILERPLATE_ONLY,
    CLUSTER_SIZE,
    DUPLICATE_OF,
    KEPT,
    NEAR_DUPLICATE,
    NOT_DUPLICATE_OF,
    REMOVED_LINES,
    NodeId,
    node_of,
    quality_of,
    word_count,
)


def _remove_lines(joined: tuple[NodeId, dict[str, list]], min_words_after: int):
    """A document joined with the frequent lines of its source that it holds -> the document without them."""
    _, parts = joined
    frequent = set(parts["frequent"])
    for doc in parts["doc"]:
        text, n_lines, n_words = remove_lines(doc.text, frequent)
        if not n_lines:
            yield doc
            continue
        doc = doc.replace(text=text, signals={**doc.signals, REMOVED_LINES: {"lines": n_lines, "words": n_words}})
        if word_count(text) < min_words_after:
            yield beam.pvalue.TaggedOutput(BOILERPLATE_ONLY, doc)
        else:
            yield doc


def _frequent_in(joined: tuple[tuple[str, int], dict[str, list]]):
    """A (source, line key) joined with its documents and, when frequent, its count -> (node, key) per doc."""
    (_, key), parts = joined
    if parts["count"]:
        for node in parts["node"]:
            yield node, key


class LineDedup(beam.PTransform):
    """Removes lines that occur in more than K documents of a source -> {"kept", "boilerplate_only", "lines"}.

    Line counts are a CombinePerKey over (source, line key); the frequent ones are joined (CoGroupByKey) to
    the documents holding them, and those to the documents by node, so no worker holds a table of lines.
    """

    def __init__(self, cfg: LineDedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        cfg = self.cfg
        split = docs | "LineDedupDomains" >> beam.Partition(lambda d, _: 0 if d.domain in cfg.domains else 1, 2)
        checked, skipped = split[0], split[1]
        occurrences = checked | "LineKeys" >> beam.FlatMap(
            lambda d: (((d.source, k), node_of(d)) for k in sorted(line_keys(d.text)))
        )
        frequent = (
            occurrences
            | "LineOnes" >> beam.Map(lambda kv: (kv[0], 1))
            | "DocsPerLine" >> beam.CombinePerKey(sum)
            | "Frequent" >> beam.Filter(lambda kv: kv[1] > cfg.max_docs)
        )
        per_doc = (
            {"node": occurrences, "count": frequent}
            | "JoinLineCounts" >> beam.CoGroupByKey()
            | "FrequentInDoc" >> beam.FlatMap(_frequent_in)
        )
        keyed = checked | "KeyByNode" >> beam.Map(lambda d: (node_of(d), d))
        out = (
            {"doc": keyed, "frequent": per_doc}
            | "JoinDocLines" >> beam.CoGroupByKey()
            | "RemoveLines" >> beam.FlatMap(_remove_lines, cfg.min_words_after).with_outputs(
                BOILERPLATE_ONLY, main=KEPT
            )
        )
        kept = (out[KEPT], skipped) | "KeptAndSkipped" >> beam.Flatten()
        lines = frequent | "FrequentPerSource" >> beam.Map(lambda kv: (kv[0][0], 1)) | "CountLines" >> beam.CombinePerKey(sum)
        return {KEPT: kept, BOILERPLATE_ONLY: out[BOILERPLATE_ONLY], "lines": lines}


class _SketchFn(beam.CombineFn):
    """Shingle arrays of a source's documents -> a ``ShingleSketch`` of how many documents hold each."""

    def create_accumulator(self):
        return None  # allocated on first input: an empty bundle costs nothing

    def add_input(self, sketch, shingle_array):
        sketch = sketch if sketch is not None else ShingleSketch()
        sketch.add(shingle_array)
        return sketch

    def merge_accumulators(self, sketches):
        merged = None
        for sketch in sketches:
            if sketch is None:
                continue
            if merged is None:
                merged = sketch
            else:
                merged.merge(sketch)
        return merged

    def extract_output(self, sketch):
        return sketch


class _BandKeysFn(beam.DoFn):
    """(source, domain, vertex, shingles) -> one ((band, band hash), vertex) per LSH band.

    Documents of a template domain are hashed on their content shingles (``content_shingles``), read from
    their source's sketch (a side input of fixed size per source).
    """

    def __init__(self, cfg: NearDedupConfig):
        self.cfg = cfg
        self.hasher = MinHasher(ngram=cfg.ngram, bands=cfg.bands, rows=cfg.rows, seed=cfg.seed)
        self.coeffs = None

    def setup(self):
        self.coeffs = self.hasher.coefficients()

    def process(self, hashed: tuple[str, str, tuple[NodeId, float], np.ndarray], sketches: dict[str, ShingleSketch]):
        cfg = self.cfg
        source, domain, vertex, grams = hashed
        sketch = sketches.get(source) if domain in cfg.template_domains else None
        if sketch is not None:
            grams = content_shingles(grams, sketch.docs_with(grams), cfg.template_max_docs, cfg.template_min_fraction)
        for key in self.hasher.band_keys(signature_of(grams, *self.coeffs)):
            yield key, vertex


def _bucket_edges(bucket: tuple[Any, Iterable[tuple[NodeId, float]]]):
    """A band bucket -> star edges ((node, score), (node, score)) to its smallest member, as datatrove."""
    members = sorted(set(bucket[1]))
    for other in members[1:]:
        yield (members[0], other)


_SURVIVOR, _MEMBER = "survivor", "member"  # side outputs of SplitClusters


def _split_clusters(joined: tuple[NodeId, dict[str, list]], ngram: int):
    """A document joined with its cluster -> kept (no cluster), its shingles keyed by the cluster when it is
    the survivor (and it is kept), or (survivor, (document, size)) for a member to verify."""
    node, parts = joined
    for doc in parts["doc"]:
        if not parts["cluster"]:
            yield doc
            continue
        survivor, size = parts["cluster"][0]
        if survivor == node:
            yield doc.replace(signals={**doc.signals, CLUSTER_SIZE: size})
            yield beam.pvalue.TaggedOutput(_SURVIVOR, (node, shingles(doc.text, ngram).tobytes()))
        else:
            yield beam.pvalue.TaggedOutput(_MEMBER, (survivor, (doc, size)))


def _verify_members(joined: tuple[NodeId, dict[str, list]], ngram: int, min_jaccard: float):
    """Members of a cluster -> near-duplicates when their exact shingle Jaccard to the survivor reaches
    ``min_jaccard``, else kept: a chance LSH collision or the far end of a chain of edits is not a copy."""
    survivor, parts = joined
    kept = np.frombuffer(parts["survivor"][0], dtype=np.uint64)
    for doc, size in parts["member"]:
        j = round(shingle_jaccard(shingles(doc.text, ngram), kept), 4)
        signals = {**doc.signals, CLUSTER_SIZE: size}
        if j >= min_jaccard:
            signals[DUPLICATE_OF] = {"id": survivor[0], "source": survivor[1], "origin": survivor[2], "jaccard": j}
            yield beam.pvalue.TaggedOutput(NEAR_DUPLICATE, doc.replace(signals=signals))
        else:
            yield doc.replace(signals={**signals, NOT_DUPLICATE_OF: {"id": survivor[0], "jaccard": j}})



class NearDedup(beam.PTransform):
    """MinHash-LSH near-duplicate removal -> {"kept", "near_duplicates", "cluster_sizes"}.

    Band keys are grouped by a shuffle (GroupByKey), the connected components of the candidate edges are
    computed in rounds of shuffles (``ConnectedComponents``, not on one worker as datatrove's stage 3), the
    survivor choice is joined back to the documents by node, and each member's exact shingle Jaccard to its
    survivor is checked by a join on the survivor (CoGroupByKey), so no worker ever holds the documents or
    the edges of the whole corpus. Template domains first sketch, per source, how many documents hold each
    shingle (one fixed-size ``ShingleSketch`` per source).
    """

    def __init__(self, cfg: NearDedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        cfg = self.cfg
        domains = set(cfg.template_domains)
        # Shingles once per document: the sketch and the signatures both read them.
        hashed = docs | "Shingles" >> beam.Map(
            lambda d: (d.source, d.domain, (node_of(d), quality_of(d)), shingles(d.text, cfg.ngram))
        )
        sketches = (
            hashed
            | "TemplateDomains" >> beam.Filter(lambda h: h[1] in domains)
            | "SourceShingles" >> beam.Map(lambda h: (h[0], h[3]))
            | "SketchPerSource" >> beam.CombinePerKey(_SketchFn())
        )
        edges = (
            hashed
            | "BandKeys" >> beam.ParDo(_BandKeysFn(cfg), beam.pvalue.AsDict(sketches))
            | "GroupByBand" >> beam.GroupByKey()
            | "BucketEdges" >> beam.FlatMap(_bucket_edges)
            | "DistinctEdges" >> beam.Distinct()
        )
        components = edges | "Components" >> ConnectedComponents(cfg.component_rounds)
        keyed = docs | "KeyById" >> beam.Map(lambda d: (node_of(d), d))
        split = (
            {"doc": keyed, "cluster": components["membership"]}
            | "JoinClusters" >> beam.CoGroupByKey()
            | "SplitClusters" >> beam.FlatMap(_split_clusters, cfg.ngram).with_outputs(_SURVIVOR, _MEMBER, main=KEPT)
        )
        verified = (
            {"survivor": split[_SURVIVOR], "member": split[_MEMBER]}
            | "JoinSurvivor" >> beam.CoGroupByKey()
            | "VerifyMembers" >> beam.FlatMap(_verify_members, cfg.ngram, cfg.verify_min_jaccard).with_outputs(
                NEAR_DUPLICATE, main=KEPT
            )
        )
        kept = (split[KEPT], verified[KEPT]) | "KeptAll" >> beam.Flatten()
        return {KEPT: kept, NEAR_DUPLICATE: verified[NEAR_DUPLICATE], "cluster_sizes": components["sizes"]}
