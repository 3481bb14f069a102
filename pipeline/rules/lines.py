"""Line-level dedup helpers: normalised line keys and removal of lines frequent across a source.

CCNet (Wenzek et al. 2020, §3.1) removes paragraphs repeated across documents of a shard (navigation,
cookie banners, legal notices); Dolma (Soldaini et al. 2024) does the same with a Bloom filter over
paragraphs. We count, per source, in how many documents each normalised line occurs, and drop lines
that occur in more than K documents. Normalisation follows CCNet: lower case, digits replaced by 0,
whitespace collapsed, so "© 2021 Acme" and "© 2023 Acme" are one line.
"""

from __future__ import annotations

import re
from collections.abc import Container

import xxhash

_DIGITS = re.compile(r"\d")


def normalize_line(line: str) -> str:
    """CCNet-style normal form of a line: lower case, digits -> 0, whitespace collapsed."""
    return _DIGITS.sub("0", " ".join(line.lower().split()))


def line_key(line: str) -> int | None:
    """64-bit key of a line's normal form; None for blank lines (never counted, never removed)."""
    norm = normalize_line(line)
    return xxhash.xxh64_intdigest(norm.encode("utf-8")) if norm else None


def line_keys(text: str) -> set[int]:
    """The distinct line keys of a document (a line repeated inside one document counts once)."""
    return {k for k in map(line_key, text.split("\n")) if k is not None}


def remove_lines(text: str, frequent: Container[int]) -> tuple[str, int, int]:
    """Drops lines whose key is in ``frequent``; returns (text, lines removed, whitespace words removed)."""
    kept, removed_lines, removed_words = [], 0, 0
    for line in text.split("\n"):
        key = line_key(line)
        if key is not None and key in frequent:
            removed_lines += 1
            removed_words += len(line.split())
        else:
            kept.append(line)
    if not removed_lines:
        return text, 0, 0
    return "\n".join(kept).strip("\n"), removed_lines, removed_words
