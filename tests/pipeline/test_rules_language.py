"""Language identification with the model shipped in py3langid."""

import pytest

from dapt.pipeline.rules.language import LanguageIdentifier, language_reason

ENGLISH = "The committee will meet on Tuesday to discuss the budget for the coming year and the new hospital."
GERMAN = "Der Ausschuss trifft sich am Dienstag, um den Haushalt für das kommende Jahr zu besprechen."
FRENCH = "Le comité se réunira mardi pour discuter du budget de l'année prochaine et du nouvel hôpital."


@pytest.fixture(scope="module")
def langid():
    return LanguageIdentifier()


@pytest.mark.parametrize("text, lang", [(ENGLISH, "en"), (GERMAN, "de"), (FRENCH, "fr")])
def test_classify(langid, text, lang):
    got, score = langid.classify(text)
    assert got == lang
    assert 0.65 <= score <= 1.0


@pytest.mark.parametrize(
    "lang, score, languages, threshold, reason",
    [
        ("en", 0.99, ["en"], 0.65, None),
        ("de", 0.99, ["en"], 0.65, "language/unwanted"),
        ("en", 0.40, ["en"], 0.65, "language/low_score"),
        ("de", 0.99, [], 0.65, None),  # no language list: multilingual source keeps everything
        ("de", 0.90, ["en", "de"], 0.65, None),
    ],
)
def test_language_reason(lang, score, languages, threshold, reason):
    assert language_reason(lang, score, languages, threshold) == reason
