"""HTML main-text extraction: one function for curate and the quality stage, both extractors, broken pages
counted and skipped, never a crash."""

from __future__ import annotations

import gzip
import json
import logging
import random

import pytest

from dapt.pipeline.curate.extract import (
    CASCADE_MIN_WORDS, EXTRACTORS, NO_MAIN_TEXT, extract_main_text, looks_like_html,
)
from dapt.pipeline.select.config import QualityModelConfig
from dapt.pipeline.select.quality_model import load_texts, train_quality_model

ARTICLE = (
    "The river rises in the hills to the north of the town and flows slowly through farmland before it "
    "reaches the sea. In spring the water is high and cold, and the farmers wait for it to fall before they "
    "plant their fields. Most of the old mills along its banks have been turned into houses, but one still "
    "grinds flour for the bakery in the square."
)
PAGE = f"""<!DOCTYPE html><html><head><title>River walk</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/contact">Contact</a></nav>
<article><h1>The river walk</h1><p>{ARTICLE}</p>
<p>Visitors come in summer to walk the path that follows the water from the bridge to the harbour.</p></article>
<footer>© 2024 Town Guide. All rights reserved.</footer></body></html>"""

# Pages a crawl really holds: cut mid-tag, binary behind an HTML content type, a lone surrogate from a
# JSON-escaped dump, markup without text, nesting far deeper than any parser's tree limit.
BROKEN = {
    "empty": "",
    "blank": "  \n\t ",
    "no_text": "<html><body><div><span></span></div></body></html>",
    "cut_mid_tag": PAGE[: PAGE.index("<article>") + 5],
    "binary": bytes(random.Random(0).randrange(256) for _ in range(4000)),
    "binary_as_text": bytes(random.Random(1).randrange(256) for _ in range(4000)).decode("latin-1"),
    "lone_surrogate": "<html><body><p>\ud800 broken</p></body></html>",
    "deep_nesting": "<html><body>" + "<table><tr><td>" * 3000 + "cell</body></html>",
    # resiliparse alone spends minutes on this one (quadratic in depth); it must come back in well under one.
    "deep_divs": "<html><body>" + "<div>" * 40_000 + ARTICLE + "</body></html>",
}


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_main_text_without_boilerplate(extractor):
    result = extract_main_text(PAGE, extractor)
    assert result.reason is None and "grinds flour for the bakery" in result.text
    assert "All rights reserved" not in result.text
    assert "grinds flour" in extract_main_text(PAGE.encode("utf-8"), extractor).text  # bytes too


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_page_gives_text_or_a_reason_never_a_raise(extractor, name):
    result = extract_main_text(BROKEN[name], extractor)
    assert (result.text is None) == (result.reason is not None)
    if name in ("empty", "blank", "no_text"):
        assert result.reason == NO_MAIN_TEXT


def test_unknown_extractor_names_the_valid_ones():
    with pytest.raises(ValueError, match="trafilatura, resiliparse"):
        extract_main_text(PAGE, "boilerpipe")


@pytest.mark.parametrize("text, expected", [
    ("<!DOCTYPE html><html>", True), ("\ufeff  <html lang='en'>", True), (b"\n<!doctype HTML>", True),
    ("<p>a paragraph</p>", False), ("plain text about <html> tags", False), ("", False),
])
def test_looks_like_html(text, expected):
    assert looks_like_html(text) is expected


def _write(path, records):
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    return path


def test_broken_pages_in_quality_references_are_skipped_and_counted(tmp_path, caplog):
    """The quality stage reads reference HTML through the same function: broken pages are skipped with a
    count per reason (as curate drops them), and training goes on."""
    words = "the court held that the contract was valid and the parties agreed to the terms".split()
    junk = "click here buy now free shipping cookie login sign up best price deal subscribe".split()
    rng = random.Random(3)

    def page(vocab):
        return f"<html><body><article><p>{' '.join(rng.choice(vocab) for _ in range(60))}</p></article></body></html>"

    pos = _write(tmp_path / "pos.jsonl.gz", [{"id": i, "html": page(words)} for i in range(30)])
    broken = [{"id": f"b{name}", "html": html} for name, html in BROKEN.items() if isinstance(html, str)]
    neg = _write(tmp_path / "neg.jsonl.gz", [{"id": i, "html": page(junk)} for i in range(30)] + broken
                 + [{"id": "t", "text": BROKEN["no_text"]}])  # an HTML page in the text field is extracted too
    with caplog.at_level(logging.WARNING, logger="dapt.pipeline.select.quality_model"):
        texts = load_texts([neg], max_docs=100, seed=0)
    assert len(texts) == 30 and all("<" not in t for t, _ in texts)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and f"page(s) {NO_MAIN_TEXT}" in skipped[0]

    summary = train_quality_model(QualityModelConfig(n_features=1 << 10), [pos], [neg], tmp_path / "q.npz")
    assert summary["negative_docs"] == 30


def test_cascade_keeps_resiliparse_on_a_full_page_and_asks_trafilatura_on_a_thin_one():
    full = extract_main_text(PAGE, "cascade").text
    assert full == extract_main_text(PAGE, "resiliparse").text and len(full.split()) >= CASCADE_MIN_WORDS
    thin = "<html><body><div class='post'><p>The council meets on Tuesday at noon in the hall.</p></div></body></html>"
    assert extract_main_text(thin, "cascade").text == extract_main_text(thin, "trafilatura").text
