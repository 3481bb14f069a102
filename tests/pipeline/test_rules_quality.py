"""Quality rules, with the published definitions as examples."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_count_words_is_split_without_the_list():
    """A huge record is counted before the size rule drops it: the count must not build a list of words."""
    import random
    import tracemalloc

    import dapt.pipeline.rules.quality as q
    from dapt.pipeline.rules.quality import count_words

    rng = random.Random(0)
    for _ in range(50):  # words cut at every kind of chunk boundary, Unicode spaces included
        text = "".join(rng.choice(["a", "bc", " ", "\u00a0", "\n", "\u3000", "é"]) for _ in range(rng.randint(0, 3000)))
        for chunk in (1, 7, 64):
            saved, q._COUNT_CHUNK = q._COUNT_CHUNK, chunk
            try:
                assert count_words(text) == len(text.split()), (chunk, text[:80])
            finally:
                q._COUNT_CHUNK = saved
    huge = "the court held that the claim was barred " * 500_000  # 20 MB, 4 M words
    tracemalloc.start()
    try:
        assert count_words(huge) == 4_000_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MiB"  # split() takes ~270 MiB for the list of words


_ANY_SPACE = "".join(chr(c) for c in range(0x3100) if chr(c).isspace())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab-1.\u00e9\u4e2d") + list(_ANY_SPACE)), max_size=60))
def test_words_of_splits_where_the_published_regex_does(text):
    # words_of became str.split() for speed; the regex \S+ it replaced is the reference.
    assert words_of(text) == re.findall(r"\S+", text)
