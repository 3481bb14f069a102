"""Line-level boilerplate removal: the pure helpers and the LineDedup transform."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.pipeline.documents import Document
from dapt.pipeline.rules.lines import line_key, line_keys, normalize_line, remove_lines
from dapt.pipeline.select.config import LineDedupConfig
from dapt.pipeline.select.dedup import LineDedup


@pytest.mark.parametrize(
    "a, b",
    [("© 2021 Acme Ltd.", "© 2023  acme ltd."), ("Home | News", "  home | news  "), ("Page 1 of 9", "page 3 of 4")],
)
def test_lines_equal_after_ccnet_normalisation(a, b):
    assert normalize_line(a) == normalize_line(b)
    assert line_key(a) == line_key(b)


def test_blank_lines_have_no_key_and_repeats_in_one_doc_count_once():
    assert line_key("   ") is None
    assert len(line_keys("a\n\nb\na\n")) == 2


def test_remove_lines_accounts_every_word():
    text = "Skip to main content\nThe court held the lease valid.\nAll rights reserved."
    frequent = {line_key("skip to main content"), line_key("all rights reserved.")}
    out, n_lines, n_words = remove_lines(text, frequent)
    assert out == "The court held the lease valid."
    assert (n_lines, n_words) == (2, 7)
    assert len(out.split()) + n_words == len(text.split())
    assert remove_lines(text, set()) == (text, 0, 0)


def _page(i: int, body_words: int = 12) -> str:
    # Letters, not digits: CCNet normalisation maps every digit to 0, so "story1" and "story2" would be one line.
    body = " ".join(f"story{'abcdefghij'[i]}{'abcdefghijklmnop'[k]}" for k in range(body_words))
    return f"Home | News | Contact\n{body}\nShare this article: Facebook | Twitter"


def test_line_dedup_removes_lines_in_more_than_k_docs_of_a_source_only():
    docs = [Document(id=f"p{i}", text=_page(i), source="web", domain="general") for i in range(4)]
    docs.append(Document(id="q0", text=_page(9), source="blog", domain="general"))  # same lines, other source
    docs.append(Document(id="nav", text="Home | News | Contact\nok", source="web", domain="general"))
    docs.append(Document(id="law", text=_page(7), source="laws", domain="legal"))  # legal: not line-deduped
    with TestPipeline() as p:
        out = p | beam.Create(docs) | LineDedup(LineDedupConfig(max_docs=3, min_words_after=5))
        assert_that(
            out["kept"] | beam.Map(lambda d: (d.id, len(d.text.split("\n")))),
            equal_to([("p0", 1), ("p1", 1), ("p2", 1), ("p3", 1), ("q0", 3), ("law", 3)]),
            label="kept",
        )
        assert_that(out["boilerplate_only"] | "B" >> beam.Map(lambda d: d.id), equal_to(["nav"]), label="emptied")
        assert_that(out["lines"], equal_to([("web", 2)]), label="lines")
