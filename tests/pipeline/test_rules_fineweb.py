"""FineWeb's extra rules (Penedo et al. 2024 §3.3), with its published thresholds."""

import pytest

from dapt.pipeline.curate.config import FineWebRules
from dapt.pipeline.rules.fineweb import fineweb_quality
from dapt.pipeline.rules.quality import words_of

SENTENCES = [
    "The harbour was busy from early morning until late at night during the summer.",
    "Fishing boats came in with the tide and the market opened as soon as they landed.",
    "Tourists watched from the sea wall while gulls waited for scraps near the nets.",
    "In the afternoon the ferry left for the islands with cars and bicycles on deck.",
    "By evening the restaurants along the quay were full and the lights came on.",
]


def _fineweb(text):
    return fineweb_quality(text, len(words_of(text)), **FineWebRules().model_dump(exclude={"enabled"}))[0]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("\n".join(SENTENCES), None),
        # fraction of lines ending with punctuation < 0.12
        ("\n".join(s.rstrip(".") for s in SENTENCES * 2), "fineweb/line_punct_ratio"),
        # fraction of lines of <= 30 characters > 0.67
        ("\n".join(SENTENCES[:2] + ["Home.", "News.", "Sport.", "Weather.", "Contact."]), "fineweb/short_line_ratio"),
        # fraction of characters in duplicated lines > 0.1
        ("\n".join(SENTENCES + [SENTENCES[0]]), "fineweb/dup_line_chars"),
        # list-like: newlines / words > 0.3
        ("\n".join(f"Refurbished smartphone-lot-number-{i:04d}." for i in range(40)) + "\n" + SENTENCES[0],
         "fineweb/list_like"),
        ("", "fineweb/empty"),
    ],
)
def test_fineweb_quality(text, reason):
    assert _fineweb(text) == reason


def test_fineweb_quality_returns_the_ratios_it_measured():
    text = "\n".join(SENTENCES + SENTENCES[:1])
    reason, found = fineweb_quality(text, len(words_of(text)), **FineWebRules().model_dump(exclude={"enabled"}))
    assert reason == "fineweb/dup_line_chars"  # one of six lines repeated: ~16 % of the characters
    assert found["line_punct_ratio"] == 1.0 and found["short_line_ratio"] == 0.0
    assert 0.15 < found["dup_line_chars_ratio"] < 0.18
    assert found["newline_word_ratio"] == round(5 / len(words_of(text)), 4)
