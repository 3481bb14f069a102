"""Which files a source names, what format each holds, and how to open them: matched and opened through
Beam's filesystems (local paths, ``gs://``, ``s3://``, ...), inside the workers, since a cluster's workers share
no disk with the launcher. The readers of each format are in ``io.py``."""

from __future__ import annotations

import dataclasses
import glob
import gzip
import io
import os
import posixpath
import zlib
from pathlib import Path
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from dapt.errors import UserError
from dapt.pipeline.curate.config import SourceConfig

HUB_PREFIX = "hf-hub://"
_JSONL = (".jsonl", ".json", ".ndjson")
_TEXT = (".txt", ".text", ".md")
_HTML = (".html", ".htm", ".xhtml")
_WARC = (".warc", ".wet", ".arc")
_COMPRESSION = (".gz", ".zst", ".zstd")


def _stem_suffix(path: str) -> str:
    """The data suffix of a file name without its compression suffix ('a.jsonl.gz' -> '.jsonl')."""
    name = path.lower()
    for comp in _COMPRESSION:
        if name.endswith(comp):
            name = name[: -len(comp)]
    return os.path.splitext(name)[1]


def is_local(path: str) -> bool:
    """A path of the machine's own disk (no URL scheme such as ``s3://`` or ``gs://``)."""
    return FileSystems.get_scheme(path) in (None, "file")


def is_hf_folder(path: str) -> bool:
    """A local ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` folder."""
    p = Path(path)
    return (is_local(path) and p.is_dir()
            and any((p / f).is_file() for f in ("state.json", "dataset_dict.json", "dataset_info.json")))


def detect_format(source: SourceConfig, path: str) -> str:
    """The reader for one path: the source's format, or (``auto``) the one its name says."""
    if source.format != "auto":
        return source.format
    if path.startswith(HUB_PREFIX) or is_hf_folder(path):
        return "hf"
    suffix = _stem_suffix(path)
    for fmt, suffixes in (("jsonl", _JSONL), ("text", _TEXT), ("html", _HTML), ("warc", _WARC),
                          ("parquet", (".parquet",))):
        if suffix in suffixes:
            return fmt
    raise UserError(
        f"curate.sources[{source.name}]: cannot tell the format of {path}; set format to one of "
        "jsonl, parquet, text, html, warc, hf"
    )


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One matched input: its path or URL, the label its records' origins carry, and what identifies its
    content for stage caching (size and last-updated time from the filesystem's own metadata)."""

    source: str
    path: str
    label: str
    size: int = -1
    updated: float = -1.0
    # A byte range [start, end) of the file, for a large file read by several workers; end -1 = to the end.
    start: int = 0
    end: int = -1

    def identity(self) -> dict[str, Any]:
        """What identifies a raw input to the manifest and the run cache: path, size and last-updated time
        from its filesystem's metadata (the same for a bucket as for local disk; hashing a corpus is not cheap)."""
        return {"path": self.path, "size": self.size, "updated": self.updated}


def split_ranges(found: InputFile, fmt: str, split_bytes: int) -> list[InputFile]:
    """A large uncompressed JSONL file as byte ranges of ``split_bytes``; any other input whole."""
    if fmt != "jsonl" or found.size <= split_bytes or found.path.lower().endswith(_COMPRESSION):
        return [found]
    return [dataclasses.replace(found, start=lo, end=min(lo + split_bytes, found.size))
            for lo in range(0, found.size, split_bytes)]


def _folder_size_and_time(folder: str) -> tuple[int, float]:
    files = [p.stat() for p in Path(folder).rglob("*") if p.is_file()]
    return sum(st.st_size for st in files), max((st.st_mtime for st in files), default=-1.0)


def expand_paths(source: SourceConfig) -> list[InputFile]:
    """The inputs matched by a source's patterns through Beam's filesystems (plus local save_to_disk
    folders and a hub dataset), sorted by path, each labelled by its path below the files' common folder.

    The label, not the path, goes into record origins: the same files read from a local copy or from a
    bucket give the same origins, hence the same output bytes.
    """
    found: dict[str, tuple[int, float]] = {}
    for pattern in source.paths:
        if is_local(pattern):
            pattern = os.path.abspath(os.path.expanduser(pattern))
            found.update({m: _folder_size_and_time(m) for m in glob.glob(pattern, recursive=True) if is_hf_folder(m)})
        for match in FileSystems.match([pattern])[0].metadata_list:
            if not (is_local(match.path) and os.path.isdir(match.path)):
                found[match.path] = (match.size_in_bytes, match.last_updated_in_seconds)
    paths = sorted(found)
    root = posixpath.commonprefix([p.rsplit("/", 1)[0] + "/" for p in paths]).rsplit("/", 1)[0] + "/"
    inputs = [InputFile(source.name, p, p[len(root):] if p.startswith(root) else p, *found[p]) for p in paths]
    if source.hf_dataset:
        inputs.append(InputFile(source.name, HUB_PREFIX + source.hf_dataset, source.hf_dataset))
    return inputs




class _ZstdLines(io.RawIOBase):
    """A readable zstd stream that, unlike ``stream_reader``, raises EOFError when the input stops mid-frame."""

    def __init__(self, fh) -> None:
        import zstandard

        self._zstd = zstandard
        self._fh = fh
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._buffer = b""
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, out) -> int:
        while not self._buffer:
            chunk = self._fh.read(1 << 20)
            if not chunk:
                if self._started and not self._dobj.eof:
                    raise EOFError("zstd stream ended before the end of its frame")
                return 0
            self._started = True
            self._buffer = self._dobj.decompress(chunk)
            while self._dobj.eof and self._dobj.unused_data:  # concatenated frames
                rest = self._dobj.unused_data
                self._dobj = self._zstd.ZstdDecompressor().decompressobj()
                self._buffer += self._dobj.decompress(rest)
        n = min(len(out), len(self._buffer))
        out[:n], self._buffer = self._buffer[:n], self._buffer[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


class _GzipReader(gzip.GzipFile):
    """A GzipFile that closes the file it reads from (GzipFile closes only files it opened by name)."""

    def close(self) -> None:
        raw = self.fileobj
        try:
            super().close()
        finally:
            if raw is not None:
                raw.close()


def open_raw(path: str):
    """The file's bytes as stored, through Beam's filesystems (local disk, gs://, s3://, ...)."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_binary(path: str):
    """A binary file object, transparently decompressing .gz and .zst.

    Decompressed here rather than by Beam's CompressedFile, which reads a cut gzip stream as a clean end:
    GzipFile raises EOFError, so a truncated file ends in a dead letter instead of silently losing its tail.
    """
    lower = path.lower()
    if lower.endswith(".gz"):
        return _GzipReader(fileobj=open_raw(path), mode="rb")
    if lower.endswith((".zst", ".zstd")):
        return io.BufferedReader(_ZstdLines(open_raw(path)), buffer_size=1 << 20)
    return open_raw(path)


def unreadable_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a truncated or corrupt compressed stream raises mid-read."""
    import zstandard

    return (EOFError, OSError, zlib.error, zstandard.ZstdError)
