"""The rule chain of one document (pure Python, no Beam): normalize, then each rule in order.

The first failing rule decides the document's single drop reason; the signals every rule computed on the
way are returned so they can be stored with kept documents and audited on rejected ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.curate.config import RuleConfig
from pipeline.rules.language import LanguageIdentifier, language_reason
from pipeline.rules.normalize import normalize_text
from pipeline.rules.quality import word_count_reason, words_of


@dataclasses.dataclass
class Outcome:
    """What the chain decided: the cleaned text, a drop reason (None = keep) and the signals computed."""

    text: str
    reason: str | None
    signals: dict[str, Any]


def apply_rules(text: str, rules: RuleConfig, langid: LanguageIdentifier) -> Outcome:
    """Normalizes ``text`` and runs the rules in order; stops at the first failure."""
    text = normalize_text(text)
    signals: dict[str, Any] = {}
    words = words_of(text)
    signals["words"] = len(words)
    reason = word_count_reason(len(words), rules.min_words, rules.max_words)
    if reason:
        return Outcome(text, reason, signals)
    lang, score = langid.classify(text)
    signals["language"], signals["language_score"] = lang, round(score, 4)
    reason = language_reason(lang, score, rules.languages, rules.language_threshold)
    return Outcome(text, reason, signals)
