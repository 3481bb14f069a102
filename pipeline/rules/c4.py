"""C4 line and page rules (Raffel et al. 2020, §2.2; TFDS ``c4_utils.py``), pure functions.

The line rules *clean* a page (they drop lines); the page rules drop the whole page. Each returns its
result and the signals it computed (a dict for the document's record); neither writes into its input.
The bad-words list
rule is left out: it needs a download, and domain text (anatomy, criminal law) trips it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# TFDS c4_utils: Wikipedia-style citation markers are removed before the line checks.
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
# C4: "we only retained lines that ended in a terminal punctuation mark (i.e. a period, exclamation mark,
# question mark, or end quotation mark)".
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’")
# TFDS c4_utils: lines mentioning these policy phrases are boilerplate.
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
# A sentence ends at . ! or ? followed by a space or the end of the line (a cheap stand-in for the punkt
# tokenizer TFDS uses; it does not split "Dr. Smith" correctly but only counts have to be close).
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


def count_sentences(line: str) -> int:
    """Number of sentence ends in a line (at least 1 for a non-empty line)."""
    return max(len(_SENTENCE_END.findall(line)), 1 if line.strip() else 0)


def c4_clean(
    text: str,
    *,
    terminal_punct: bool = True,
    min_words_per_line: int = 3,
    max_word_length: int = 1000,
    remove_javascript: bool = True,
    remove_policy: bool = True,
    remove_citations: bool = True,
) -> tuple[str, dict[str, Any]]:
    """C4's line filter: the page with the failing lines removed (empty when none survive), and
    ``{"c4_lines_dropped": {rule: lines}}`` (rules that dropped none left out)."""
    kept: list[str] = []
    dropped = {"no_terminal_punct": 0, "few_words": 0, "long_word": 0, "javascript": 0, "policy": 0}
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        words = line.split()
        # A line no longer than the limit cannot hold a longer word: skips the per-word scan almost always.
        if max_word_length and len(line) > max_word_length and any(len(w) > max_word_length for w in words):
            dropped["long_word"] += 1
            continue
        if remove_citations:
            line = CITATION.sub("", line).rstrip()
        if terminal_punct and (not line.endswith(TERMINAL_PUNCTUATION) or line.endswith("...")):
            dropped["no_terminal_punct"] += 1
            continue
        if len(words) < min_words_per_line:
            dropped["few_words"] += 1
            continue
        lower = line.lower()
        if remove_javascript and "javascript" in lower:
            dropped["javascript"] += 1
            continue
        if remove_policy and any(p in lower for p in POLICY_SUBSTRINGS):
            dropped["policy"] += 1
            continue
        kept.append(line)
    return "\n".join(kept), {"c4_lines_dropped": {k: v for k, v in dropped.items() if v}}


def c4_page(
    original: str,
    cleaned: str,
    lines_dropped: Mapping[str, int],
    *,
    min_sentences: int = 5,
    lorem_ipsum: bool = True,
    curly_bracket: bool = True,
) -> tuple[str | None, dict[str, Any]]:
    """C4's page rules on the page before (bracket, lorem ipsum) and after (sentences) line cleaning:
    the drop reason (None: keep) and ``{"c4_sentences": n}`` once sentences are counted.
    ``lines_dropped`` is what c4_clean dropped (it names the reason when no line is left)."""
    lower = original.lower()
    if lorem_ipsum and "lorem ipsum" in lower:
        return "c4/lorem_ipsum", {}
    if curly_bracket and "{" in original:
        return "c4/curly_bracket", {}
    if not cleaned:
        if lines_dropped and max(lines_dropped, key=lines_dropped.get) == "no_terminal_punct":
            return "c4/no_terminal_punct", {}
        return "c4/no_lines_left", {}
    sentences = sum(count_sentences(line) for line in cleaned.split("\n"))
    return ("c4/too_few_sentences" if sentences < min_sentences else None), {"c4_sentences": sentences}
