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
