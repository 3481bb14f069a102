"""The token file format: one flat, memory-mappable token array per source plus a document index.

``<stem>.bin`` holds the token ids of every document back to back, each document followed by the
EOS id (so packing across documents keeps the boundaries, as in GPT-2/Megatron pre-training), as
little-endian ``uint16`` when the vocabulary fits in 16 bits and ``uint32`` otherwise.
``<stem>.idx`` is self-describing, so a reader needs no manifest:

    8 bytes  magic  b"DAPTIDX1"
    8 bytes  uint64 item size of the .bin tokens (2 or 4)
    8 bytes  uint64 number of documents n
    8*(n+1)  int64  document start offsets into .bin (the last one is the total token count)

Writers go through a temporary name and rename at the end (on any Beam filesystem), so a crashed or
retried job never leaves a file that looks complete or a second copy. A source written in several
buckets is joined end to end by :func:`concat_token_files`, streaming. Pretraining imports :class:`TokenFile` from here; the format lives only here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from apache_beam.io.filesystems import FileSystems

from dapt.pipeline.storage import Location

MAGIC = b"DAPTIDX1"
_HEADER = 24  # magic + item size + doc count


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab <= 65,535, ids 0..65,534), else uint32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype("<u2") if vocab_size <= 65535 else np.dtype("<u4")


def token_paths(stem: str | Path) -> tuple[Path, Path]:
    """The (.bin, .idx) pair of a local token file stem such as ``tokens/train/legal``."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".bin"), stem.with_name(stem.name + ".idx")


def token_locations(stem: str | Path | Location) -> tuple[Location, Location]:
    """The (.bin, .idx) pair of a token file stem on any Beam filesystem."""
    stem = Location(stem)
    return stem.parent / (stem.name + ".bin"), stem.parent / (stem.name + ".idx")


class _Staged:
    """Temporary names for a set of final files, renamed into place together by commit().

    The temporary names carry a random tag, so two attempts at the same bundle never write into each
    other's files; the rename replaces what an earlier attempt left, so a retry leaves one copy.
    """

    def __init__(self, finals: Sequence[Location], tmp_dir: str | Path | Location | None) -> None:
        tag = uuid.uuid4().hex[:12]
        self.finals = list(finals)
        self.tmps = [(Location(tmp_dir) if tmp_dir is not None else f.parent) / f"{f.name}.tmp-{tag}" for f in finals]
        for f in (*self.finals, *self.tmps):
            f.parent.mkdir()

    def commit(self) -> None:
        FileSystems.rename([t.url for t in self.tmps], [f.url for f in self.finals])

    def discard(self) -> None:
        for t in self.tmps:
            t.unlink()


class TokenFileWriter:
    """Appends documents (token id sequences) to a token file; EOS is added after each document.

    The files are written under temporary names (in tmp_dir, else beside them) and renamed at close().
    """

    def __init__(self, stem: str | Path | Location, dtype: np.dtype | str, eos_id: int,
                 tmp_dir: str | Path | Location | None = None) -> None:
        self.dtype = _token_dtype(dtype)
        if not 0 <= eos_id <= np.iinfo(self.dtype).max:
            raise ValueError(f"eos_id {eos_id} does not fit in {self.dtype}")
        self.eos_id = int(eos_id)
        self.bin_path, self.idx_path = token_locations(stem)
        self._staged = _Staged([self.bin_path, self.idx_path], tmp_dir)
        self._fh = self._staged.tmps[0].open_write()
        self._offsets = [0]
        self._eos = np.array([self.eos_id], dtype=self.dtype)
        self._max = int(np.iinfo(self.dtype).max)

    def add(self, ids: Sequence[int] | np.ndarray) -> int:
        """Writes one document and its EOS; returns the tokens written (including the EOS)."""
        arr = np.asarray(ids)
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > self._max):
            raise ValueError(f"token id out of range for {self.dtype}: {int(arr.min())}..{int(arr.max())}")
        arr = arr.astype(self.dtype, copy=False)
        self._fh.write(arr.tobytes())
        self._fh.write(self._eos.tobytes())
        n = int(arr.size) + 1
        self._offsets.append(self._offsets[-1] + n)
        return n

    @property
    def n_docs(self) -> int:
        return len(self._offsets) - 1

    @property
    def n_tokens(self) -> int:
        return self._offsets[-1]

    def close(self) -> tuple[int, int]:
        """Finishes both files and renames them into place; returns (tokens, documents)."""
        self._fh.close()
        with self._staged.tmps[1].open_write() as fh:
            fh.write(_index_header(self.dtype, self.n_docs))
            fh.write(np.asarray(self._offsets, dtype="<i8").tobytes())
        self._staged.commit()
        return self.n_tokens, self.n_docs

    def __enter__(self) -> TokenFileWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:  # leave no half-written file behind
            self._fh.close()
            self._staged.discard()


def write_token_file(stem: str | Path | Location, docs: Sequence[Sequence[int]], dtype: np.dtype | str, eos_id: int) -> tuple[int, int]:
    """Writes a whole token file at once; returns (tokens, documents)."""
    with TokenFileWriter(stem, dtype, eos_id) as writer:
        for ids in docs:
            writer.add(ids)
    return writer.n_tokens, writer.n_docs


