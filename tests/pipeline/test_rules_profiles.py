"""Domain profiles (issue 15): clean domain text that the web rules drop survives its domain's profile
(repeated PDQ sections, short clauses and wires, earnings tables, rate sheets, report tables), each pinned to
the setting that keeps it; the planted web junk is still dropped in every domain."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.pipeline.curate.chain import apply_rules
from dapt.pipeline.curate.config import CurateConfig, SourceConfig
from dapt.pipeline.curate.transforms import Clean
from dapt.pipeline.documents import Document
from dapt.pipeline.rules.language import LanguageIdentifier, language_reason, letters_of
from dapt.pipeline.rules.tables import is_numeric_row, is_numeric_table

from domain_texts import (  # noqa: I001 (tests/pipeline is on sys.path, as for curate_texts)
    EARNINGS_TABLE, JUNK, LEGAL_CLAUSE, LEGAL_CLAUSE_ONE_STOP_WORD, MEDQUAD_PDQ, RATE_SHEET, REPORT_TABLE,
    REUTERS_CAPS, REUTERS_DEAL, REUTERS_DIVIDEND, REUTERS_DIVIDEND_SPELLED, REUTERS_SHORT,
)

DOMAINS = ["legal", "medical", "financial"]


@pytest.fixture(scope="module")
def langid():
    return LanguageIdentifier()


def _rules(domain, **overrides):
    cfg = CurateConfig(sources=[{"name": "s", "domain": domain, "paths": ["x"], "rules": overrides}])
    return cfg.rules_for(cfg.sources[0])


def _reason(text, domain, langid, **overrides):
    return apply_rules(text, _rules(domain, **overrides), langid).reason


# (text, domain, the reason the web rules give it, the profile setting that keeps it: undone -> that reason)
CASES = [
    (MEDQUAD_PDQ, "medical", "gopher_rep/dup_line_char_frac",
     {"gopher_repetition": {"max_dup_line_char_frac": 0.2}}),
    (MEDQUAD_PDQ, "medical", "gopher_rep/dup_line_char_frac",
     {"gopher_repetition": {"max_dup_para_char_frac": 0.2, "max_dup_line_char_frac": 0.2}}),
    (LEGAL_CLAUSE, "legal", "gopher/short_doc", {"gopher_quality": {"min_words": 50}}),
    (LEGAL_CLAUSE_ONE_STOP_WORD, "legal", "gopher/short_doc", {"gopher_quality": {"min_stop_words": 2}}),
    (REUTERS_SHORT, "financial", "gopher/short_doc", {"gopher_quality": {"min_words": 50}}),
    (REUTERS_DIVIDEND, "financial", "gopher/short_doc", {"gopher_quality": {"min_words": 50}}),
    (EARNINGS_TABLE, "financial", "language/unwanted", {"tables": {"enabled": False}}),
    # Its lines are short and hold figures, so the table rule alone would keep it too.
    (REUTERS_CAPS, "financial", "language/unwanted", {"language": {"letters_only": False}, "tables": {"enabled": False}}),
    (RATE_SHEET, "financial", "gopher/short_doc", {"gopher_quality": {"min_alpha_words_ratio": 0.5}}),
    (REPORT_TABLE, "financial", "gopher/few_alpha_words", {"gopher_quality": {"min_alpha_words_ratio": 0.5}}),
    (REUTERS_DIVIDEND_SPELLED, "financial", "gopher/short_doc", {"gopher_quality": {"extra_stop_words": []}}),
    (REUTERS_DEAL, "financial", "gopher/short_doc", {"gopher_quality": {"extra_stop_words": []}}),
]
# What undoing the setting drops it for (the second column above is the web verdict).
UNDONE = ["gopher_rep/dup_line_char_frac", "gopher_rep/dup_line_char_frac", "gopher/short_doc",
          "gopher/few_stop_words", "gopher/short_doc", "gopher/short_doc", "language/low_score",
          "language/unwanted", "gopher/few_alpha_words", "gopher/few_alpha_words", "gopher/few_stop_words",
          "gopher/few_stop_words"]


@pytest.mark.parametrize("text, domain, web_reason, undo", CASES)
def test_domain_text_survives_its_profile_and_not_the_web_rules(text, domain, web_reason, undo, langid):
    assert _reason(text, domain, langid) is None
    assert _reason(text, "general", langid) == web_reason


@pytest.mark.parametrize("case, undone", list(zip(CASES, UNDONE)))
def test_each_profile_setting_is_what_keeps_its_case(case, undone, langid):
    text, domain, _, undo = case
    assert _reason(text, domain, langid, **undo) == undone


def test_pdq_page_fails_finewebs_duplicated_line_rule_at_its_published_threshold(langid):
    assert _reason(MEDQUAD_PDQ, "medical", langid, fineweb={"max_dup_line_char_ratio": 0.1}) == "fineweb/dup_line_chars"


@pytest.mark.parametrize("domain", DOMAINS + ["general"])
@pytest.mark.parametrize("kind", sorted(JUNK))
def test_planted_web_junk_is_dropped_in_every_domain(kind, domain, langid):
    assert _reason(JUNK[kind], domain, langid) is not None


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("kind", ["non_english", "non_english_table"])
def test_non_english_text_and_tables_fail_language_id_in_every_domain(kind, domain, langid):
    assert _reason(JUNK[kind], domain, langid) == "language/unwanted"


@pytest.mark.parametrize(
    "line, row",
    [
        ("    Shr 12 cts vs 19 cts", True),
        ("Net 1,523,000 vs 1,158,000", True),
        (" us/uk     1.6180 - 1.6190", True),
        ("Automotive | $ 5,686 | $ 6,092 | $  5,228", True),
        ("    Nine mths", False),  # a label without a figure
        ("The won was set at 845.50 yesterday.", False),  # a sentence quoting a figure
        ("In March 1986, the figure stood at 2.4 pct of the workforce compared with 2.2 pct a year", False),
        ("", False),
    ],
)
def test_numeric_row(line, row):
    assert is_numeric_row(line) is row


@pytest.mark.parametrize(
    "text, table",
    [(EARNINGS_TABLE, True), (RATE_SHEET, True), (REPORT_TABLE, True), (REUTERS_SHORT, False),
     (MEDQUAD_PDQ, False), (LEGAL_CLAUSE, False), ("Shr 12 cts\nNet 369,000", False)],  # two lines: too few
)
def test_is_numeric_table(text, table):
    assert is_numeric_table(text, min_row_fraction=0.5, min_lines=3)[0] is table


@pytest.mark.parametrize(
    "lang, score, table, reason",
    [
        ("pcm", 0.15, True, None),  # a table's low score: undetermined, kept
        ("en", 0.40, True, None),
        ("de", 0.99, True, "language/unwanted"),  # a table in German is still German
        ("pcm", 0.15, False, "language/unwanted"),  # prose: unchanged
        ("en", 0.40, False, "language/low_score"),
    ],
)
def test_language_reason_on_tables(lang, score, table, reason):
    assert language_reason(lang, score, ["en"], 0.65, undetermined_ok=table) == reason


def test_letters_of_drops_figures_tickers_and_case():
    assert letters_of("SEOUL, April 8 - THE WON AT 844.30 <HNT> don't U.S.") == "seoul april the won at hnt don't u.s"


def test_letters_only_identifies_an_all_caps_wire_as_english(langid):
    assert langid.classify(REUTERS_CAPS)[0] != "en"
    lang, score = langid.classify(REUTERS_CAPS, letters_only=True)
    assert lang == "en" and score >= 0.65


def test_financial_profile_on_a_beam_pipeline(langid):
    """The profile through the curate job's rule DoFn: tables and short wires kept, junk dropped, counted."""
    docs = [Document(id=name, text=text, source="reuters", domain="financial", signals={})
            for name, text in [("table", EARNINGS_TABLE), ("dividend", REUTERS_DIVIDEND), ("rates", RATE_SHEET),
                               ("german", JUNK["non_english_table"]), ("menu", JUNK["nav_menu"])]]
    with BeamTestPipeline() as p:
        out = p | beam.Create(docs) | Clean({"reuters": _rules("financial")})
        assert_that(out.kept | "KeptIds" >> beam.Map(lambda d: (d.id, d.signals.get("numeric_table", False))),
                    equal_to([("table", True), ("dividend", True), ("rates", True)]), label="kept")
        assert_that(out.dropped | beam.MapTuple(lambda d, reason: (d.id, reason)),
                    equal_to([("german", "language/unwanted"), ("menu", "gopher/few_stop_words")]), label="dropped")
    counters = {c.key.metric.name: c.committed for c in p.result.metrics().query()["counters"]}
    assert counters["kept"] == 3
    assert counters["language/unwanted"] == 1 and counters["gopher/few_stop_words"] == 1
