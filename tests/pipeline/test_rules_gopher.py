"""Gopher quality and repetition rules (Rae et al. 2021, App. A.1.1 and Table A1), definitions as examples."""

import numpy as np
import pytest

from dapt.pipeline.curate.config import GopherQualityRules, GopherRepetitionRules
from dapt.pipeline.rules.gopher import (
    duplicate_fraction,
    duplicate_ngram_char_fraction,
    gopher_quality,
    gopher_repetition,
    top_ngram_char_fraction,
)
from dapt.pipeline.rules.quality import non_alpha_words, symbol_words, words_of

PROSE = (
    "The river rises in the hills to the north of the town and flows slowly through farmland before it "
    "reaches the sea. In spring the water is high and cold, and the farmers wait for it to fall before they "
    "plant their fields. Most of the old mills along its banks have been turned into houses, but one still "
    "grinds flour for the bakery in the square. Visitors come in summer to walk the path that follows the "
    "water from the bridge to the harbour, and the cafes stay open late."
)


def _quality(text, **overrides):
    cfg = GopherQualityRules(**overrides)
    args = cfg.model_dump(exclude={"enabled", "min_words", "max_words"})
    return gopher_quality(text, words_of(text), **args)


@pytest.mark.parametrize(
    "text, reason",
    [
        (PROSE, None),
        # "mean word length is outside the range of 3 to 10 characters"
        ("a b c d e f g h i j k l m n o p q r s t u v w x y z the and of to " * 3, "gopher/mean_word_length_low"),
        (" ".join(["internationalization", "counterrevolutionary", "the", "of"] * 20),
         "gopher/mean_word_length_high"),
        # "symbol-to-word ratio greater than 0.1 for either the hash symbol or the ellipsis"
        (PROSE + " #sale #deal #free #win #now #cheap #best #top #hot #new #buy", "gopher/too_many_hashes"),
        (PROSE.replace(" the ", " the ... "), "gopher/too_many_ellipsis"),
        # "more than 90 % of lines starting with a bullet point"
        ("\n".join(f"• {line}" for line in PROSE.split(". ")), "gopher/too_many_bullets"),
        # "more than 30 % ending with an ellipsis"
        ("\n".join(f"{line}..." for line in PROSE.split(". ")), "gopher/too_many_end_ellipsis"),
        # "80 % of words in a document contain at least one alphabetic character"
        (PROSE + " 12 34 56 78 90 11 22 33 44 55 66 77 88 99 10 20 30 40 50 60 70 80 90 15 25", "gopher/few_alpha_words"),
        # the stop-word filter: at least two of the, be, to, of, and, that, have, with
        ("Quick brown foxes jump over lazy dogs while farmers watch from porches near old barns. " * 6,
         "gopher/few_stop_words"),
    ],
)
def test_gopher_quality(text, reason):
    assert _quality(text)[0] == reason


def test_gopher_quality_signals_and_switches():
    reason, signals = _quality(PROSE)
    assert reason is None
    assert 3 < signals["mean_word_length"] < 10 and signals["stop_words"] >= 2
    # A None threshold switches a check off.
    text = "a b c d e f g h i j k l m n o p q r s t u v w x y z the and of to " * 3
    assert _quality(text, min_mean_word_length=None)[0] is None


def test_extra_stop_words_count_beside_gophers_eight():
    wire = "Dataware Holdings Inc said it purchased Learnmark Inc, a software training company in Albany. " * 6
    assert _quality(wire)[0] == "gopher/few_stop_words"
    reason, signals = _quality(wire, extra_stop_words=["a", "In", "it"])  # case does not matter
    assert reason is None and signals["stop_words"] == 3
    # A word only counts whole ("a" is not found inside "Albany").
    assert _quality("Albany Alabama " * 30, extra_stop_words=["a"], min_mean_word_length=None)[1]["stop_words"] == 0


def test_word_helpers():
    text = "Sig: 1 tab po qid pc & hs -- § 1983 (2012) café"
    assert symbol_words(text) == ["&", "--", "§"]
    assert non_alpha_words(text) == 6  # 1, &, --, §, 1983, (2012)


def _repetition(text, **overrides):
    cfg = GopherRepetitionRules(**overrides)
    return gopher_repetition(text, words_of(text), **cfg.model_dump(exclude={"enabled"}))


LINES = PROSE.split(". ")


@pytest.mark.parametrize(
    "text, reason",
    [
        (PROSE, None),
        # duplicate paragraph fraction > 0.30
        ("\n\n".join([LINES[0], LINES[1], LINES[0], LINES[0]]), "gopher_rep/dup_para_frac"),
        # duplicate line fraction > 0.30
        ("\n".join([LINES[0], LINES[1], LINES[2], LINES[0], LINES[0]]), "gopher_rep/dup_line_frac"),
        # duplicate line character fraction > 0.20 (one long line repeated once among short unique lines)
        ("\n".join([PROSE, "one two", "three four", "five six", "seven eight", PROSE]),
         "gopher_rep/dup_line_char_frac"),
        # top 2-gram character fraction > 0.20
        (PROSE + " " + "click here " * 40, "gopher_rep/top_2_gram"),
        # duplicate 5-gram character fraction > 0.15 (a sentence repeated inside one paragraph)
        (PROSE + " " + LINES[0] + " " + LINES[3] + " " + LINES[0] + " " + LINES[3], "gopher_rep/dup_5_gram"),
    ],
)
def test_gopher_repetition(text, reason):
    assert _repetition(text)[0] == reason


def test_ngram_fractions_by_hand():
    words = "a b c a b c x".split()
    hashes = np.array([hash(w) for w in words], dtype=np.int64).view(np.uint64)
    lengths = np.array([len(w) for w in words])
    n_chars = len(" ".join(words))  # 13
    # most frequent 2-gram "a b" (3 chars) twice: 6 / 13
    assert top_ngram_char_fraction(hashes, lengths, 2, n_chars) == pytest.approx(6 / 13)
    # the second "a b c" repeats the first: its 3 word characters are duplicated
    assert duplicate_ngram_char_fraction(hashes, lengths, 3, n_chars) == pytest.approx(3 / 13)
    # overlapping repeats count once: "a a a a a" has 3-gram repeats at 1 and 2 covering words 1..4
    same = np.array([hash("a")] * 5, dtype=np.int64).view(np.uint64)
    assert duplicate_ngram_char_fraction(same, np.ones(5, dtype=int), 3, 9) == pytest.approx(4 / 9)
    assert duplicate_fraction(["x", "y", "x", "x"]) == (0.5, 2)
