"""Readers of raw sources and the dead-letter record (plain Python generators; Beam wraps them in DoFns).

A reader yields ``("doc", Document)`` for every good record, ``("dropped", (Document, reason))`` for a record
that has no text to keep (a WARC response that is not HTML, a page with no main text or broken markup), and
``("malformed", dict)`` for every bad one, so no record vanishes: the dead letter holds the file, the line
(or row, or byte offset), the error and the raw bytes (base64). Each document carries its input size
(``in_chars``, ``in_words``) in ``signals`` so the stats reconcile on what came in, and its ``origin``
(``<file label>:<line>``), the identity dedup keys on.

Files are matched and opened by ``inputs.py``, through Beam's filesystems, inside the workers.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import posixpath
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


from dapt.errors import UserError
from dapt.pipeline.curate.config import SourceConfig
from dapt.pipeline.curate.extract import extract_main_text, looks_like_html
from dapt.pipeline.curate.inputs import HUB_PREFIX, InputFile, detect_format, open_binary, open_raw, unreadable_errors
from dapt.pipeline.documents import Document
from dapt.pipeline.rules.quality import count_words

Record = tuple[str, Any]
def dead_letter(
    source: SourceConfig, path: str, line: int | None, error: str, raw: bytes, max_bytes: int
) -> dict[str, Any]:
    """One malformed record: where it was, why, and its raw bytes (capped at ``max_bytes``)."""
    text = raw.decode("utf-8", errors="replace")
    return {
        "source": source.name,
        "domain": source.domain,
        "file": path,
        "line": line,
        "error": error,
        "raw_b64": base64.b64encode(raw[:max_bytes]).decode("ascii"),
        "raw_bytes": len(raw),
        "in_chars": len(text),
        "in_words": count_words(text),
    }


def make_document(
    source: SourceConfig, doc_id: str, text: str, origin: str, extra: dict[str, Any] | None = None
) -> Document:
    """A raw document with its origin and its input size recorded for the stats."""
    signals = {"in_chars": len(text), "in_words": count_words(text), **(extra or {})}
    return Document(id=doc_id, text=text, source=source.name, domain=source.domain, signals=signals, origin=origin)


# ----------------------------------------------------------------------------------------------- HTML
def _html_outcome(
    source: SourceConfig, doc_id: str, html: str | bytes, origin: str, extra: dict[str, Any]
) -> Record:
    """The page's main text as a document, or the page dropped with the extractor's reason (never a raise)."""
    extracted = extract_main_text(html, source.html_extractor)
    extra = {**extra, "html_chars": len(html)}
    if extracted.text is None:
        return "dropped", (make_document(source, doc_id, "", origin, extra), extracted.reason)
    return "doc", make_document(source, doc_id, extracted.text, origin, extra)


def read_html(source: SourceConfig, path: str, label: str, max_dead_bytes: int) -> Iterator[Record]:
    """An HTML file (.html/.htm, .gz/.zst too): one page, one document of its main text.

    The bytes go to the extractor undecoded, so the page's own charset declaration is honoured.
    """
    try:
        with open_binary(path) as fh:
            raw = fh.read()
    except unreadable_errors() as err:
        yield "malformed", dead_letter(source, path, None, f"unreadable HTML file: {type(err).__name__}: {err}",
                                       b"", max_dead_bytes)
        return
    if raw.strip():
        yield _html_outcome(source, posixpath.basename(path), raw, f"{label}:1", {})


# ----------------------------------------------------------------------------------------------- JSONL
class _CutLine(Exception):
    """The stream broke off inside a line: the bytes of it that could be read, and why it broke."""

    def __init__(self, partial: bytes, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.partial = partial


def _lines(fh, block: int = 1 << 16) -> Iterator[bytes]:
    """The lines of a binary stream, read in blocks so that when a compressed stream breaks off, the readable
    start of the cut line is not lost inside a line buffer (it comes with the _CutLine raised)."""
    pending: list[bytes] = []
    while True:
        try:
            chunk = fh.read1(block) if hasattr(fh, "read1") else fh.read(block)
        except unreadable_errors() as err:
            raise _CutLine(b"".join(pending), err) from err
        if not chunk:
            break
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            pending.append(chunk[start : end + 1])
            yield b"".join(pending)
            pending, start = [], end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield b"".join(pending)


def read_jsonl_range(
    source: SourceConfig, path: str, label: str, max_dead_bytes: int, start: int, end: int
) -> Iterator[Record]:
    """The lines of an uncompressed JSONL file that start in [start, end): the line running across
    ``start`` belongs to the range before. Records are known by byte offset (``<label>@<offset>``), since
    the line number of a midway range is not known."""
    base = posixpath.basename(path)
    with open_raw(path) as fh:
        if start > 0:
            fh.seek(start - 1)
            fh.readline()  # the rest of the line holding byte start - 1, which ends at or after start
        pos = fh.tell()
        while pos < end:
            raw = fh.readline()
            if not raw:
                break
            if raw.strip():
                yield _parse_json_line(source, path, base, f"{label}@{pos}", pos, raw, max_dead_bytes)
            pos += len(raw)


def read_jsonl(source: SourceConfig, path: str, label: str, max_dead_bytes: int) -> Iterator[Record]:
    """Streams a JSONL file (.gz/.zst too) line by line; a truncated file ends in one dead letter holding the
    readable bytes of the line it cut."""
    base = posixpath.basename(path)
    line_no = 0
    try:
        with open_binary(path) as fh:
            for line_no, raw in enumerate(_lines(fh), start=1):
                if raw.strip():
                    yield _parse_json_line(source, path, base, f"{label}:{line_no}", line_no, raw, max_dead_bytes)
    except _CutLine as err:
        # The lines read so far are out already; the unreadable rest becomes one dead letter, not a crash.
        yield "malformed", dead_letter(source, path, line_no + 1, f"unreadable after line {line_no}: {err}",
                                       err.partial, max_dead_bytes)
    except unreadable_errors() as err:  # the file could not even be opened as what its name says
        yield "malformed", dead_letter(source, path, line_no + 1, f"unreadable after line {line_no}: "
                                       f"{type(err).__name__}: {err}", b"", max_dead_bytes)


def _parse_json_line(
    source: SourceConfig, path: str, base: str, origin: str, line_no: int, raw: bytes, max_dead_bytes: int
) -> Record:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        return "malformed", dead_letter(source, path, line_no, f"invalid UTF-8: {err}", raw, max_dead_bytes)
    except json.JSONDecodeError as err:
        return "malformed", dead_letter(source, path, line_no, f"not JSON: {err}", raw, max_dead_bytes)
    except RecursionError:
        return "malformed", dead_letter(source, path, line_no, "not JSON: nested too deeply", raw, max_dead_bytes)
    if not isinstance(obj, dict):
        return "malformed", dead_letter(
            source, path, line_no, f"not a JSON object: {type(obj).__name__}", raw, max_dead_bytes
        )
    return _record_from_fields(source, path, f"{base}:{line_no}", origin, line_no, obj.get(source.text_field),
                               obj.get(source.id_field), raw, max_dead_bytes)


def _record_from_fields(
    source: SourceConfig, path: str, fallback_id: str, origin: str, where: int, text: Any, raw_id: Any,
    raw: bytes, max_dead_bytes: int,
) -> Record:
    """A document from a row's text and id values, or a dead letter when the text is not a string."""
    if not isinstance(text, str):
        what = "missing" if text is None else f"a {type(text).__name__}, not a string"
        return "malformed", dead_letter(
            source, path, where, f"text field {source.text_field!r} is {what}", raw, max_dead_bytes
        )
    doc_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else fallback_id
    if source.html or looks_like_html(text):  # a whole page is never training text with its markup
        return _html_outcome(source, doc_id, text, origin, {})
    return "doc", make_document(source, doc_id, text, origin)


