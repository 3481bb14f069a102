"""Composite PTransforms and DoFns of the curate job; the rules themselves live in pipeline/rules/."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.curate.chain import apply_rules
from pipeline.curate.config import RuleConfig, SourceConfig
from pipeline.curate.io import read_source_file
from pipeline.documents import Document

COUNTER_NAMESPACE = "curate"
DUPLICATE_REASON = "dedup/exact"
MALFORMED_REASON = "malformed"


class ReadFile(beam.DoFn):
    """Reads one (source name, path) file; good records on the main output, bad ones on 'malformed'."""

    def __init__(self, sources: Sequence[SourceConfig], max_dead_bytes: int) -> None:
        self._sources = {s.name: s for s in sources}
        self._max_dead_bytes = max_dead_bytes

    def process(self, element: tuple[str, str]) -> Iterable[Any]:
        name, path = element
        for kind, record in read_source_file(self._sources[name], path, self._max_dead_bytes):
            if kind == "doc":
                yield record
            else:
                Metrics.counter(COUNTER_NAMESPACE, MALFORMED_REASON).inc()
                yield TaggedOutput("malformed", record)


class ReadSources(beam.PTransform):
    """Every file of every source -> documents (main) and dead letters ('malformed')."""

    def __init__(self, files: Sequence[tuple[str, str]], sources: Sequence[SourceConfig], max_dead_bytes: int):
        super().__init__()
        self._files, self._sources, self._max_dead_bytes = list(files), list(sources), max_dead_bytes

    def expand(self, pbegin):
        return (
            pbegin
            | "Files" >> beam.Create(self._files)
            # Spread files over workers: without it the whole read would be one bundle on one worker.
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadFile(self._sources, self._max_dead_bytes)).with_outputs(
                "malformed", main="docs"
            )
        )


class ApplyRules(beam.DoFn):
    """The one generic rule DoFn: runs a source's rule chain, counts each reason, tags kept / 'dropped'."""

    def __init__(self, rules: Mapping[str, RuleConfig]) -> None:
        self._rules = dict(rules)
        self._langid = None

    def setup(self) -> None:
        # The language model is ~5 MB of arrays: load once per worker, never at import.
        from pipeline.rules.language import LanguageIdentifier

        self._langid = LanguageIdentifier()

    def process(self, doc: Document) -> Iterable[Any]:
        outcome = apply_rules(doc.text, self._rules[doc.source], self._langid)
        doc = doc.replace(text=outcome.text, signals={**doc.signals, **outcome.signals})
        if outcome.reason is None:
            Metrics.counter(COUNTER_NAMESPACE, "kept").inc()
            yield doc
        else:
            Metrics.counter(COUNTER_NAMESPACE, outcome.reason).inc()
            yield TaggedOutput("dropped", (doc, outcome.reason))


class Clean(beam.PTransform):
    """Normalize + language + quality rules: documents -> kept (main) and ('dropped': (doc, reason))."""

    def __init__(self, rules: Mapping[str, RuleConfig]):
        super().__init__()
        self._rules = dict(rules)

    def expand(self, docs):
        return docs | "ApplyRules" >> beam.ParDo(ApplyRules(self._rules)).with_outputs("dropped", main="kept")


def text_key(doc: Document) -> str:
    """Exact-duplicate key: a hash of the normalized text."""
    return hashlib.blake2b(doc.text.encode("utf-8"), digest_size=16).hexdigest()


class PickSurvivor(beam.DoFn):
    """Of documents with the same text, keeps the lowest (source, id); the others go to 'duplicates'."""

    def process(self, element: tuple[str, Iterable[Document]]) -> Iterable[Any]:
        _, docs = element
        ranked = sorted(docs, key=lambda d: (d.source, d.id))
        survivor = ranked[0]
        yield survivor
        for dup in ranked[1:]:
            Metrics.counter(COUNTER_NAMESPACE, DUPLICATE_REASON).inc()
            yield TaggedOutput("duplicates", (dup.replace(signals={**dup.signals, "duplicate_of": [
                survivor.source, survivor.id]}), DUPLICATE_REASON))


class ExactDedup(beam.PTransform):
    """Exact dedup across all sources: one deterministic survivor per distinct normalized text."""

    def expand(self, docs):
        return (
            docs
            | "KeyByText" >> beam.Map(lambda d: (text_key(d), d))
            | "GroupByText" >> beam.GroupByKey()
            | "PickSurvivor" >> beam.ParDo(PickSurvivor()).with_outputs("duplicates", main="unique")
        )


def tally_key(kind: str, element: Any) -> tuple[tuple[str, str, str], tuple[int, int, int]]:
    """((source, outcome kind, reason), (docs, input chars, input words)) of one outcome."""
    if kind == "malformed":
        return (element["source"], kind, MALFORMED_REASON), (1, element["in_chars"], element["in_words"])
    if kind == "kept":
        doc, reason = element, ""
    else:
        doc, reason = element
    return (doc.source, kind, reason), (1, doc.signals["in_chars"], doc.signals["in_words"])


def _sum_tuples(values: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    docs = chars = words = 0
    for d, c, w in values:
        docs, chars, words = docs + d, chars + c, words + w
    return docs, chars, words


class Tally(beam.PTransform):
    """Sums docs / input chars / input words per (source, outcome, reason) over all outcome PCollections."""

    def expand(self, outcomes: dict[str, Any]):
        keyed = [
            pcoll | f"Key{kind.title()}" >> beam.Map(lambda e, kind=kind: tally_key(kind, e))
            for kind, pcoll in outcomes.items()
        ]
        return keyed | "AllOutcomes" >> beam.Flatten() | "Sum" >> beam.CombinePerKey(_sum_tuples)


def rejected_json(element: tuple[Document, str]) -> str:
    """A rejected document for the audit output: the record plus its reason."""
    doc, reason = element
    return doc.replace(signals={**doc.signals, "reason": reason}).to_json()
