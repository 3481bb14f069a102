"""FineWeb's extra quality rules (Penedo et al. 2024, "The FineWeb Datasets", §3.3; datatrove
``FineWebQualityFilter``), pure functions."""

from __future__ import annotations

from typing import Any

from dapt.pipeline.rules.gopher import duplicate_fraction

# Lines "ending in punctuation" for FineWeb: datatrove's TERMINAL_PUNCTUATION for Latin and CJK text, plus
# closing quotes after a sentence and the ellipsis character.
STOP_CHARS = (".", "!", "?", "…", "。", "！", "？", '"', "”")


def fineweb_quality(
    text: str,
    n_words: int,
    *,
    min_line_punct_ratio: float | None = 0.12,
    max_short_line_ratio: float | None = 0.67,
    short_line_length: int = 30,
    max_dup_line_char_ratio: float | None = 0.1,
    max_newline_word_ratio: float | None = 0.3,
) -> tuple[str | None, dict[str, Any]]:
    """Line punctuation ratio, short-line ratio, duplicated-line characters and list-like pages: the drop reason
    (None: keep) and the four ratios measured."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return "fineweb/empty", {}
    punct = sum(line.rstrip().endswith(STOP_CHARS) for line in lines) / len(lines)
    short = sum(len(line) <= short_line_length for line in lines) / len(lines)
    dup_chars = duplicate_fraction(lines)[1] / max(len(text) - text.count("\n"), 1)
    newline_ratio = text.count("\n") / max(n_words, 1)
    found = {"line_punct_ratio": round(punct, 4), "short_line_ratio": round(short, 4),
             "dup_line_chars_ratio": round(dup_chars, 4), "newline_word_ratio": round(newline_ratio, 4)}
    if min_line_punct_ratio is not None and punct < min_line_punct_ratio:
        return "fineweb/line_punct_ratio", found
    if max_short_line_ratio is not None and short > max_short_line_ratio:
        return "fineweb/short_line_ratio", found
    if max_dup_line_char_ratio is not None and dup_chars > max_dup_line_char_ratio:
        return "fineweb/dup_line_chars", found
    if max_newline_word_ratio is not None and newline_ratio > max_newline_word_ratio:
        return "fineweb/list_like", found
    return None, found
