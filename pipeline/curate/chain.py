"""The rule chain of one document (pure Python, no Beam): normalize, then each rule in order.

The first failing rule decides the document's single drop reason; the signals every rule computed on the
way are returned so they are stored with kept documents and can be audited on rejected ones. Order:
size guard, normalize, Gopher word count, table detection (domain profiles), language, Gopher repetition, Gopher quality, C4, FineWeb, PII —
cheap checks first, and the same filter order as FineWeb's datatrove pipeline.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dapt.pipeline.curate.config import RuleConfig
from dapt.pipeline.rules.c4 import c4_clean, c4_page
from dapt.pipeline.rules.fineweb import fineweb_quality
from dapt.pipeline.rules.gopher import gopher_quality, gopher_repetition
from dapt.pipeline.rules.language import LanguageIdentifier, language_reason
from dapt.pipeline.rules.normalize import dehyphenate, normalize_text, remove_boilerplate_lines, unwrap_lines
from dapt.pipeline.rules.pii import redact_pii
from dapt.pipeline.rules.quality import symbol_words, word_count_reason, words_of
from dapt.pipeline.rules.tables import is_numeric_table


@dataclasses.dataclass
class Outcome:
    """What the chain decided: the cleaned text, a drop reason (None = keep) and the signals computed."""

    text: str
    reason: str | None
    signals: dict[str, Any]


def clean_text(text: str, rules: RuleConfig) -> tuple[str, dict[str, Any]]:
    """Normalization: always NFC / whitespace / control characters; de-hyphenation, unwrapping and boilerplate
    optional. Returns the text and what changed (paragraphs re-flowed, boilerplate lines removed)."""
    found: dict[str, Any] = {}
    text = normalize_text(text)
    if rules.normalize.dehyphenate:
        text = dehyphenate(text)
    if rules.normalize.unwrap_lines:
        text, unwrapped = unwrap_lines(text)
        if unwrapped:
            found["unwrapped_paragraphs"] = unwrapped
    if rules.normalize.boilerplate_lines:
        text, removed = remove_boilerplate_lines(text)
        if removed:
            found["boilerplate_lines"] = removed
    return text, found


def apply_rules(text: str, rules: RuleConfig, langid: LanguageIdentifier | None) -> Outcome:
    """Runs the whole chain on one document's raw text; stops at the first failing rule."""
    signals: dict[str, Any] = {}
    if len(text) > rules.max_chars:
        return Outcome(text, "size/too_long", signals)
    text, found = clean_text(text, rules)
    signals.update(found)
    words = words_of(text)
    signals["words"] = len(words)

    gq = rules.gopher_quality
    if gq.enabled:
        # Gopher counts words that are not pure symbols.
        reason = word_count_reason(len(words) - len(symbol_words(text)), gq.min_words, gq.max_words)
        if reason:
            return Outcome(text, reason, signals)
    elif not words:
        return Outcome(text, "size/empty", signals)

    table = False
    if rules.tables.enabled:
        table, row_frac = is_numeric_table(text, rules.tables.min_row_fraction, rules.tables.min_lines)
        signals["numeric_row_frac"] = round(row_frac, 4)
        if table:
            signals["numeric_table"] = True

    if rules.language.enabled:
        if langid is None:
            raise ValueError("language rules are enabled but no LanguageIdentifier was given")
        lang, score = langid.classify(text, letters_only=rules.language.letters_only)
        signals["language"], signals["language_score"] = lang, round(score, 4)
        reason = language_reason(lang, score, rules.language.languages, rules.language.threshold,
                                 undetermined_ok=table)
        if reason:
            return Outcome(text, reason, signals)

    if rules.gopher_repetition.enabled:
        rep = rules.gopher_repetition
        reason, found = gopher_repetition(
            text, words,
            max_dup_line_frac=rep.max_dup_line_frac, max_dup_para_frac=rep.max_dup_para_frac,
            max_dup_line_char_frac=rep.max_dup_line_char_frac, max_dup_para_char_frac=rep.max_dup_para_char_frac,
            max_top_ngram_char_frac=rep.max_top_ngram_char_frac, max_dup_ngram_char_frac=rep.max_dup_ngram_char_frac,
        )
        signals.update(found)
        if reason:
            return Outcome(text, reason, signals)

    if gq.enabled:
        reason, found = gopher_quality(
            text, words,
            min_mean_word_length=gq.min_mean_word_length, max_mean_word_length=gq.max_mean_word_length,
            max_symbol_word_ratio=gq.max_symbol_word_ratio, max_bullet_lines_ratio=gq.max_bullet_lines_ratio,
            max_ellipsis_lines_ratio=gq.max_ellipsis_lines_ratio, min_alpha_words_ratio=gq.min_alpha_words_ratio,
            # A table's rows hold labels and figures, not the function words of prose.
            min_stop_words=None if table else gq.min_stop_words,
            extra_stop_words=gq.extra_stop_words,
        )
        signals.update(found)
        if reason:
            return Outcome(text, reason, signals)

    if rules.c4.enabled:
        c4 = rules.c4
        cleaned, dropped = text, {}
        if c4.clean_lines:
            cleaned, found = c4_clean(
                text, terminal_punct=c4.terminal_punct, min_words_per_line=c4.min_words_per_line,
                max_word_length=c4.max_word_length, remove_javascript=c4.remove_javascript,
                remove_policy=c4.remove_policy, remove_citations=c4.remove_citations,
            )
            signals.update(found)
            dropped = found["c4_lines_dropped"]
        reason, found = c4_page(text, cleaned, dropped, min_sentences=c4.min_sentences, lorem_ipsum=c4.lorem_ipsum,
                                curly_bracket=c4.curly_bracket)
        signals.update(found)
        if reason:
            return Outcome(text, reason, signals)
        if cleaned is not text:
            text = cleaned
            words = words_of(text)

    if rules.fineweb.enabled:
        fw = rules.fineweb
        reason, found = fineweb_quality(
            text, len(words),
            min_line_punct_ratio=fw.min_line_punct_ratio, max_short_line_ratio=fw.max_short_line_ratio,
            short_line_length=fw.short_line_length, max_dup_line_char_ratio=fw.max_dup_line_char_ratio,
            max_newline_word_ratio=fw.max_newline_word_ratio,
        )
        signals.update(found)
        if reason:
            return Outcome(text, reason, signals)

    if rules.pii.enabled:
        text, counts = redact_pii(text, frozenset(rules.pii.kinds))
        if counts:
            signals["pii"] = counts
    signals["out_chars"] = len(text)
    return Outcome(text, None, signals)
