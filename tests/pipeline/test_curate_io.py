"""Readers of every input format, and bad input: each record ends as a document, a drop or a dead letter."""

import base64
import dataclasses
import gzip
import io
import os
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from dapt.errors import UserError
from dapt.pipeline.curate.chain import apply_rules
from dapt.pipeline.curate.config import RuleConfig, SourceConfig
from dapt.pipeline.curate.inputs import InputFile, detect_format, expand_paths
from dapt.pipeline.curate.io import read_input

ARTICLE = (
    "The river rises in the hills to the north of the town and flows slowly through farmland before it "
    "reaches the sea. In spring the water is high and cold, and the farmers wait for it to fall before they "
    "plant their fields. Most of the old mills along its banks have been turned into houses, but one still "
    "grinds flour for the bakery in the square."
)
PAGE = f"""<html><head><title>River walk</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/contact">Contact</a></nav>
<article><h1>The river walk</h1><p>{ARTICLE}</p>
<p>Visitors come in summer to walk the path that follows the water from the bridge to the harbour.</p></article>
<footer>© 2024 Town Guide. All rights reserved.</footer></body></html>"""


def _read(source, path):
    return list(read_input(source, InputFile(source.name, str(path), os.path.basename(path)), max_dead_bytes=1000))


def _kinds(records):
    return [kind for kind, _ in records]


def _jsonl_source(path, **kw):
    return SourceConfig(name="s", paths=[str(path)], **kw)


def test_jsonl_zst_and_bad_lines(tmp_path):
    path = tmp_path / "a.jsonl.zst"
    lines = [json.dumps({"id": 7, "text": ARTICLE}).encode(), b"[1, 2]", b'{"text": "caf\xe9"}', b'{"id": "x"}']
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n"))
    records = _read(_jsonl_source(path), path)
    assert _kinds(records) == ["doc", "malformed", "malformed", "malformed"]
    doc = records[0][1]
    assert (doc.id, doc.text, doc.signals["in_chars"]) == ("7", ARTICLE, len(ARTICLE))
    errors = [r["error"] for _, r in records[1:]]
    assert errors[0].startswith("not a JSON object") and errors[1].startswith("invalid UTF-8")
    assert errors[2] == "text field 'text' is missing"
    assert base64.b64decode(records[2][1]["raw_b64"]) == b'{"text": "caf\xe9"}\n'


def test_truncated_gzip_keeps_the_lines_before_and_dead_letters_the_rest(tmp_path):
    path = tmp_path / "t.jsonl.gz"
    payload = b"".join(json.dumps({"id": i, "text": ARTICLE + f" Part {i}."}).encode() + b"\n" for i in range(200))
    whole = gzip.compress(payload)
    path.write_bytes(whole[: len(whole) * 2 // 3])
    records = _read(_jsonl_source(path), path)
    docs = [r for k, r in records if k == "doc"]
    assert 0 < len(docs) < 200 and _kinds(records)[-1] == "malformed"
    assert records[-1][1]["error"].startswith(f"unreadable after line {len(docs)}")
    assert records[-1][1]["line"] == len(docs) + 1
    # the dead letter holds what could be read of the cut line: the start of the record after the last kept
    cut = base64.b64decode(records[-1][1]["raw_b64"])
    assert cut and payload.split(b"\n")[len(docs)].startswith(cut) and records[-1][1]["raw_bytes"] == len(cut)


def test_truncated_zstd_is_a_dead_letter(tmp_path):
    path = tmp_path / "t.jsonl.zst"
    whole = zstandard.ZstdCompressor().compress(json.dumps({"text": ARTICLE}).encode() * 50)
    path.write_bytes(whole[:40])
    assert _kinds(_read(_jsonl_source(path), path))[-1] == "malformed"


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.jsonl.gz", "empty.txt", "empty.parquet"])
def test_empty_files_give_no_records_and_no_crash(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(b""))
    elif name.endswith(".parquet"):
        pq.write_table(pa.table({"text": pa.array([], pa.string())}), path)
    else:
        path.write_bytes(b"")
    assert _read(_jsonl_source(path), path) == []


def test_zero_byte_parquet_is_a_dead_letter(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"")
    assert _kinds(_read(_jsonl_source(path), path)) == ["malformed"]


def test_50_mb_document_is_read_and_dropped_by_the_size_guard(tmp_path):
    path = tmp_path / "big.jsonl"
    big = ("word " * 10_485_760)  # 50 MiB of text in one record
    path.write_text(json.dumps({"id": "big", "text": big}) + "\n")
    [(kind, doc)] = _read(_jsonl_source(path), path)
    assert kind == "doc" and doc.signals["in_chars"] == len(big)
    assert apply_rules(doc.text, RuleConfig(), langid=None).reason == "size/too_long"


def test_parquet_rows_and_missing_column(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"doc_id": [1, 2, 3], "body": [ARTICLE, None, "short text"]}), path, row_group_size=2)
    source = _jsonl_source(path, text_field="body", id_field="doc_id")
    records = _read(source, path)
    assert _kinds(records) == ["doc", "malformed", "doc"]
    assert [records[0][1].id, records[1][1]["line"], records[2][1].id] == ["1", 2, "3"]
    assert _kinds(_read(_jsonl_source(path), path)) == ["malformed"]  # no "text" column


