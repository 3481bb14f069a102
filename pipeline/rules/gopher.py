"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", App. A.1.1, Table A1).

Pure functions over a document's text and words; each returns None (keep) or a stable reason, with the
values it measured on the way (a dict for the document's record); neither writes into its input.
Thresholds come from the caller's config; defaults there are the paper's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from dapt.pipeline.rules.ngrams import word_hash
from dapt.pipeline.rules.quality import non_alpha_words, symbol_words

# Gopher's stop-word filter: a document must contain at least two of these English words.
GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
_PARAGRAPHS = re.compile(r"\n{2,}")


@lru_cache(maxsize=16)
def _stop_word_pattern(extra: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word matcher of Gopher's stop words plus a profile's ``extra`` ones (lower case)."""
    words = sorted(GOPHER_STOP_WORDS | {w.lower() for w in extra})
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")


def gopher_quality(
    text: str,
    words: list[str],
    *,
    min_mean_word_length: float | None,
    max_mean_word_length: float | None,
    max_symbol_word_ratio: float | None,
    max_bullet_lines_ratio: float | None,
    max_ellipsis_lines_ratio: float | None,
    min_alpha_words_ratio: float | None,
    min_stop_words: int | None,
    extra_stop_words: Sequence[str] = (),
) -> tuple[str | None, dict[str, Any]]:
    """The Gopher quality filter; a None threshold switches that check off. ``extra_stop_words`` count as
    stop words beside Gopher's eight (a domain's own function words)."""
    found: dict[str, Any] = {}
    n_words = max(len(words), 1)
    symbols = symbol_words(text)
    # Mean length of the words that are not pure symbols.
    mean_len = (sum(map(len, words)) - sum(map(len, symbols))) / max(len(words) - len(symbols), 1)
    found["mean_word_length"] = round(mean_len, 3)
    if min_mean_word_length is not None and mean_len < min_mean_word_length:
        return "gopher/mean_word_length_low", found
    if max_mean_word_length is not None and mean_len > max_mean_word_length:
        return "gopher/mean_word_length_high", found

    hash_ratio = text.count("#") / n_words
    ellipsis_ratio = (text.count("...") + text.count("…")) / n_words
    found["hash_ratio"], found["ellipsis_ratio"] = round(hash_ratio, 4), round(ellipsis_ratio, 4)
    if max_symbol_word_ratio is not None and hash_ratio > max_symbol_word_ratio:
        return "gopher/too_many_hashes", found
    if max_symbol_word_ratio is not None and ellipsis_ratio > max_symbol_word_ratio:
        return "gopher/too_many_ellipsis", found

    lines = [line for line in text.split("\n") if line.strip()] or [""]
    bullets = sum(line.lstrip().startswith(("•", "-", "*", "·", "‣", "◦")) for line in lines) / len(lines)
    end_ellipsis = sum(line.rstrip().endswith(("...", "…")) for line in lines) / len(lines)
    found["bullet_lines_ratio"], found["ellipsis_lines_ratio"] = round(bullets, 4), round(end_ellipsis, 4)
    if max_bullet_lines_ratio is not None and bullets > max_bullet_lines_ratio:
        return "gopher/too_many_bullets", found
    if max_ellipsis_lines_ratio is not None and end_ellipsis > max_ellipsis_lines_ratio:
        return "gopher/too_many_end_ellipsis", found

    alpha = (len(words) - non_alpha_words(text)) / n_words
    found["alpha_words_ratio"] = round(alpha, 4)
    if min_alpha_words_ratio is not None and alpha < min_alpha_words_ratio:
        return "gopher/few_alpha_words", found

    stop = len(set(_stop_word_pattern(tuple(extra_stop_words)).findall(text.lower())))
    found["stop_words"] = stop
    if min_stop_words is not None and stop < min_stop_words:
        return "gopher/few_stop_words", found
    return None, found


def duplicate_fraction(items: list[str]) -> tuple[float, int]:
    """(fraction of items that repeat an earlier one, characters in those repeats)."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items / max(len(items), 1), dup_chars


def _ngram_keys(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """One 64-bit key per word n-gram of one document (position i covers words i..i+n-1), to group equal
    n-grams; wraps around on overflow. Not rules.ngrams.ngram_hashes (the shingles dedup and
    decontamination compare across documents): no mixing, and a text shorter than n has none."""
    h = word_hashes[: len(word_hashes) - n + 1].copy()
    for k in range(1, n):
        h *= np.uint64(1_000_003)
        h ^= word_hashes[k: len(word_hashes) - n + 1 + k]
    return h


def _groups(grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions sorted by n-gram value, the index in that order where each group of equal n-grams starts)."""
    order = np.argsort(grams)
    ranked = grams[order]
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    return order, starts


def top_ngram_char_fraction(word_hashes: np.ndarray, lengths: np.ndarray, n: int, n_chars: int) -> float:
    """Characters of the most frequent word n-gram (its words and inner spaces, at every occurrence) / all."""
    if len(word_hashes) < n:
        return 0.0
    order, starts = _groups(_ngram_keys(word_hashes, n))
    counts = np.diff(np.append(starts, len(order)))
    best = int(np.argmax(counts))
    if counts[best] < 2:
        return 0.0
    start = int(order[starts[best]])
    return (int(lengths[start:start + n].sum()) + n - 1) * int(counts[best]) / n_chars


def duplicate_ngram_char_fraction(word_hashes: np.ndarray, lengths: np.ndarray, n: int, n_chars: int) -> float:
    """Characters of words inside any repeated occurrence of a word n-gram / all characters.

    The first occurrence of an n-gram is not a repeat; overlapping repeats are counted once (a per-word
    coverage mask), as the paper asks.
    """
    n_grams = len(word_hashes) - n + 1
    if n_grams < 2:
        return 0.0
    order, starts = _groups(_ngram_keys(word_hashes, n))
    if len(starts) == n_grams:
        return 0.0  # every n-gram is distinct
    # The earliest position of each group is the original; every other position is a repeat.
    earliest = np.minimum.reduceat(order, starts)
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n_grams)))
    repeats = order[order != earliest[group]]
    # Mark words [i, i+n) of every repeat: +1 at i, -1 at i+n, then a running sum.
    size = len(word_hashes) + 1
    delta = np.bincount(repeats, minlength=size) - np.bincount(repeats + n, minlength=size)
    covered = np.cumsum(delta[:-1]) > 0
    return int(lengths[covered].sum()) / n_chars


def gopher_repetition(
    text: str,
    words: list[str],
    *,
    max_dup_line_frac: float | None,
    max_dup_para_frac: float | None,
    max_dup_line_char_frac: float | None,
    max_dup_para_char_frac: float | None,
    max_top_ngram_char_frac: dict[int, float],
    max_dup_ngram_char_frac: dict[int, float],
) -> tuple[str | None, dict[str, Any]]:
    """The Gopher repetition filter (Table A1): duplicate lines/paragraphs and repeated word n-grams."""
    found: dict[str, Any] = {}
    n_chars = max(len(text), 1)
    paragraphs = [p for p in _PARAGRAPHS.split(text.strip()) if p] if "\n\n\n" in text else text.strip().split("\n\n")
    para_frac, para_chars = duplicate_fraction(paragraphs)
    found["dup_para_frac"], found["dup_para_char_frac"] = round(para_frac, 4), round(para_chars / n_chars, 4)
    if max_dup_para_frac is not None and para_frac > max_dup_para_frac:
        return "gopher_rep/dup_para_frac", found
    if max_dup_para_char_frac is not None and para_chars / n_chars > max_dup_para_char_frac:
        return "gopher_rep/dup_para_char_frac", found
    lines = [line for line in text.strip().split("\n") if line]
    line_frac, line_chars = duplicate_fraction(lines)
    found["dup_line_frac"], found["dup_line_char_frac"] = round(line_frac, 4), round(line_chars / n_chars, 4)
    if max_dup_line_frac is not None and line_frac > max_dup_line_frac:
        return "gopher_rep/dup_line_frac", found
    if max_dup_line_char_frac is not None and line_chars / n_chars > max_dup_line_char_frac:
        return "gopher_rep/dup_line_char_frac", found

    # n-grams as combined 64-bit word hashes, vectorized with numpy: no Python loop over positions.
    # xxhash, not Python's hash(): that is salted per process (PYTHONHASHSEED), so on a cluster whose
    # workers each draw a seed, a colliding n-gram would keep a document on one worker and drop it on another.
    ids = np.fromiter(map(word_hash, words), dtype=np.uint64, count=len(words))
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    for n, limit in sorted(max_top_ngram_char_frac.items()):
        frac = top_ngram_char_fraction(ids, lengths, n, n_chars)
        found[f"top_{n}_gram_char_frac"] = round(frac, 4)
        if frac > limit:
            return f"gopher_rep/top_{n}_gram", found
    for n, limit in sorted(max_dup_ngram_char_frac.items()):
        frac = duplicate_ngram_char_fraction(ids, lengths, n, n_chars)
        found[f"dup_{n}_gram_char_frac"] = round(frac, 4)
        if frac > limit:
            return f"gopher_rep/dup_{n}_gram", found
        if frac == 0.0:
            # No repeated n-gram means no repeated longer n-gram either: the remaining checks would pass.
            break
    return None, found