# ----------------------------------------------------------------------------------------------- Parquet
def read_parquet(source: SourceConfig, path: str, label: str, max_dead_bytes: int) -> Iterator[Record]:
    """Streams a Parquet file in record batches (only the text and id columns are read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base, row = posixpath.basename(path), 0
    try:
        pf = pq.ParquetFile(open_raw(path))
        names = pf.schema_arrow.names
        if source.text_field not in names:
            yield "malformed", dead_letter(
                source, path, None, f"no column {source.text_field!r} (columns: {names}); "
                f"{pf.metadata.num_rows} rows not read", b"", max_dead_bytes)
            return
        columns = [source.text_field] + ([source.id_field] if source.id_field in names else [])
        for batch in pf.iter_batches(batch_size=256, columns=columns):
            texts = batch.column(source.text_field).to_pylist()
            ids = batch.column(source.id_field).to_pylist() if len(columns) > 1 else [None] * len(texts)
            for text, raw_id in zip(texts, ids):
                row += 1
                raw = b"" if isinstance(text, str) else repr(text).encode()
                yield _record_from_fields(source, path, f"{base}:{row}", f"{label}:{row}", row, text, raw_id, raw,
                                          max_dead_bytes)
    except (pa.ArrowException, OSError) as err:
        yield "malformed", dead_letter(source, path, row + 1, f"unreadable Parquet after row {row}: "
                                       f"{type(err).__name__}: {err}", b"", max_dead_bytes)


# ----------------------------------------------------------------------------------------------- text
def read_text(source: SourceConfig, path: str, label: str, max_dead_bytes: int) -> Iterator[Record]:
    """Plain text (.gz/.zst too): one document per file, per blank-line paragraph or per line."""
    base = posixpath.basename(path)
    unit = source.text_unit
    chunk: list[bytes] = []
    first_line = line_no = 0

    def emit(lines: list[bytes], start: int) -> Record | None:
        raw = b"".join(lines)
        if not raw.strip():
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return "malformed", dead_letter(source, path, start, f"invalid UTF-8: {err}", raw, max_dead_bytes)
        doc_id = base if unit == "file" else f"{base}:{start}"
        # Each unit (a file, paragraph or line) is an HTML page; a whole file that starts like one is too.
        if source.html or (unit == "file" and looks_like_html(text)):
            return _html_outcome(source, doc_id, text, f"{label}:{start}", {})
        return "doc", make_document(source, doc_id, text, f"{label}:{start}")

    try:
        with open_binary(path) as fh:
            for line_no, raw in enumerate(fh, start=1):
                if unit == "line" or (unit == "paragraph" and not raw.strip()):
                    record = emit([raw] if unit == "line" else chunk, line_no if unit == "line" else first_line)
                    chunk, first_line = [], 0
                    if record:
                        yield record
                    continue
                if not chunk:
                    first_line = line_no
                chunk.append(raw)
        record = emit(chunk, first_line or 1)
        if record:
            yield record
    except unreadable_errors() as err:
        yield "malformed", dead_letter(source, path, line_no + 1, f"unreadable after line {line_no}: "
                                       f"{type(err).__name__}: {err}", b"".join(chunk), max_dead_bytes)


# ----------------------------------------------------------------------------------------------- WARC
def warc_record_ranges(found: InputFile, split_bytes: int) -> list[InputFile]:
    """A WARC file larger than ``split_bytes`` as ranges of whole records of about that size, so several
    workers extract its pages; one pass over the records (headers unparsed) finds where they start.

    A gzip WARC is seekable only at gzip members, which crawlers write one per record; a file compressed as
    one stream, or one that cannot be read through, stays whole (its reader dead-letters what is unreadable).
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    if found.size <= split_bytes:
        return [found]
    starts = [0]
    try:
        with open_raw(found.path) as fh:
            records = ArchiveIterator(fh, no_record_parse=True)
            for _ in records:
                offset = records.get_record_offset()
                if offset - starts[-1] >= split_bytes:
                    starts.append(offset)
            if found.path.lower().endswith(".gz"):
                for start in starts[1:]:
                    fh.seek(start)
                    if fh.read(2) != b"\x1f\x8b":
                        return [found]
    except (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError):
        return [found]
    ends = [*starts[1:], found.size]
    return [dataclasses.replace(found, start=lo, end=hi) for lo, hi in zip(starts, ends)]


