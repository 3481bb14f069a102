"""Per-domain defaults: legal citation-heavy text and medical shorthand survive in their domain (and would
be thrown away by the web rules), while web junk is dropped in every domain."""

import pytest

from dapt.pipeline.curate.chain import apply_rules
from dapt.pipeline.curate.config import CurateConfig, SourceConfig
from dapt.pipeline.rules.language import LanguageIdentifier

from domain_texts import JUNK

STATUTE = """§ 2-1402.11. Prohibitions.
(a) General. -- It shall be an unlawful discriminatory practice to do any of the following acts, wholly or partially for a discriminatory reason based upon the actual or perceived race, color, religion, national origin, sex, age, marital status, or disability of any individual:
(1) By an employer. -- To fail or refuse to hire, or to discharge, any individual; or otherwise to discriminate against any individual, with respect to compensation, terms, conditions, or privileges of employment, see D.C. Code § 2-1401.02(10) (2001); Brown v. Board of Educ., 347 U.S. 483, 495 (1954);
(2) By an employment agency. -- To fail or refuse to refer for employment, or to classify or refer for employment, any individual, see 42 U.S.C. § 2000e-2(b) (2012); Harris v. Forklift Sys., Inc., 510 U.S. 17, 21-22 (1993);
(3) By a labor organization. -- To exclude or to expel from its membership, or otherwise to discriminate against, any individual; or to limit, segregate, or classify its membership, id. § 2000e-2(c);
(b) Exceptions. -- Nothing in this section shall be construed to prohibit an employer from applying different standards of compensation pursuant to a bona fide seniority or merit system, cf. 29 U.S.C. § 623(f)(2) (2018):"""

PRESCRIPTION = """Discharge summary
Dx: community-acquired pneumonia, resolved; HTN; DM2
Rx: amoxicillin 500 mg cap
Sig: 1 tab po qid pc & hs x 10 d
Disp: #40, RF: 0
Rx: metformin 500 mg tab
Sig: 1 tab po bid with meals
Vitals: BP 128/82, HR 76, T 98.6 F, SpO2 97% RA
Pt tolerating po, ambulating w/o assist, afebrile x 48 h
F/u with PCP in 1 wk; CXR in 6 wk
Return to ED if T > 101 F, SOB, CP or confusion
Labs: WBC 8.2, Hgb 13.1, Cr 0.9, K 4.1, glucose 142"""

FILING = """Consolidated statements of operations (in millions, except per share data)
Revenue | 2019 | 2018 | 2017
Product | 41,532 | 38,114 | 35,870
Services | 12,406 | 11,025 | 9,948
Total revenue | 53,938 | 49,139 | 45,818
Cost of revenue | 21,077 | 19,455 | 18,101
Operating income | 14,201 | 12,874 | 11,346
Net income | 10,552 | 9,431 | 8,305
Diluted EPS | 2.64 | 2.31 | 2.02
Revenue increased 10% in 2019, driven by growth in the services segment and higher product volumes in the Americas.
Operating margin was 26.3% compared with 26.2% in the prior year, as lower freight costs offset higher wages."""



@pytest.fixture(scope="module")
def langid():
    return LanguageIdentifier()


def _verdict(text, domain, langid):
    rules = CurateConfig().rules_for(SourceConfig(name="s", domain=domain))
    return apply_rules(text, rules, langid).reason


@pytest.mark.parametrize("text, domain", [(STATUTE, "legal"), (PRESCRIPTION, "medical"), (FILING, "financial")])
def test_domain_text_survives_in_its_domain_but_not_under_web_rules(text, domain, langid):
    assert _verdict(text, domain, langid) is None
    assert _verdict(text, "general", langid) is not None


def test_prescription_shorthand_is_kept_verbatim(langid):
    rules = CurateConfig().rules_for(SourceConfig(name="s", domain="medical"))
    outcome = apply_rules(PRESCRIPTION, rules, langid)
    assert "Sig: 1 tab po qid pc & hs x 10 d" in outcome.text


@pytest.mark.parametrize("domain", ["legal", "medical", "financial", "general"])
@pytest.mark.parametrize("kind", sorted(JUNK))
def test_web_junk_is_dropped_in_every_domain(kind, domain, langid):
    assert _verdict(JUNK[kind], domain, langid) is not None


@pytest.mark.parametrize("domain", ["legal", "medical", "financial", "general"])
def test_c4_page_rules_stay_on_in_every_domain(domain, langid):
    assert _verdict(JUNK["lorem_ipsum"], domain, langid) == "c4/lorem_ipsum"
    assert _verdict(JUNK["script"], domain, langid) == "c4/curly_bracket"


def test_source_override_beats_domain_default(langid):
    cfg = CurateConfig(sources=[{"name": "notes", "domain": "medical", "paths": ["x"],
                                 "rules": {"gopher_quality": {"min_alpha_words_ratio": 0.8}}}])
    rules = cfg.rules_for(cfg.sources[0])
    assert apply_rules(PRESCRIPTION, rules, langid).reason == "gopher/few_alpha_words"
