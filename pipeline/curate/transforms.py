"""Composite PTransforms and DoFns of the curate job; the rules themselves live in pipeline/rules/.

Memory: nothing here groups whole documents. Exact dedup shuffles only keys, and joins them (no side input
that grows with the corpus); the kept documents wait in temporary files and are streamed back once each
file's losers are known.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.pvalue import TaggedOutput

from dapt.pipeline.curate.chain import apply_rules
from dapt.pipeline.curate.config import RuleConfig, SourceConfig
from dapt.pipeline.curate.inputs import InputFile, detect_format
from dapt.pipeline.curate.io import read_input, warc_record_ranges
from dapt.pipeline.documents import Document

COUNTER_NAMESPACE = "curate"
PII_NAMESPACE = "curate.pii"
DUPLICATE_REASON = "dedup/exact"
MALFORMED_REASON = "malformed"


class ReadFile(beam.DoFn):
    """Reads one input file: documents (main), 'dropped' (doc, reason), 'malformed', and 'files':
    ((source, file label), (records, malformed)) of the file (of its byte range), so that a file that is
    mostly dead letters is named in the summary."""

    def __init__(self, sources: Sequence[SourceConfig], max_dead_bytes: int) -> None:
        self._sources = {s.name: s for s in sources}
        self._max_dead_bytes = max_dead_bytes

    def process(self, element: InputFile) -> Iterable[Any]:
        records = malformed = 0
        for kind, record in read_input(self._sources[element.source], element, self._max_dead_bytes):
            records += 1
            if kind == "doc":
                yield record
            elif kind == "dropped":
                Metrics.counter(COUNTER_NAMESPACE, record[1]).inc()
                yield TaggedOutput("dropped", record)
            else:
                malformed += 1
                Metrics.counter(COUNTER_NAMESPACE, MALFORMED_REASON).inc()
                yield TaggedOutput("malformed", record)
        yield TaggedOutput("files", ((element.source, element.label), (records, malformed)))


class SplitArchives(beam.DoFn):
    """A large WARC file -> ranges of whole records (found by a pass on a worker); other inputs unchanged."""

    def __init__(self, sources: Sequence[SourceConfig], split_bytes: int) -> None:
        self._sources = {s.name: s for s in sources}
        self._split_bytes = split_bytes

    def process(self, element: InputFile) -> Iterable[InputFile]:
        if element.end < 0 and detect_format(self._sources[element.source], element.path) == "warc":
            yield from warc_record_ranges(element, self._split_bytes)
        else:
            yield element


class ReadSources(beam.PTransform):
    """Every input of every source -> documents ('docs'), read-time drops ('dropped'), dead letters ('malformed'),
    record and dead-letter counts per file read ('files').

    Large files are read by several workers: JSONL as byte ranges (planned by the launcher from file
    sizes), WARC as ranges of whole records (planned on a worker, which must read the file once for them).
    """

    def __init__(self, files: Sequence[InputFile], sources: Sequence[SourceConfig], max_dead_bytes: int,
                 split_bytes: int):
        super().__init__()
        self._files, self._sources, self._max_dead_bytes = list(files), list(sources), max_dead_bytes
        self._split_bytes = split_bytes

    def expand(self, pbegin):
        return (
            pbegin
            | "Files" >> beam.Create(self._files)
            # Spread files over workers: without it the whole read would be one bundle on one worker.
            | "SpreadFiles" >> beam.Reshuffle()
            | "SplitArchives" >> beam.ParDo(SplitArchives(self._sources, self._split_bytes))
            | "SpreadRanges" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadFile(self._sources, self._max_dead_bytes)).with_outputs(
                "dropped", "malformed", "files", main="docs"
            )
        )


class ApplyRules(beam.DoFn):
    """The one generic rule DoFn: runs a source's rule chain, counts each reason, tags kept / 'dropped'."""

    def __init__(self, rules: Mapping[str, RuleConfig]) -> None:
        self._rules = dict(rules)
        self._langid = None

    def setup(self) -> None:
        # The language model is several MB of arrays: load once per worker, never at import.
        from dapt.pipeline.rules.language import LanguageIdentifier

        self._langid = LanguageIdentifier()

    def process(self, doc: Document) -> Iterable[Any]:
        outcome = apply_rules(doc.text, self._rules[doc.source], self._langid)
        doc = doc.replace(text=outcome.text, signals={**doc.signals, **outcome.signals})
        if outcome.reason is None:
            Metrics.counter(COUNTER_NAMESPACE, "kept").inc()
            for kind, n in outcome.signals.get("pii", {}).items():
                Metrics.counter(PII_NAMESPACE, kind).inc(n)
            yield doc
        else:
            Metrics.counter(COUNTER_NAMESPACE, outcome.reason).inc()
            yield TaggedOutput("dropped", (doc, outcome.reason))


