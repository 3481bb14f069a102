"""Numeric tables in plain text: earnings wires, rate sheets, schedules of amounts (pure functions).

Rules written for prose misjudge them: a table's words are labels and abbreviations ("Shr 27 cts vs 29 cts",
"Net 13,555,000 vs 14,635,000"), so a language identifier guesses Nigerian Pidgin or "no language" with a low
score, and Gopher's stop-word count finds none. Measured on ../shared/corpus (bench/bench_survival.py), 828 of
the 859 Reuters-21578 wires dropped by language ID were such tables.
"""

from __future__ import annotations

import re

_DIGIT = re.compile(r"\d")
# A row is a short line: table cells, not a sentence that happens to quote a figure.
MAX_ROW_WORDS = 12
_SENTENCE_END = (".", "!", "?")


def is_numeric_row(line: str) -> bool:
    """A line of at most 12 words, with a number in it, that does not end like a sentence."""
    words = line.split()
    return (0 < len(words) <= MAX_ROW_WORDS and not line.rstrip().endswith(_SENTENCE_END)
            and _DIGIT.search(line) is not None)


def numeric_row_fraction(text: str) -> tuple[float, int]:
    """(fraction of the non-blank lines that are numeric rows, number of non-blank lines)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return 0.0, 0
    return sum(map(is_numeric_row, lines)) / len(lines), len(lines)


def is_numeric_table(text: str, min_row_fraction: float, min_lines: int) -> tuple[bool, float]:
    """(whether ``text`` is mostly a numeric table, its numeric-row fraction)."""
    frac, n_lines = numeric_row_fraction(text)
    return n_lines >= min_lines and frac >= min_row_fraction, frac
