"""The document record every stage passes around, and the reader of curated document shards.

Curated shards are gzip JSON Lines, one object per document with at least
``id``, ``text``, ``source`` and ``domain``; rules add their signals under ``signals``.
Other stages (tokenizer, tokenize, eval) read them through :func:`iter_documents`,
so the on-disk format lives here once.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dapt.pipeline.storage import Location

DOMAINS = ("legal", "medical", "financial", "general")


@dataclasses.dataclass(frozen=True)
class Document:
    """One document: the user's id, text, the source it came from, its domain group and its origin.

    ``origin`` (``<file>:<line>``, ``<file>:<row>``, ``<file>@<byte offset>``) is the record's internal
    identity, unique within a source whatever ids the input carries: shards numbered from 0 reuse ids, and
    dedup keyed on ids alone deleted unique documents. Dedup orders by (id, source, origin), so the
    survivor is still the lowest id; the origin only tells apart records that share one.
    """

    id: str
    text: str
    source: str
    domain: str
    signals: dict[str, Any] = dataclasses.field(default_factory=dict)
    origin: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Document:
        return cls(
            id=str(obj["id"]),
            text=obj["text"],
            source=obj["source"],
            domain=obj["domain"],
            signals=dict(obj.get("signals") or {}),
            origin=str(obj.get("origin", "")),
        )

    def replace(self, **changes: Any) -> Document:
        return dataclasses.replace(self, **changes)


def shard_paths(location: str | Path | Location) -> list[Location]:
    """The shard files of a folder (``*.jsonl.gz`` below it, sorted), or the single file given; on any Beam
    filesystem."""
    where = Location(location)
    if where.is_file():
        return [where]
    if not where.exists():
        raise FileNotFoundError(f"no document shards at {where}")
    return [f for f in where.files() if f.name.endswith(".jsonl.gz")]


def iter_documents(locations: str | Path | Location | Iterable[str | Path | Location]) -> Iterator[Document]:
    """Streams documents from curated shards (files or folders), in a deterministic order."""
    if isinstance(locations, (str, Path, Location)):
        locations = [locations]
    for location in locations:
        for shard in shard_paths(location):
            with shard.open_read() as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield Document.from_dict(json.loads(line))


def write_documents(path: str | Path | Location, docs: Iterable[Document]) -> int:
    """Writes documents as one gzip JSONL shard (for tests and small outputs); returns the count."""
    n = 0
    # No name and no time in the gzip header: the same documents give the same bytes on any filesystem.
    with Location(path).open_write() as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
        for doc in docs:
            fh.write((doc.to_json() + "\n").encode("utf-8"))
            n += 1
    return n


def sha256_of(path: str | Path | Location) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (manifests record what a stage read)."""
    h = hashlib.sha256()
    with Location(path).open_read() as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_of_files(paths: Iterable[Location], root: Location | None = None) -> str:
    """One SHA-256 over several files, in order: each file's name (below ``root``, else its own) and its
    :func:`sha256_of`, so renaming or changing any file changes it."""
    h = hashlib.sha256()
    for path in paths:
        name = path.url[len(root.url) + 1 :] if root is not None else path.name
        h.update(f"{name}\0{sha256_of(path)}\n".encode("utf-8"))
    return h.hexdigest()
