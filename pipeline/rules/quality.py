"""Shared pieces of the quality rules (pure, no Beam): word splitting, symbol words, the document-size rule."""

from __future__ import annotations

import re

# ASCII and common Unicode punctuation: a "word" made only of these is a symbol, not a word (Gopher counts
# words that are not pure symbols).
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~‘’“”–—…«»•·§¶†‡°"
_SYMBOL_WORD = re.compile(r"(?<!\S)[" + re.escape(PUNCTUATION) + r"]+(?!\S)")
# A word with no letter in any script: only digits, underscores and non-word characters ("1983", "(2012)", "&").
_NON_ALPHA_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])+(?!\S)")


def words_of(text: str) -> list[str]:
    """Whitespace-delimited words (cheap and language-agnostic).

    ``str.split()`` and the regex ``\\S+`` cut at the same characters (both use ``str.isspace``); split is
    ~4x faster (bench/bench_curate.py profile).
    """
    return text.split()


_COUNT_CHUNK = 1 << 20


def count_words(text: str) -> int:
    """``len(text.split())`` without building the list: a 49 MB record split into words took ~1 GB of
    memory before the size rule could drop it. Counted per 1 M-character chunk, less the words cut in two
    at a chunk boundary."""
    if len(text) <= _COUNT_CHUNK:
        return len(text.split())
    n, cut = 0, 0
    for start in range(0, len(text), _COUNT_CHUNK):
        n += len(text[start : start + _COUNT_CHUNK].split())
        end = start + _COUNT_CHUNK
        if end < len(text) and not text[end - 1].isspace() and not text[end].isspace():
            cut += 1
    return n - cut


def symbol_words(text: str) -> list[str]:
    """The words of ``text`` made only of punctuation (found by one regex pass, not a Python loop)."""
    return _SYMBOL_WORD.findall(text)


def non_alpha_words(text: str) -> int:
    """How many words of ``text`` contain no letter (one regex pass)."""
    return sum(1 for _ in _NON_ALPHA_WORD.finditer(text))


def word_count_reason(n_words: int, min_words: int, max_words: int) -> str | None:
    """Gopher (Rae et al. 2021, App. A.1.1): keep documents with 50 to 100,000 words."""
    if n_words < min_words:
        return "gopher/short_doc"
    if n_words > max_words:
        return "gopher/long_doc"
    return None
