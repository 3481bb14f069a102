"""Quality rules, with the published definitions as examples."""

import pytest

from dapt.pipeline.rules.quality import word_count_reason, words_of


@pytest.mark.parametrize(
    "n_words, reason",
    [(0, "gopher/short_doc"), (49, "gopher/short_doc"), (50, None), (100_000, None), (100_001, "gopher/long_doc")],
)
def test_gopher_word_count(n_words, reason):
    # Gopher (Rae et al. 2021): documents must have between 50 and 100,000 words.
    assert word_count_reason(n_words, 50, 100_000) == reason


def test_words_are_whitespace_delimited():
    assert words_of("Sig: 1 tab po qid pc & hs\n") == ["Sig:", "1", "tab", "po", "qid", "pc", "&", "hs"]
