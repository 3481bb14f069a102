"""The token file format: one flat, memory-mappable token array per source plus a document index.

``<stem>.bin`` holds the token ids of every document back to back, each document followed by the
EOS id (so packing across documents keeps the boundaries, as in GPT-2/Megatron pre-training), as
little-endian ``uint16`` when the vocabulary fits in 16 bits and ``uint32`` otherwise.
``<stem>.idx`` is self-describing, so a reader needs no manifest:

    8 bytes  magic  b"DAPTIDX1"
    8 bytes  uint64 item size of the .bin tokens (2 or 4)
    8 bytes  uint64 number of documents n
    8*(n+1)  int64  document start offsets into .bin (the last one is the total token count)

Writers go through a temporary name and rename at the end, so a crashed job never leaves a file
that looks complete. Pretraining imports :class:`TokenFile` from here; the format lives only here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAGIC = b"DAPTIDX1"
_HEADER = 24  # magic + item size + doc count


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab <= 65,535, ids 0..65,534), else uint32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype("<u2") if vocab_size <= 65535 else np.dtype("<u4")


def token_paths(stem: str | Path) -> tuple[Path, Path]:
    """The (.bin, .idx) pair of a token file stem such as ``tokens/train/legal``."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".bin"), stem.with_name(stem.name + ".idx")


class TokenFileWriter:
    """Appends documents (token id sequences) to a token file; EOS is added after each document."""

    def __init__(self, stem: str | Path, dtype: np.dtype | str, eos_id: int) -> None:
        self.dtype = np.dtype(dtype).newbyteorder("<")
        if self.dtype.itemsize not in (2, 4) or self.dtype.kind != "u":
            raise ValueError(f"token dtype must be uint16 or uint32, got {self.dtype}")
        if not 0 <= eos_id <= np.iinfo(self.dtype).max:
            raise ValueError(f"eos_id {eos_id} does not fit in {self.dtype}")
        self.eos_id = int(eos_id)
        self.bin_path, self.idx_path = token_paths(stem)
        self.bin_path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_bin = self.bin_path.with_name(self.bin_path.name + ".tmp")
        self._fh = open(self._tmp_bin, "wb")  # noqa: SIM115 - closed in close()
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
        """Finishes both files atomically; returns (tokens, documents)."""
        self._fh.close()
        offsets = np.asarray(self._offsets, dtype="<i8")
        tmp_idx = self.idx_path.with_name(self.idx_path.name + ".tmp")
        with open(tmp_idx, "wb") as fh:
            fh.write(MAGIC)
            fh.write(np.array([self.dtype.itemsize, self.n_docs], dtype="<u8").tobytes())
            fh.write(offsets.tobytes())
        os.replace(self._tmp_bin, self.bin_path)
        os.replace(tmp_idx, self.idx_path)
        return self.n_tokens, self.n_docs

    def __enter__(self) -> TokenFileWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:  # leave no half-written file behind
            self._fh.close()
            self._tmp_bin.unlink(missing_ok=True)


def write_token_file(stem: str | Path, docs: Sequence[Sequence[int]], dtype: np.dtype | str, eos_id: int) -> tuple[int, int]:
    """Writes a whole token file at once; returns (tokens, documents)."""
    with TokenFileWriter(stem, dtype, eos_id) as writer:
        for ids in docs:
            writer.add(ids)
    return writer.n_tokens, writer.n_docs


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
