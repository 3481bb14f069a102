"""Normalization rules: NFC, whitespace and control characters."""

import unicodedata

import pytest

from pipeline.rules.normalize import normalize_text


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
