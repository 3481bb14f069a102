"""Curate transforms on Beam's TestPipeline: reading with dead letters, the rule DoFn, exact dedup."""

import gzip
import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.pipeline.curate.config import RuleConfig, SourceConfig
from dapt.pipeline.curate.inputs import expand_paths
from dapt.pipeline.curate.transforms import Clean, ExactDedup, ReadSources
from dapt.pipeline.documents import Document

from curate_texts import GOOD, OTHER

GERMAN = (
    "Der Ausschuss hat am Dienstag den Haushalt für das kommende Jahr beraten und beschlossen, dass die "
    "Stadt mehr Geld für Schulen, Straßen und das neue Krankenhaus ausgeben wird. Die Bürger konnten ihre "
    "Fragen stellen, und viele sprachen über die Preise für Wohnungen in der Innenstadt und am Fluss. "
    "Der Bürgermeister versprach, im Herbst einen neuen Plan für den Verkehr vorzulegen."
)


def _doc(doc_id, text, source="web"):
    return Document(id=doc_id, text=text, source=source, domain="general",
                    signals={"in_chars": len(text), "in_words": len(text.split())})


def test_read_sources_sends_bad_records_to_dead_letter(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(json.dumps({"id": "ok", "body": GOOD}).encode() + b"\n")
        fh.write(b"{not json\n")
        fh.write(b'{"id": "bad", "body": "caf\xe9"}\n')  # latin-1 byte: invalid UTF-8
        fh.write(json.dumps({"id": "missing"}).encode() + b"\n")
        fh.write(json.dumps({"id": "number", "body": 42}).encode() + b"\n")
        fh.write(b"\n")  # blank lines are not records
    source = SourceConfig(name="web", paths=[str(path)], text_field="body")
    with BeamTestPipeline() as p:
        out = p | ReadSources(expand_paths(source), [source], max_dead_bytes=1000, split_bytes=2**20)
        assert_that(out.docs | beam.Map(lambda d: (d.id, d.source, d.text == GOOD)),
                    equal_to([("ok", "web", True)]), label="docs")
        assert_that(
            out.malformed | beam.Map(lambda r: (r["line"], r["error"].split(":")[0], r["raw_bytes"] > 0)),
            equal_to([(2, "not JSON", True), (3, "invalid UTF-8", True),
                      (4, "text field 'body' is missing", True),
                      (5, "text field 'body' is a int, not a string", True)]),
            label="malformed",
        )


def test_read_sources_splits_a_large_warc_over_workers_and_reads_each_record_once(tmp_path):
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(12):
            body = f"<html><body><article><p>{GOOD} Page {i}.</p></article></body></html>".encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"http://t.test/{i}", "response", length=len(body),
                                                          payload=io.BytesIO(body), http_headers=headers))
    source = SourceConfig(name="web", paths=[str(path)])
    expected = [f"http://t.test/{i}" for i in range(12)]
    for split_bytes in (1024, 2**20):  # 1 KiB: a range every record or two; 1 MiB: the whole file
        with BeamTestPipeline() as p:
            out = p | ReadSources(expand_paths(source), [source], max_dead_bytes=1000, split_bytes=split_bytes)
            assert_that(out.docs | beam.Map(lambda d: d.signals["url"]), equal_to(expected))


def test_clean_tags_each_doc_with_first_failing_rule():
    rules = {"web": RuleConfig()}
    docs = [_doc("en", GOOD), _doc("short", "Too short to keep."), _doc("de", GERMAN)]
    with BeamTestPipeline() as p:
        out = p | beam.Create(docs) | Clean(rules)
        assert_that(out.kept | beam.Map(lambda d: (d.id, d.signals["language"])), equal_to([("en", "en")]),
                    label="kept")
        assert_that(out.dropped | beam.MapTuple(lambda d, reason: (d.id, reason)),
                    equal_to([("short", "gopher/short_doc"), ("de", "language/unwanted")]), label="dropped")
    counters = {c.key.metric.name: c.committed for c in p.result.metrics().query()["counters"]}
    assert counters["gopher/short_doc"] == 1 and counters["language/unwanted"] == 1 and counters["kept"] == 1


def test_exact_dedup_keeps_lowest_source_and_id(tmp_path):
    docs = [_doc("9", GOOD, "web"), _doc("2", GOOD, "web"), _doc("1", GOOD, "zzz"), _doc("5", GERMAN, "web")]
    with BeamTestPipeline() as p:
        out = p | beam.Create(docs) | ExactDedup(str(tmp_path / "park"))
        assert_that(out.unique | beam.Map(lambda d: (d.source, d.id)), equal_to([("web", "2"), ("web", "5")]),
                    label="unique")
        assert_that(
            out.duplicates | beam.MapTuple(lambda d, r: (d.source, d.id, r, tuple(d.signals["duplicate_of"]))),
            equal_to([("web", "9", "dedup/exact", ("web", "2", "")), ("zzz", "1", "dedup/exact", ("web", "2", ""))]),
            label="duplicates",
        )


def test_exact_dedup_is_a_join_over_many_parked_files_with_no_side_input(tmp_path):
    """Losers reach the documents through joins, one parked file at a time: no ParDo takes a side input
    (a broadcast that grows with the corpus), and the result is the same when every file holds 3 documents."""
    texts = [GOOD, OTHER, GERMAN]
    docs = [_doc(f"{i:02d}", texts[i % 3] + ("" if i < 9 else f" Unique {i}."), source="s") for i in range(14)]
    p = BeamTestPipeline()
    out = p | beam.Create(docs) | ExactDedup(str(tmp_path / "park"), docs_per_file=3)
    assert_that(out.unique | beam.Map(lambda d: d.id), equal_to([f"{i:02d}" for i in (0, 1, 2, *range(9, 14))]),
                label="unique")
    assert_that(out.duplicates | beam.MapTuple(lambda d, r: (d.id, d.signals["duplicate_of"][1])),
                equal_to([(f"{i:02d}", f"{i % 3:02d}") for i in range(3, 9)]), label="duplicates")
    side_inputs = [t.unique_name for t in p.to_runner_api().components.transforms.values()
                   if t.spec.urn == "beam:transform:pardo:v1" and _side_inputs(t)]
    p.run().wait_until_finish()
    assert side_inputs == []
    assert len(list((tmp_path / "park").glob("*.jsonl"))) >= 5  # 14 documents, at most 3 per file


def _side_inputs(transform) -> bool:
    from apache_beam.portability.api import beam_runner_api_pb2

    payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
    return bool(payload.side_inputs)
