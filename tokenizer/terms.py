"""Default domain term lists for the tokenizer report's split table (configurable in tokenizer.report.terms).

Chosen as terms a domain reader meets daily and a general web vocabulary tends to shred: Latin legal
maxims and citation forms, clinical abbreviations and drug names, accounting and market vocabulary.
"""

from __future__ import annotations

DEFAULT_TERMS: dict[str, tuple[str, ...]] = {
    "legal": (
        "res judicata",
        "mens rea",
        "habeas corpus",
        "certiorari",
        "indemnification",
        "tortfeasor",
        "promissory estoppel",
        "subrogation",
        "plaintiff",
        "hereinafter",
        "notwithstanding",
        "§ 1983(a)(2)",
    ),
    "medical": (
        "myalgia",
        "hypertension",
        "tachycardia",
        "acetaminophen",
        "metformin",
        "contraindicated",
        "thrombocytopenia",
        "gastroesophageal",
        "qid",
        "5 mg/kg q6h",
        "Sig: 1 tab po qid pc & hs",
        "dyspnea",
    ),
    "financial": (
        "EBITDA",
        "amortization",
        "dividends",
        "debentures",
        "shareholders",
        "year-over-year",
        "liquidity",
        "collateralized",
        "basis points",
        "$1,234.56",
        "10-K",
        "securities",
    ),
}
