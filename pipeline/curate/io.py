"""Readers of raw sources and the dead-letter record (plain Python generators; Beam wraps them in DoFns).

A reader yields ``("doc", Document)`` for every good record and ``("malformed", dict)`` for every bad one,
so no record vanishes: the dead letter holds the file, the line, the error and the raw bytes (base64).
Each document carries its input size (``in_chars``, ``in_words``) in ``signals`` so the stats reconcile
on what came in, whatever later rules do to the text.
"""

from __future__ import annotations

import base64
import glob
import gzip
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.curate.config import SourceConfig
from pipeline.documents import Document

Record = tuple[str, Any]


def expand_paths(source: SourceConfig) -> list[str]:
    """The sorted files matched by a source's globs (absolute, or relative to the cwd)."""
    files: set[str] = set()
    for pattern in source.paths:
        matched = glob.glob(os.path.expanduser(pattern), recursive=True)
        files.update(str(Path(p).resolve()) for p in matched if Path(p).is_file())
    return sorted(files)


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
        "in_words": len(text.split()),
    }


def make_document(source: SourceConfig, doc_id: str, text: str, extra: dict[str, Any] | None = None) -> Document:
    """A raw document with its input size recorded for the stats."""
    signals = {"in_chars": len(text), "in_words": len(text.split()), **(extra or {})}
    return Document(id=doc_id, text=text, source=source.name, domain=source.domain, signals=signals)


def _open_binary(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_jsonl(source: SourceConfig, path: str, max_dead_bytes: int) -> Iterator[Record]:
    """Streams a JSONL or JSONL.gz file line by line; a truncated or corrupt file ends in one dead letter."""
    base = Path(path).name
    line_no = 0
    try:
        with _open_binary(path) as fh:
            for line_no, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                yield _parse_json_line(source, path, base, line_no, raw, max_dead_bytes)
    except (EOFError, OSError, zlib.error) as err:
        # gzip raises EOFError on a truncated stream and BadGzipFile (an OSError) on a corrupt one; the lines
        # read so far are already out, the unreadable rest becomes one dead letter so it does not vanish.
        yield "malformed", dead_letter(
            source, path, line_no + 1, f"unreadable file after line {line_no}: {type(err).__name__}: {err}",
            b"", max_dead_bytes,
        )


def _parse_json_line(
    source: SourceConfig, path: str, base: str, line_no: int, raw: bytes, max_dead_bytes: int
) -> Record:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        return "malformed", dead_letter(source, path, line_no, f"invalid UTF-8: {err}", raw, max_dead_bytes)
    except json.JSONDecodeError as err:
        return "malformed", dead_letter(source, path, line_no, f"not JSON: {err}", raw, max_dead_bytes)
    if not isinstance(obj, dict):
        return "malformed", dead_letter(
            source, path, line_no, f"not a JSON object: {type(obj).__name__}", raw, max_dead_bytes
        )
    text = obj.get(source.text_field)
    if not isinstance(text, str):
        what = "missing" if text is None else f"a {type(text).__name__}, not a string"
        return "malformed", dead_letter(
            source, path, line_no, f"text field {source.text_field!r} is {what}", raw, max_dead_bytes
        )
    raw_id = obj.get(source.id_field)
    doc_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"{base}:{line_no}"
    return "doc", make_document(source, doc_id, text)


def read_source_file(source: SourceConfig, path: str, max_dead_bytes: int) -> Iterator[Record]:
    """Dispatches on the source's format (or the file name when ``auto``)."""
    return read_jsonl(source, path, max_dead_bytes)
