"""The dedup PTransforms of the select stage: MinHash-LSH near-duplicates and line-level boilerplate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import numpy as np

from dapt.pipeline.documents import Document
from dapt.pipeline.rules.lines import line_keys, remove_lines
from dapt.pipeline.rules.minhash import MinHasher
from dapt.pipeline.select.components import ConnectedComponents
from dapt.pipeline.select.config import LineDedupConfig, NearDedupConfig
from dapt.pipeline.select.transforms import (
    BOILERPLATE_ONLY,
    CLUSTER_SIZE,
    DUPLICATE_OF,
    KEPT,
    NEAR_DUPLICATE,
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
            signals[DUPLICATE_OF] = {"id": survivor[0], "source": survivor[1], "origin": survivor[2]}
            yield beam.pvalue.TaggedOutput(NEAR_DUPLICATE, doc.replace(signals=signals))


class NearDedup(beam.PTransform):
    """MinHash-LSH near-duplicate removal -> {"kept", "near_duplicates", "cluster_sizes"}.

    Band keys are grouped by a shuffle (GroupByKey), the connected components of the candidate edges are
    computed in rounds of shuffles (``ConnectedComponents``, not on one worker as datatrove's stage 3), and
    the survivor choice is joined back to the documents by node (CoGroupByKey), so no worker ever holds the
    documents or the edges of the whole corpus.
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
        components = edges | "Components" >> ConnectedComponents(self.cfg.component_rounds)
        membership = components["membership"]
        keyed = docs | "KeyById" >> beam.Map(lambda d: (node_of(d), d))
        out = (
            {"doc": keyed, "cluster": membership}
            | "JoinClusters" >> beam.CoGroupByKey()
            | "ApplyClusters" >> beam.FlatMap(_apply_clusters).with_outputs(NEAR_DUPLICATE, main=KEPT)
        )
        return {KEPT: out[KEPT], NEAR_DUPLICATE: out[NEAR_DUPLICATE], "cluster_sizes": components["sizes"]}