@pytest.mark.parametrize("unit, expected", [("file", 1), ("paragraph", 3), ("line", 4)])
def test_plain_text_units(tmp_path, unit, expected):
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(gzip.compress(b"first para line one\nline two\n\nsecond\n\n\nthird\n"))
    records = _read(_jsonl_source(path, text_unit=unit), path)
    assert _kinds(records) == ["doc"] * expected


def test_plain_text_invalid_utf8_paragraph(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good paragraph\n\nbad \xff\xfe paragraph\n")
    records = _read(_jsonl_source(path, text_unit="paragraph"), path)
    assert _kinds(records) == ["doc", "malformed"] and records[1][1]["line"] == 3


def _warc(path, gzip_records=True):
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip_records)
        def response(uri, ctype, body):
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            return writer.create_warc_record(uri, "response", payload=io.BytesIO(body), length=len(body),
                                             http_headers=headers)
        writer.write_record(writer.create_warc_record("http://a.test/", "request", payload=io.BytesIO(b"GET /")))
        writer.write_record(response("http://a.test/river", "text/html; charset=utf-8", PAGE.encode()))
        writer.write_record(response("http://a.test/logo.png", "image/png", b"\x89PNG\r\n\x1a\n"))
        writer.write_record(response("http://a.test/empty", "text/html", b"<html><body></body></html>"))
        writer.write_record(writer.create_warc_record("http://a.test/river", "conversion", length=len(ARTICLE),
                                                      payload=io.BytesIO(ARTICLE.encode())))


def test_warc_html_is_extracted_and_records_without_html_are_dropped_with_a_reason(tmp_path):
    path = tmp_path / "crawl.warc.gz"
    _warc(path)
    records = _read(_jsonl_source(path), path)
    assert _kinds(records) == ["doc", "dropped", "dropped", "doc"]  # the request record is not a document
    page = records[0][1]
    assert "grinds flour for the bakery" in page.text and "All rights reserved" not in page.text
    assert page.signals["url"] == "http://a.test/river"
    assert [records[1][1][1], records[2][1][1]] == ["warc/not_html", "html/no_main_text"]
    assert records[3][1].text == ARTICLE  # WET conversion records are text already


def test_truncated_warc_is_a_dead_letter(tmp_path):
    path = tmp_path / "cut.warc.gz"
    _warc(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    kinds = _kinds(_read(_jsonl_source(path), path))
    assert kinds[0] == "doc" and kinds[-1] == "malformed"


def test_html_inside_jsonl(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"id": "p", "text": PAGE}) + "\n" + json.dumps({"id": "q", "text": "<p></p>"}) + "\n")
    records = _read(_jsonl_source(path, html=True), path)
    assert _kinds(records) == ["doc", "dropped"] and "bakery" in records[0][1].text


