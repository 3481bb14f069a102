"""Normalization rules: NFC, whitespace and control characters."""

import unicodedata

import pytest

from dapt.pipeline.rules.normalize import dehyphenate, normalize_text, remove_boilerplate_lines


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("cafe\u0301", "caf\u00e9"),  # combining accent composed (NFC)
        ("a\u00a0b\u2009c", "a b c"),  # no-break and thin spaces become plain spaces
        ("tab\t\tand  spaces", "tab and spaces"),
        ("line one  \r\nline two\rthree", "line one\nline two\nthree"),
        ("bell\x07 and nul\x00 gone", "bell and nul gone"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("soft\u00adhyphen", "softhyphen"),
        ("para one\n\n\n\n\npara two", "para one\n\npara two"),
        ("   padded   ", "padded"),
        ("emoji \U0001F469\u200d\U0001F4BB keeps its ZWJ", "emoji \U0001F469\u200d\U0001F4BB keeps its ZWJ"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_is_idempotent_and_nfc():
    text = "Ｆｕｌｌ width\u00a0and  cafe\u0301\n\n\n\nnext"
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert unicodedata.is_normalized("NFC", once)


@pytest.mark.parametrize(
    "raw, expected",
    [
        # joined only where the document itself uses the joined word
        ("the inter-\nnational trade and international law", "the international trade and international law"),
        # the hyphenated spelling elsewhere wins: the hyphen stays, the line break goes
        ("a well-\nknown fact that is well-known", "a well-known fact that is well-known"),
        # no evidence: keep the hyphen (never glue two words wrongly)
        ("knowl-\nedge is power", "knowl-edge is power"),
        # numbers and capitalised second parts are not broken words
        ("pages 12-\n13 and Jean-\nPaul", "pages 12-\n13 and Jean-\nPaul"),
    ],
)
def test_dehyphenate(raw, expected):
    assert dehyphenate(raw) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Home | About | Contact",
        "We use cookies to improve your experience.",
        "This website uses cookies.",
        "© 2023 Acme Corp. All rights reserved.",
        "Copyright 2019 Example Media, all rights reserved",
        "Skip to main content",
        "Share on Facebook",
        "Privacy Policy | Terms of Use",
    ],
)
def test_boilerplate_lines_are_removed(line):
    text, removed = remove_boilerplate_lines(f"{line}\nThe article itself starts here.")
    assert (text, removed) == ("The article itself starts here.", 1)


@pytest.mark.parametrize(
    "line",
    [
        "The court held that cookies left on a device are personal data under the directive.",
        "All rights reserved under the treaty remain with the member states, the court said.",
        "Contact tracing began in March.",
    ],
)
def test_content_lines_stay(line):
    assert remove_boilerplate_lines(line) == (line, 0)


@pytest.mark.parametrize("text", ["plain ascii text", "caf\u00e9 na\u00efve", "a\u00a0b\u2003c", "x\u200by\ufeffz",
                                  "tab\there\x0bform\x0cfeed", "ctrl\x00\x07\x1f\x7f\x85end", "line\u2028sep"])
def test_normalize_unicode_fast_path_changes_nothing(text):
    # The regex guard only skips translate() when no character is in its tables: same output as always.
    from dapt.pipeline.rules.normalize import _DROP_CHARS, _SPACES, normalize_unicode

    expected = unicodedata.normalize("NFC", text.translate(_SPACES).translate(_DROP_CHARS))
    assert normalize_unicode(text) == expected


# A book page as Project Gutenberg stores it: prose hard-wrapped at ~70 columns, paragraphs split by blank lines.
WRAPPED_PAGE = """The mail coach was late again that winter evening, and the passengers who
had waited since four o'clock in the cold yard of the inn began to talk of
walking the last six miles to the market town before the snow closed the
road. "We shall freeze here," said the doctor, who had a patient to see.
The landlord brought out another lamp and promised them supper at least.

Nobody walked in the end. The coach came round the corner of the church at
a quarter to seven, its horses steaming and the guard shouting for the
ostler, and within ten minutes every seat inside and out had been taken by
people who had sworn an hour before that they would never travel by it."""


def test_a_hard_wrapped_page_is_reflowed_to_one_sentence_per_line():
    from dapt.pipeline.rules.normalize import unwrap_lines

    text, joined = unwrap_lines(WRAPPED_PAGE)
    assert joined == 2 and text.count("\n\n") == 1  # paragraphs kept
    lines = [line for line in text.split("\n") if line]
    assert lines[0].startswith("The mail coach") and lines[0].endswith("the snow closed the road.")
    assert lines[1] == '"We shall freeze here," said the doctor, who had a patient to see.'
    assert all(line.endswith((".", '"')) for line in lines)
    assert text.split() == WRAPPED_PAGE.split()  # the same words, only the line breaks moved


@pytest.mark.parametrize("text", [
    "- first item of a list that is long enough to look like a wrapped line of text\n"
    "- second item of the same list, also long enough to look like wrapped prose here\n"
    "- third item",
    "Shr 80 cts vs 72 cts\nNet 55,513,000 vs 48,741,000\nRevs 290.9 mln vs 264.2 mln\nAvg shrs 69,127,000",
    "Because I could not stop for Death,\nHe kindly stopped for me;\nThe carriage held but just ourselves\nAnd Immortality.",
    "The court held that the claim was barred by the statute of limitations in force.\n"
    "The plaintiff appealed the ruling to the circuit court within the thirty days allowed.\n"
    "The circuit court affirmed the judgment below and awarded costs to the defendant.",
    "| Revenue | 13,448 | 13,988 |\n| Net income of the company for the year | 1,200 | 1,150 |\n| Total | 14,648 | 15,138 |",
    "A single line of prose that goes on for a while but is never wrapped by anybody",
])
def test_lists_tables_verse_and_sentence_lines_are_left_alone(text):
    from dapt.pipeline.rules.normalize import unwrap_lines

    assert unwrap_lines(text) == (text, 0)


def test_a_wrapped_book_keeps_its_words_through_the_c4_line_rules():
    """Before unwrapping, C4's terminal-punctuation rule deleted most lines of every wrapped book (Gutenberg:
    0.8M of 5.2M words reached select in the scale study)."""
    from dapt.pipeline.curate.chain import apply_rules
    from dapt.pipeline.curate.config import CurateConfig, SourceConfig

    source = SourceConfig(name="books", domain="general", paths=["books.jsonl"], rules={"language": {"enabled": False}})
    rules = CurateConfig(sources=[source]).rules_for(source)
    page = WRAPPED_PAGE
    kept = apply_rules(page, rules, None)
    assert kept.reason is None and len(kept.text.split()) == len(page.split())
    off = rules.model_copy(update={"normalize": rules.normalize.model_copy(update={"unwrap_lines": False})})
    lost = apply_rules(page, off, None)
    assert lost.reason is not None or len(lost.text.split()) < 0.5 * len(page.split())
