"""Heuristic quality rules (pure functions, no Beam): each returns None to keep or a stable drop reason."""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")


def words_of(text: str) -> list[str]:
    """Whitespace-delimited words (what Gopher counts; cheap and language-agnostic)."""
    return _WORD.findall(text)


def word_count_reason(n_words: int, min_words: int, max_words: int) -> str | None:
    """Gopher (Rae et al. 2021, App. A.1): keep documents with 50 to 100,000 words."""
    if n_words < min_words:
        return "gopher/short_doc"
    if n_words > max_words:
        return "gopher/long_doc"
    return None
