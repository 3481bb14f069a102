"""C4 line and page rules (Raffel et al. 2020 §2.2; TFDS c4_utils), the paper's list as examples."""

import pytest

from dapt.pipeline.rules.c4 import c4_clean, c4_page, count_sentences

GOOD = "The council approved the new budget on Monday after a long debate."


@pytest.mark.parametrize(
    "line, kept",
    [
        (GOOD, True),
        # "We only retained lines that ended in a terminal punctuation mark"
        ("The council approved the new budget on Monday", False),
        ('He said the vote was "a fair result."', True),
        ("Was the vote fair?", True),
        ("The debate went on and on...", False),  # an ellipsis is not a terminal mark
        # "only retained lines that contained at least three words" (TFDS: 3)
        ("Approved.", False),
        # "We removed any line with the word Javascript."
        ("Please enable JavaScript to view the comments.", False),
        # TFDS c4_utils: policy lines
        ("By using this site you agree to our terms of use.", False),
        ("This website uses cookies to improve your experience.", False),
        # Wikipedia citation markers go, the line stays when it then ends in a terminal mark
        ("The bridge opened in 1932.[3]", True),
    ],
)
def test_c4_line_rules(line, kept):
    cleaned, signals = c4_clean(line)
    assert bool(cleaned) == kept
    assert bool(signals["c4_lines_dropped"]) != kept


def test_citations_are_removed_from_kept_lines():
    assert c4_clean("The bridge opened in 1932.[3][edit]") == ("The bridge opened in 1932.", {"c4_lines_dropped": {}})


FIVE = " ".join([GOOD] * 5)


@pytest.mark.parametrize(
    "page, reason",
    [
        (FIVE, None),
        # "We discarded any page with fewer than 5 sentences"
        (" ".join([GOOD] * 4), "c4/too_few_sentences"),
        # "We removed any page where the phrase 'lorem ipsum' appeared"
        (FIVE + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "c4/lorem_ipsum"),
        # "We removed any pages that contained a curly bracket"
        (FIVE + "\nfunction f() { return 1; }", "c4/curly_bracket"),
        # every line lacks terminal punctuation: nothing survives
        ("Home\nAbout us\nProducts and services\nContact the team today", "c4/no_terminal_punct"),
    ],
)
def test_c4_page_rules(page, reason):
    cleaned, signals = c4_clean(page)
    assert c4_page(page, cleaned, signals["c4_lines_dropped"])[0] == reason


def test_c4_rules_return_their_signals_and_leave_their_inputs_alone():
    page = "Home\nAbout us\nProducts and services"
    cleaned, signals = c4_clean(page)
    dropped = signals["c4_lines_dropped"]
    assert (cleaned, dropped) == ("", {"no_terminal_punct": 3})
    assert c4_page(page, cleaned, dropped) == ("c4/no_terminal_punct", {})
    assert dropped == {"no_terminal_punct": 3}
    assert c4_page(FIVE, FIVE, {}) == (None, {"c4_sentences": 5})


def test_count_sentences():
    assert count_sentences("One. Two! Three? Four") == 3
    assert count_sentences("No end mark") == 1
    assert count_sentences("") == 0
