"""Language identification with py3langid (its Naive Bayes model ships inside the PyPI package: no download)."""

from __future__ import annotations

import re
from collections.abc import Collection

# The first 1,500 characters (~250 words) give a stable decision and bound the cost (py3langid scores byte
# n-grams in a Python loop: ~2 ms per 1,000 characters).
MAX_CHARS = 1_500
# A word of letters (any script), with inner apostrophes, hyphens or dots ("don't", "co-op", "U.S").
_LETTER_WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*")


def letters_of(text: str) -> str:
    """The words of letters of ``text``, lower-cased and joined by spaces: no digits, punctuation or case.

    py3langid scores byte n-grams, so figures ("13,555,000"), tickers and an all-caps wire ("THE BANK OF
    KOREA SAID IT FIXED THE MIDRATE") pull it towards the wrong language; measured on ../shared/corpus it
    turned 1,988 Reuters-21578 drops into 859 and no confident non-English web page into English
    (bench/bench_survival.py).
    """
    return " ".join(_LETTER_WORD.findall(text)).lower()


class LanguageIdentifier:
    """Wraps py3langid's identifier with calibrated probabilities; build once per worker (DoFn.setup)."""

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as _LangId

        self._model = _LangId.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str, letters_only: bool = False) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the most likely language of ``text`` (of its letter words only
        with ``letters_only``)."""
        # Twice the window before stripping, so the letters still fill about MAX_CHARS.
        sample = letters_of(text[: 2 * MAX_CHARS])[:MAX_CHARS] if letters_only else text[:MAX_CHARS]
        lang, score = self._model.classify(sample)
        return lang, float(score)


def language_reason(
    lang: str, score: float, languages: Collection[str], threshold: float, undetermined_ok: bool = False
) -> str | None:
    """None when ``lang`` is wanted with at least ``threshold`` probability, else the drop reason.

    An empty ``languages`` keeps every language (a multilingual source). With ``undetermined_ok`` (a numeric
    table, whose words are labels) only a confident guess of an unwanted language drops the text: a score
    below ``threshold`` says the language could not be told, not that it is another one.
    """
    if not languages:
        return None
    if undetermined_ok and score < threshold:
        return None
    if lang not in languages:
        return "language/unwanted"
    if score < threshold:
        return "language/low_score"
    return None