def test_hf_save_to_disk_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "ds"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"id": ["a", "b"], "text": [ARTICLE, None]})}).save_to_disk(folder)
    source = SourceConfig(name="s", paths=[str(folder)])
    assert [f.path for f in expand_paths(source)] == [str(folder.resolve())] and detect_format(source, str(folder)) == "hf"
    records = _read(source, folder)
    assert _kinds(records) == ["doc", "malformed"] and records[0][1].id == "a"
    with pytest.raises(UserError, match="hf_split"):
        _read(SourceConfig(name="s", paths=[str(folder)], hf_split="validation"), folder)


def test_unknown_format_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="set format"):
        detect_format(SourceConfig(name="s"), str(tmp_path / "data.xlsx"))


def test_a_large_jsonl_file_is_read_in_byte_ranges_each_line_exactly_once(tmp_path):
    """Several workers share one big file: every line belongs to the range it starts in, whatever the cut."""
    from dapt.pipeline.curate.inputs import split_ranges

    path = tmp_path / "big.jsonl"
    lines = [json.dumps({"id": i, "text": f"{ARTICLE} Part {i}." + " more" * (i % 7)}).encode() for i in range(60)]
    lines.insert(10, b"not json")
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = _jsonl_source(path)
    whole = InputFile("s", str(path), "big.jsonl", size=path.stat().st_size)
    assert split_ranges(whole, "jsonl", whole.size) == [whole]  # small enough: one piece
    assert len(split_ranges(dataclasses.replace(whole, path=str(path) + ".gz"), "jsonl", 100)) == 1  # gzip: whole
    expected = [r for k, r in read_input(source, whole, 1000) if k == "doc"]
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    for split in (97, 512, 1 << 20):  # cuts inside lines, on newlines' neighbours, and none
        ranges = split_ranges(whole, "jsonl", split)
        assert len(ranges) == -(-whole.size // split)
        records = [rec for r in ranges for rec in read_input(source, r, 1000)]
        docs = [r for k, r in records if k == "doc"]
        if len(ranges) > 1:
            assert [d.text for d in docs] == [d.text for d in expected] and len(docs) == 60
            assert [d.origin for d in docs] == [f"big.jsonl@{o}" for i, o in enumerate(offsets) if i != 10]
            assert [r["line"] for k, r in records if k == "malformed"] == [offsets[10]]


def _many_page_warc(path, n, gzip_records=True):
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip_records)
        writer.write_record(writer.create_warc_record("http://a.test/", "warcinfo", payload=io.BytesIO(b"software: t")))
        for i in range(n):
            body = PAGE.replace("The river walk", f"The river walk, part {i}").encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"http://a.test/{i}", "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=headers))


def _records(source, found):
    return [(kind, r.origin if kind == "doc" else r) for kind, r in read_input(source, found, max_dead_bytes=1000)]