def _token_dtype(dtype: np.dtype | str) -> np.dtype:
    dtype = np.dtype(dtype).newbyteorder("<")
    if dtype.itemsize not in (2, 4) or dtype.kind != "u":
        raise ValueError(f"token dtype must be uint16 or uint32, got {dtype}")
    return dtype


def _index_header(dtype: np.dtype, n_docs: int) -> bytes:
    return MAGIC + np.array([dtype.itemsize, n_docs], dtype="<u8").tobytes()


def _read_header(idx: Location) -> tuple[int, int]:
    """(item size, documents) of a token index."""
    with idx.open_read() as fh:
        header = fh.read(_HEADER)
    if len(header) < _HEADER or header[:8] != MAGIC:
        raise ValueError(f"{idx} is not a dapt token index (bad magic)")
    itemsize, n_docs = np.frombuffer(header[8:], dtype="<u8")
    return int(itemsize), int(n_docs)


def concat_token_files(parts: Sequence[str | Path | Location], stem: str | Path | Location, dtype: np.dtype | str,
                       tmp_dir: str | Path | Location | None = None, block: int = 1 << 20) -> tuple[int, int]:
    """Joins token files end to end into one (documents in part order), streaming: memory stays at
    one block whatever the sizes; returns (tokens, documents). No parts gives an empty file."""
    dtype = _token_dtype(dtype)
    pairs = [token_locations(p) for p in parts]
    headers = [_read_header(idx) for _, idx in pairs]
    for (_, idx), (itemsize, _) in zip(pairs, headers):
        if itemsize != dtype.itemsize:
            raise ValueError(f"{idx} holds {itemsize}-byte tokens, not {dtype.itemsize}-byte {dtype}")
    n_docs = sum(n for _, n in headers)
    final_bin, final_idx = token_locations(stem)
    staged = _Staged([final_bin, final_idx], tmp_dir)
    base = 0
    try:
        with staged.tmps[0].open_write() as out_bin, staged.tmps[1].open_write() as out_idx:
            out_idx.write(_index_header(dtype, n_docs))
            out_idx.write(np.zeros(1, dtype="<i8").tobytes())
            step = block - block % 8
            for (bin_loc, idx_loc), (_, n) in zip(pairs, headers):
                with idx_loc.open_read() as fh:
                    fh.read(_HEADER + 8)  # the header, then the part's first offset (0)
                    left, last = 8 * n, 0
                    while left:
                        chunk = np.frombuffer(fh.read(min(step, left)), dtype="<i8")
                        if not chunk.size:
                            raise ValueError(f"{idx_loc} ends before its {n} documents")
                        out_idx.write((chunk + base).astype("<i8").tobytes())
                        left -= 8 * chunk.size
                        last = int(chunk[-1])
                copied = 0
                with bin_loc.open_read() as fh:
                    for data in iter(lambda: fh.read(block), b""):  # noqa: B023 - fh is this loop's file
                        out_bin.write(data)
                        copied += len(data)
                if copied != last * dtype.itemsize:
                    raise ValueError(f"{bin_loc} holds {copied} bytes, its index says {last * dtype.itemsize}")
                base += last
    except BaseException:
        staged.discard()
        raise
    staged.commit()
    return base, n_docs


class TokenFile:
    """Read-only, memory-mapped view of a token file: ``tokens`` (flat array) and ``offsets``."""

    def __init__(self, stem: str | Path) -> None:
        self.bin_path, self.idx_path = token_paths(stem)
        if not self.idx_path.is_file() or not self.bin_path.is_file():
            raise FileNotFoundError(f"token file {self.bin_path} / {self.idx_path} not found")
        with open(self.idx_path, "rb") as fh:
            header = fh.read(_HEADER)
        if len(header) < _HEADER or header[:8] != MAGIC:
            raise ValueError(f"{self.idx_path} is not a dapt token index (bad magic)")
        itemsize, n_docs = np.frombuffer(header[8:], dtype="<u8")
        self.dtype = np.dtype("<u2") if int(itemsize) == 2 else np.dtype("<u4")
        self.offsets = np.memmap(self.idx_path, dtype="<i8", mode="r", offset=_HEADER, shape=(int(n_docs) + 1,))
        n_tokens = int(self.offsets[-1])
        expected = n_tokens * self.dtype.itemsize
        actual = self.bin_path.stat().st_size
        if actual != expected:
            raise ValueError(f"{self.bin_path} holds {actual} bytes, its index says {expected}")
        # np.memmap cannot map an empty file; an empty source is an empty array.
        if n_tokens:
            mm = np.memmap(self.bin_path, dtype=self.dtype, mode="r", shape=(n_tokens,))
            # A plain ndarray view over the map: slicing it is several times cheaper than slicing np.memmap.
            self.tokens = np.asarray(mm)
        else:
            self.tokens = np.zeros(0, dtype=self.dtype)

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[0])

    def __len__(self) -> int:
        return self.n_docs

    def doc(self, i: int, with_eos: bool = False) -> np.ndarray:
        """The token ids of document ``i`` (without its trailing EOS unless asked)."""
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.tokens[start : end if with_eos else end - 1]
