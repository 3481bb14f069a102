"""Language identification with py3langid (its Naive Bayes model ships inside the PyPI package: no download)."""

from __future__ import annotations

from collections.abc import Collection

# The first 1,500 characters (~250 words) give a stable decision and bound the cost (py3langid scores byte
# n-grams in a Python loop: ~2 ms per 1,000 characters).
MAX_CHARS = 1_500


class LanguageIdentifier:
    """Wraps py3langid's identifier with calibrated probabilities; build once per worker (DoFn.setup)."""

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as _LangId

        self._model = _LangId.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the most likely language of ``text``."""
        lang, score = self._model.classify(text[:MAX_CHARS])
        return lang, float(score)


def language_reason(lang: str, score: float, languages: Collection[str], threshold: float) -> str | None:
    """None when ``lang`` is wanted with at least ``threshold`` probability, else the drop reason.

    An empty ``languages`` keeps every language (a multilingual source).
    """
    if not languages:
        return None
    if lang not in languages:
        return "language/unwanted"
    if score < threshold:
        return "language/low_score"
    return None
