"""Benchmark decontamination: training documents sharing a word n-gram (13, as GPT-3) with an eval example.

GPT-3 (Brown et al. 2020, App. C) flags training documents that share any 13-gram with a benchmark
example (lower-cased, punctuation-stripped words: the same tokens as MinHash shingles, from ``ngrams``).
Examples shorter than n words cannot share an n-gram and are counted as ``short_examples``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from dapt.pipeline.rules.ngrams import ngram_hashes, words


@dataclasses.dataclass
class BenchmarkIndex:
    """n-gram hash -> names of the benchmarks holding it, plus per-benchmark example counts."""

    n: int
    grams: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    examples: dict[str, int] = dataclasses.field(default_factory=dict)
    short_examples: dict[str, int] = dataclasses.field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        self.examples[name] = self.examples.get(name, 0) + 1
        toks = words(text)
        if len(toks) < self.n:
            self.short_examples[name] = self.short_examples.get(name, 0) + 1
            return
        for h in np.unique(ngram_hashes(toks, self.n)).tolist():
            names = self.grams.get(h, ())
            if name not in names:
                self.grams[h] = (*names, name)

    def hits(self, text: str) -> list[str]:
        """Sorted names of the benchmarks sharing at least one n-gram with ``text``."""
        toks = words(text)
        if len(toks) < self.n or not self.grams:
            return []
        found: set[str] = set()
        for h in np.unique(ngram_hashes(toks, self.n)).tolist():
            names = self.grams.get(h)
            if names:
                found.update(names)
        return sorted(found)


def _string_values(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _string_values(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _string_values(value)


def benchmark_texts(path: Path, fields: Iterable[str] = ()) -> Iterator[str]:
    """Example texts of a local benchmark file (see :func:`benchmark_examples`)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        yield from benchmark_examples(path.name, fh, fields)


def benchmark_examples(name: str, lines: Iterable[str], fields: Iterable[str] = ()) -> Iterator[str]:
    """Example texts of a benchmark file named ``name`` given its lines: JSONL(.gz) records (the named
    fields, or every string value joined), or plain text with one example per non-blank line."""
    fields = list(fields)
    suffixes = PurePosixPath(name).suffixes
    is_jsonl = ".jsonl" in suffixes or ".json" in suffixes
    for line in lines:
        if not line.strip():
            continue
        if not is_jsonl:
            yield line.strip()
            continue
        obj = json.loads(line)
        if fields:
            # Each named field is its own example text: a question and its answer are not one span.
            for field in fields:
                value = obj.get(field)
                yield from _string_values(value) if value is not None else ()
        else:
            yield "\n".join(_string_values(obj))