def read_warc(
    source: SourceConfig, path: str, label: str, max_dead_bytes: int, start: int = 0, end: int = -1
) -> Iterator[Record]:
    """WARC / WET archives: HTML responses -> main text (the source's extractor); WET conversions are text.
    With ``end`` >= 0, only the records starting in [start, end) (see :func:`warc_record_ranges`).

    Records that describe others (warcinfo, request, metadata, revisit) are not documents and are skipped;
    a response that is not HTML is dropped as ``warc/not_html`` so it is still counted.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    offset = start
    try:
        with open_raw(path) as fh:
            fh.seek(start)
            records = ArchiveIterator(fh)
            for record in records:
                kind = record.rec_type
                if kind not in ("response", "resource", "conversion"):
                    continue
                # Read the payload before asking for the offset: get_record_offset() drains the record.
                payload = record.content_stream().read()
                offset = records.get_record_offset()
                if 0 <= end <= offset:
                    break  # the next range's first record
                if getattr(record.raw_stream, "limit", 0) > 0:
                    # Fewer bytes than the record's Content-Length: the file was cut inside this record.
                    raise EOFError(f"record ends {record.raw_stream.limit} bytes short of its Content-Length")
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                doc_id = record.rec_headers.get_header("WARC-Record-ID") or f"{posixpath.basename(path)}@{offset}"
                origin = f"{label}@{offset}"
                extra = {"url": uri, "warc_offset": offset}
                if kind == "conversion":  # WET: the crawler's own text extraction
                    text = payload.decode("utf-8", errors="replace")
                    yield "doc", make_document(source, doc_id, text, origin, extra)
                    continue
                content_type = ""
                if record.http_headers is not None:
                    content_type = record.http_headers.get_header("Content-Type") or ""
                else:
                    content_type = record.rec_headers.get_header("Content-Type") or ""
                if "html" not in content_type.lower() or not payload.strip():
                    extra["content_type"] = content_type
                    yield "dropped", (make_document(source, doc_id, "", origin, extra), "warc/not_html")
                    continue
                yield _html_outcome(source, doc_id, payload, origin, extra)
    except (ArchiveLoadFailed, EOFError, OSError, zlib.error, ValueError) as err:
        yield "malformed", dead_letter(source, path, offset, f"unreadable WARC at byte {offset}: "
                                       f"{type(err).__name__}: {err}", b"", max_dead_bytes)


# ----------------------------------------------------------------------------------------------- HF datasets
def read_hf(source: SourceConfig, path: str, label: str, max_dead_bytes: int) -> Iterator[Record]:
    """A local ``save_to_disk`` folder (memory-mapped Arrow), or a hub dataset streamed where there is a network."""
    import datasets

    if path.startswith(HUB_PREFIX):
        name = path[len(HUB_PREFIX):]
        rows = datasets.load_dataset(name, source.hf_config, split=source.hf_split, streaming=True)
        base = name.replace("/", "_")
    else:
        loaded = datasets.load_from_disk(path)
        if isinstance(loaded, datasets.DatasetDict):
            if source.hf_split not in loaded:
                raise UserError(f"curate.sources[{source.name}]: {path} has splits {list(loaded)}, not "
                                f"{source.hf_split!r}; set hf_split")
            loaded = loaded[source.hf_split]
        if source.text_field not in loaded.column_names:
            yield "malformed", dead_letter(source, path, None, f"no column {source.text_field!r} (columns: "
                                           f"{loaded.column_names}); {len(loaded)} rows not read", b"", max_dead_bytes)
            return
        keep = [c for c in (source.text_field, source.id_field) if c in loaded.column_names]
        rows = loaded.select_columns(keep)
        base = Path(path).name
    for row_no, row in enumerate(rows, start=1):
        text = row.get(source.text_field)
        raw = b"" if isinstance(text, str) else repr(row)[:max_dead_bytes].encode()
        yield _record_from_fields(source, path, f"{base}:{row_no}", f"{label}:{row_no}", row_no, text,
                                  row.get(source.id_field), raw, max_dead_bytes)


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "text": read_text, "html": read_html, "warc": read_warc,
           "hf": read_hf}


def read_input(source: SourceConfig, found: InputFile, max_dead_bytes: int) -> Iterator[Record]:
    """Every record of one input of a source (or of its byte range), with the reader its format calls for."""
    fmt = detect_format(source, found.path)
    if found.end >= 0:
        ranged = read_warc if fmt == "warc" else read_jsonl_range
        return ranged(source, found.path, found.label, max_dead_bytes, found.start, found.end)
    return READERS[fmt](source, found.path, found.label, max_dead_bytes)