@pytest.mark.parametrize("name, gzip_records", [("crawl.warc.gz", True), ("crawl.warc", False)])
def test_a_large_warc_is_read_in_ranges_of_whole_records_each_record_exactly_once(tmp_path, name, gzip_records):
    """Several workers share one big WARC: ranges start at records, and together they give every record of
    the file once, with the same origins as one reader of the whole file."""
    from dapt.pipeline.curate.io import warc_record_ranges

    path = tmp_path / name
    _many_page_warc(path, 24, gzip_records)
    source = _jsonl_source(path)
    whole = InputFile("s", str(path), name, size=path.stat().st_size)
    ranges = warc_record_ranges(whole, split_bytes=whole.size // 5)
    assert 4 <= len(ranges) <= 6
    assert ranges[0].start == 0 and ranges[-1].end == whole.size
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
    expected = _records(source, whole)
    assert len(expected) == 24 and all(kind == "doc" for kind, _ in expected)
    assert [r for part in ranges for r in _records(source, part)] == expected
    assert warc_record_ranges(whole, split_bytes=whole.size) == [whole]


def test_a_warc_gzipped_as_one_stream_is_not_split(tmp_path):
    """Offsets inside one gzip stream are not places a reader can start: such a file stays whole, and its
    reader dead-letters it with warcio's word on how to fix it (`warcio recompress`)."""
    from dapt.pipeline.curate.io import warc_record_ranges

    plain = tmp_path / "crawl.warc"
    _many_page_warc(plain, 24, gzip_records=False)
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    whole = InputFile("s", str(path), path.name, size=path.stat().st_size)
    assert warc_record_ranges(whole, split_bytes=1024) == [whole]
    [(kind, letter)] = _records(_jsonl_source(path), whole)
    assert kind == "malformed" and "warcio recompress" in letter["error"]


# ------------------------------------------------------------------ HTML files and `html: true` (issue 18)
@pytest.mark.parametrize("name", ["page.html", "page.htm", "page.html.gz"])
def test_an_html_file_is_read_as_html_not_as_text(tmp_path, name):
    path = tmp_path / name
    data = PAGE.encode("utf-8")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    source = SourceConfig(name="s", paths=[str(path)])
    assert detect_format(source, str(path)) == "html"
    records = _read(source, path)
    assert _kinds(records) == ["doc"]
    doc = records[0][1]
    assert "grinds flour for the bakery" in doc.text and "<" not in doc.text and "All rights reserved" not in doc.text
    assert doc.signals["html_chars"] == len(data)


def test_an_html_file_without_main_text_is_dropped_with_its_reason(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><body><div><span></span></div></body></html>")
    records = _read(SourceConfig(name="s", paths=[str(path)]), path)
    assert _kinds(records) == ["dropped"] and records[0][1][1] == "html/no_main_text"


@pytest.mark.parametrize("unit, expected", [("file", 1), ("line", 2)])
def test_html_true_is_honoured_for_plain_text(tmp_path, unit, expected):
    path = tmp_path / "pages.txt"
    one_line = PAGE.replace("\n", " ")
    path.write_text(one_line if unit == "file" else one_line + "\n" + one_line + "\n")
    records = _read(SourceConfig(name="s", paths=[str(path)], format="text", text_unit=unit, html=True), path)
    assert _kinds(records) == ["doc"] * expected
    assert all("bakery" in d.text and "<article>" not in d.text for _, d in records)


def test_a_text_file_that_is_an_html_page_is_extracted(tmp_path):
    path = tmp_path / "saved_page.txt"
    path.write_text(PAGE)
    records = _read(SourceConfig(name="s", paths=[str(path)]), path)
    assert _kinds(records) == ["doc"] and "<html>" not in records[0][1].text and "bakery" in records[0][1].text


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse", "cascade"])
def test_html_extractor_is_a_per_source_choice(tmp_path, extractor):
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"id": "p", "text": PAGE}) + "\n")
    records = _read(_jsonl_source(path, html=True, html_extractor=extractor), path)
    assert _kinds(records) == ["doc"] and "grinds flour for the bakery" in records[0][1].text


def test_a_bad_html_extractor_is_one_line_naming_the_key(tmp_path):
    from dapt.config import load_config, parse_overrides

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with pytest.raises(UserError) as err:
        load_config(os.path.join(repo, "configs", "tiny.yaml"),
                    parse_overrides(["--curate.sources.0.html_extractor=boilerpipe"]), run_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message and "curate.sources.0.html_extractor" in message
    assert "trafilatura" in message and "resiliparse" in message


def test_a_jsonl_record_that_is_a_whole_page_is_extracted_without_html_true(tmp_path):
    path = tmp_path / "dump.jsonl"
    path.write_text(json.dumps({"id": "p", "text": PAGE}) + "\n" + json.dumps({"id": "t", "text": ARTICLE}) + "\n")
    records = _read(_jsonl_source(path), path)
    assert _kinds(records) == ["doc", "doc"]
    assert "<html>" not in records[0][1].text and "bakery" in records[0][1].text and "html_chars" in records[0][1].signals
    assert records[1][1].text == ARTICLE and "html_chars" not in records[1][1].signals