class Clean(beam.PTransform):
    """Normalize, language, quality rules and PII redaction: docs -> kept (main), 'dropped' (doc, reason)."""

    def __init__(self, rules: Mapping[str, RuleConfig]):
        super().__init__()
        self._rules = dict(rules)

    def expand(self, docs):
        return docs | "ApplyRules" >> beam.ParDo(ApplyRules(self._rules)).with_outputs("dropped", main="kept")


def text_key(doc: Document) -> str:
    """Exact-duplicate key: a hash of the normalized text."""
    return hashlib.blake2b(doc.text.encode("utf-8"), digest_size=16).hexdigest()


DocKey = tuple[str, str, str]  # (source, id, origin): the lowest id survives; the origin makes keys unique


def doc_key(doc: Document) -> DocKey:
    return doc.source, doc.id, doc.origin


def losers_of(element: tuple[str, Iterable[DocKey]]) -> Iterable[tuple[DocKey, DocKey]]:
    """Of the document keys sharing one text, every key but the lowest -> the lowest (the survivor)."""
    _, keys = element
    ranked = sorted(tuple(k) for k in keys)
    for loser in ranked[1:]:
        yield loser, ranked[0]


class ParkDocuments(beam.DoFn):
    """Writes documents to temporary JSONL files below ``prefix`` (a new one every ``per_file`` documents)
    and emits (document key, file) for each.

    A retried bundle writes new files; only the committed attempt's keys name a file, and the driver
    deletes the folder after the job.
    """

    def __init__(self, prefix: str, per_file: int):
        self._prefix, self._per_file = prefix, per_file
        self._fh: Any = None

    def start_bundle(self) -> None:
        self._fh, self._count = None, 0

    def process(self, doc: Document) -> Iterable[tuple[DocKey, str]]:
        if self._fh is None or self._count == self._per_file:
            self._close()
            self._path = FileSystems.join(self._prefix, f"{uuid.uuid4().hex}.jsonl")
            self._fh, self._count = FileSystems.create(self._path), 0
        self._fh.write(doc.to_json().encode("utf-8") + b"\n")
        self._count += 1
        yield doc_key(doc), self._path

    def finish_bundle(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def losers_by_file(element: tuple[DocKey, dict[str, Iterable[Any]]]) -> Iterable[tuple[str, tuple[DocKey, DocKey]]]:
    """(file, (loser, survivor)) for a document key that lost, joined with the file it is parked in."""
    key, joined = element
    for survivor in joined["survivor"]:
        for path in joined["file"]:
            yield path, (key, tuple(survivor))


class SplitDuplicates(beam.DoFn):
    """Streams one parked file with the losers among its documents: the others are unique, the losers go
    to 'duplicates'."""

    def process(self, element: tuple[str, dict[str, Iterable[Any]]]) -> Iterable[Any]:
        path, joined = element
        losers = {tuple(loser): survivor for loser, survivor in joined["losers"]}  # at most one file's worth
        with FileSystems.open(path) as fh:
            for line in fh:
                doc = Document.from_dict(json.loads(line))
                survivor = losers.get(doc_key(doc))
                if survivor is None:
                    yield doc
                else:
                    Metrics.counter(COUNTER_NAMESPACE, DUPLICATE_REASON).inc()
                    dup = doc.replace(signals={**doc.signals, "duplicate_of": list(survivor)})
                    yield TaggedOutput("duplicates", (dup, DUPLICATE_REASON))


class ExactDedup(beam.PTransform):
    """Exact dedup across all sources: one survivor per distinct text, the lowest (source, id, origin).

    Only keys are shuffled, and only joins meet them: the documents wait in temporary files under
    ``tmp_prefix``; the losers of each text are joined with the file their document waits in, and each file
    is then streamed back with its own losers. No worker holds more than one file's losers (no broadcast
    of every loser to every worker), and no document goes through a shuffle.
    """

    def __init__(self, tmp_prefix: str, docs_per_file: int = 20_000):
        super().__init__()
        self._tmp_prefix, self._docs_per_file = tmp_prefix, docs_per_file

    def expand(self, docs):
        parked = docs | "Park" >> beam.ParDo(ParkDocuments(self._tmp_prefix, self._docs_per_file))
        losers = (
            docs
            | "KeyByText" >> beam.Map(lambda d: (text_key(d), doc_key(d)))
            | "GroupByText" >> beam.GroupByKey()
            | "Losers" >> beam.FlatMap(losers_of)
        )
        by_file = (
            {"file": parked, "survivor": losers}
            | "JoinLosersToFiles" >> beam.CoGroupByKey()
            | "LosersByFile" >> beam.FlatMap(losers_by_file)
        )
        files = parked | "Files" >> beam.Map(lambda kv: kv[1]) | "DistinctFiles" >> beam.Distinct()
        return (
            {"file": files | "KeyFiles" >> beam.Map(lambda f: (f, None)), "losers": by_file}
            | "JoinFilesToLosers" >> beam.CoGroupByKey()
            | "Split" >> beam.ParDo(SplitDuplicates()).with_outputs("duplicates", main="unique")
        )


def tally_key(kind: str, element: Any) -> tuple[tuple[str, str, str], tuple[int, int, int]]:
    """((source, outcome kind, reason), (docs, input chars, input words)) of one outcome."""
    if kind == "malformed":
        return (element["source"], kind, MALFORMED_REASON), (1, element["in_chars"], element["in_words"])
    if kind == "kept":
        doc, reason = element, ""
    else:
        doc, reason = element
        kind = "dropped" if kind.endswith("dropped") else kind  # read-time and rule drops are both drops
    return (doc.source, kind, reason), (1, doc.signals["in_chars"], doc.signals["in_words"])


def pii_keys(doc: Document) -> Iterable[tuple[tuple[str, str, str], tuple[int, int, int]]]:
    """((source, 'pii', kind), (count, 0, 0)) for each PII type redacted in a kept document."""
    for kind, n in doc.signals.get("pii", {}).items():
        yield (doc.source, "pii", kind), (n, 0, 0)


def _sum_tuples(values: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    docs = chars = words = 0
    for d, c, w in values:
        docs, chars, words = docs + d, chars + c, words + w
    return docs, chars, words


class Tally(beam.PTransform):
    """Sums docs / input chars / input words per (source, outcome, reason), plus PII counts of kept docs.

    Each outcome is combined on its own before the (then tiny) results are flattened, so the sums are built
    inside the stage that produces the outcome.
    """

    def expand(self, outcomes: dict[str, Any]):
        combined = [
            pcoll
            | f"Key[{kind}]" >> beam.Map(lambda e, kind=kind: tally_key(kind, e))
            | f"Sum[{kind}]" >> beam.CombinePerKey(_sum_tuples)
            for kind, pcoll in outcomes.items()
        ]
        combined.append(outcomes["kept"] | "KeyPii" >> beam.FlatMap(pii_keys)
                        | "SumPii" >> beam.CombinePerKey(_sum_tuples))
        return combined | "AllOutcomes" >> beam.Flatten()


def rejected_json(element: tuple[Document, str]) -> str:
    """A rejected document for the audit output: the record, its ``reason``, and its ``signals`` as one JSON
    string. Which signals a document has depends on where it was dropped (a read-time drop has none of the
    rules', a duplicate has ``duplicate_of``), so as a struct the column would change shape with the reason
    and ``datasets.load_dataset("json", ...)`` could not load the folder; as a string it is one type."""
    doc, reason = element
    record = {**dataclasses.asdict(doc), "reason": reason,
              "signals": json.dumps(doc.signals, ensure_ascii=False, sort_keys=True)}
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


class GzipLinesSink(fileio.FileSink):
    """Writes text records as gzip JSON Lines (WriteToFiles compresses nothing by itself)."""

    def open(self, fh) -> None:
        self._gz = gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=6)

    def write(self, record: tuple[str, str]) -> None:
        self._gz.write(record[1].encode("utf-8") + b"\n")

    def flush(self) -> None:
        self._gz.close()  # writes the gzip trailer; the file itself is closed by WriteToFiles


def shard_name(window, pane, shard_index, total_shards, compression, destination) -> str:
    """``<destination>/part-00000-of-00002.jsonl.gz``: one folder per destination."""
    return f"{destination}/part-{shard_index:05d}-of-{total_shards:05d}.jsonl.gz"


class WriteOutputs(beam.PTransform):
    """Writes (destination folder, JSON line) records under ``root``: every output of the job in one sink.

    One WriteToFiles for all destinations keeps the job small (each write transform adds several stages);
    the destination folders must exist before the run, since the final rename does not create them.
    """

    def __init__(self, root: str, n_destinations: int, temp_name: str = ".temp"):
        super().__init__()
        self._root, self._n, self._temp = root, n_destinations, temp_name

    def expand(self, records):
        return records | "WriteFiles" >> fileio.WriteToFiles(
            path=self._root,
            # A temp folder per write: several writes share the root and must not see each other's files.
            temp_directory=StaticValueProvider(str, FileSystems.join(self._root, self._temp)),
            destination=lambda record: record[0],
            sink=GzipLinesSink(),
            file_naming=shard_name,
            # Enough open writers for every destination, so no record spills into a grouped shuffle.
            max_writers_per_bundle=self._n + 1,
        )
