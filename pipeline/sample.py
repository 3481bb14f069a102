"""The embedded sample corpus: a seeded generator of a small raw corpus with planted, recorded noise.

``dapt run`` starts from this corpus, so the whole chain runs offline on a laptop. Everything here is
the project's own: sentence templates and term lists written for dapt, filled by a seeded RNG.

Output (``out_dir``):
  ``<source>.jsonl.gz``  one record a line: {"id", "text", "domain", "source"} (web pages add "url");
                         sources legal, medical, financial (domain text), general (clean prose) and
                         web (domain "general", crawl-like with most of the noise).
  ``ground_truth.json``  "docs": {id: {source, line, outcome, kinds}} for every line of every file, the
                         outcome one of ``OUTCOMES``; "defects": one entry per planted defect {id, source,
                         line, kind, ...}: exact_duplicate and near_duplicate add "duplicate_of" (near
                         ones also "band" light|hard, "edit_rate", "jaccard"), boilerplate adds "lines",
                         non_english "language", junk "style", malformed "detail"; "boilerplate_lines";
                         "counts" per kind; "outcomes" per outcome.
  ``manifest.json``      stage, resolved config, file hashes, the summary.

Malformed records are written raw into the gzip stream (a line cut off mid-record, a line with invalid
UTF-8 bytes inside its text, a record without "text", a record whose "text" is not a string), so a reader
must open the files in binary, decode each line itself and dead-letter what fails.

Near-duplicates come in two bands: "light" (1-3% of words replaced, word-5-gram Jaccard with the original
at least ``near_duplicate_threshold``; expected outcome near_duplicate) and "hard" (10-30% replaced,
Jaccard far below it; expected outcome keep, there for dedup benchmarks that sweep the threshold).

Duplicates follow one convention: the original always precedes its copy in (file name, line) order.
Copies go into the same file after the original, or into ``web.jsonl.gz``, whose name sorts after
every other source's.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dapt.errors import UserError

log = logging.getLogger(__name__)

DOMAIN_SOURCES = ("legal", "medical", "financial")
SOURCES = (*DOMAIN_SOURCES, "general", "web")
SOURCE_DOMAIN = {"legal": "legal", "medical": "medical", "financial": "financial", "general": "general",
                 "web": "general"}

# Expected outcome of each document once the pipeline has run (ground_truth.json "docs"[id]["outcome"]).
OUTCOMES = ("keep", "short", "non_english", "junk", "exact_duplicate", "near_duplicate", "malformed")
MALFORMED_KINDS = ("not_json", "invalid_utf8", "missing_text", "non_string_text")
NGRAM = 5  # word 5-gram shingles, as in Lee et al. 2022 (NearDup); the Jaccard recorded in the ground truth


class SampleConfig(BaseModel):
    """How big the sample corpus is and how much noise it carries. Rates are fractions of a source's records."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    docs_per_domain: int = Field(200, ge=1, description="records in each of legal.jsonl.gz, medical…, financial…")
    general_docs: int = Field(300, ge=1, description="records in general.jsonl.gz (clean prose)")
    web_docs: int = Field(400, ge=1, description="records in web.jsonl.gz (crawl-like, noisy)")

    web_exact_duplicate_rate: float = Field(0.06, ge=0, le=1)
    web_near_duplicate_rate: float = Field(0.05, ge=0, le=1)
    web_hard_near_duplicate_rate: float = Field(0.03, ge=0, le=1)
    web_short_rate: float = Field(0.05, ge=0, le=1)
    web_non_english_rate: float = Field(0.06, ge=0, le=1)
    web_junk_rate: float = Field(0.04, ge=0, le=1)
    web_boilerplate_rate: float = Field(0.5, ge=0, le=1, description="share of clean web pages given boilerplate lines")
    web_malformed: int = Field(4, ge=0, description="malformed lines in web (cycling through the four kinds)")

    other_duplicate_rate: float = Field(0.02, ge=0, le=1, description="exact duplicates inside each non-web source")
    other_short_rate: float = Field(0.01, ge=0, le=1)
    other_malformed: int = Field(1, ge=0, description="malformed lines in each non-web source")

    # "A few percent of words changed" (light) and the 10-30% band dedup benchmarks need (hard).
    near_duplicate_edit_rate: tuple[float, float] = (0.01, 0.03)
    hard_near_duplicate_edit_rate: tuple[float, float] = (0.10, 0.30)
    # A copy is expected to be removed as a near-duplicate when its word-5-gram Jaccard with the original
    # is at least this; light copies are re-drawn until they reach it, so the two bands never blur.
    near_duplicate_threshold: float = Field(0.7, gt=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> SampleConfig:
        for name in ("near_duplicate_edit_rate", "hard_near_duplicate_edit_rate"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi < 1:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high < 1, got [{lo}, {hi}]")
        web = (self.web_exact_duplicate_rate + self.web_near_duplicate_rate + self.web_hard_near_duplicate_rate
               + self.web_short_rate + self.web_non_english_rate + self.web_junk_rate)
        if web > 0.8:
            raise ValueError(f"the web_*_rate defect rates add up to {web:.2f}; keep their sum at or below 0.8 "
                             "so most web pages stay clean")
        if self.other_duplicate_rate + self.other_short_rate > 0.5:
            raise ValueError("other_duplicate_rate + other_short_rate must be at most 0.5")
        if self.web_malformed > self.web_docs // 2:
            raise ValueError(f"web_malformed={self.web_malformed} is more than half of web_docs={self.web_docs}; "
                             "lower web_malformed or raise web_docs")
        if self.other_malformed > min(self.docs_per_domain, self.general_docs) // 2:
            raise ValueError(f"other_malformed={self.other_malformed} is more than half of the smaller of "
                             "docs_per_domain and general_docs; lower it or raise those counts")
        return self


# ----------------------------------------------------------------------------- templates and term lists
# Written for dapt. Every {slot} is filled independently; slot values are lists or functions of the RNG.


@dataclasses.dataclass(frozen=True)
class Genre:
    """Sentence templates of one kind of document and the slot fillers they draw on."""

    name: str
    templates: tuple[str, ...]
    slots: dict[str, Any]


def _money(rng: random.Random) -> str:
    return f"${rng.randint(1, 999)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}"


def _money_m(rng: random.Random) -> str:
    return f"${rng.uniform(5, 950):,.1f} million"


def _money_b(rng: random.Random) -> str:
    return f"${rng.uniform(1, 40):.2f} billion"


def _pct(rng: random.Random) -> str:
    return f"{rng.uniform(1, 45):.1f}%"


def _pct_small(rng: random.Random) -> str:
    return f"{rng.uniform(0.1, 4):.1f}%"


def _eps(rng: random.Random) -> str:
    return f"${rng.uniform(0.05, 6):.2f}"


def _int(lo: int, hi: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(lo, hi))


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2015, 2025)}"


def _ticker(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(2, 4)))
    return f"{rng.choice(('NYSE', 'NASDAQ', 'Nasdaq'))}: {letters}"


def _case(rng: random.Random) -> str:
    return (f"{rng.choice(SURNAMES)} v. {rng.choice(SURNAMES + COMPANY_STEMS)}, "
            f"{rng.randint(100, 599)} {rng.choice(('U.S.', 'F.3d', 'F.4th', 'F. Supp. 3d', 'N.E.2d', 'P.3d'))} "
            f"{rng.randint(1, 1400)} ({rng.randint(1968, 2024)})")


def _cite(rng: random.Random) -> str:
    return rng.choice((f"{rng.randint(5, 50)} U.S.C. § {rng.randint(100, 2999)}({rng.choice('abcdef')})"
                       f"({rng.randint(1, 9)})", f"§ {rng.randint(10, 999)}.{rng.randint(1, 99)}",
                       "42 U.S.C. § 1983(a)(2)", f"section {rng.randint(2, 40)}({rng.choice('abcd')}) of this Act"))


def _company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_STEMS)} {rng.choice(COMPANY_KINDS)}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
FIRST_NAMES = ["Maria", "James", "Aisha", "Daniel", "Priya", "Thomas", "Elena", "Samuel", "Grace", "Victor",
               "Hannah", "Omar", "Lucy", "Martin", "Nadia", "Oliver", "Rosa", "Peter", "Julia", "Kwame"]
SURNAMES = ["Alvarez", "Brennan", "Castillo", "Dunmore", "Eastwick", "Fairbanks", "Galloway", "Holloway",
            "Iverson", "Jarrett", "Kowalski", "Lindqvist", "Marchetti", "Norwood", "Okafor", "Pemberton",
            "Quintero", "Ramsay", "Sorensen", "Thornbury", "Underhill", "Vasquez", "Whitlock", "Yamamoto"]
COMPANY_STEMS = ["Harlow", "Meridian", "Bluestone", "Corbel", "Northgate", "Ashford", "Kestrel", "Pinecrest",
                 "Silverline", "Tidewater", "Granite Peak", "Larkspur", "Redwood", "Summit Ridge", "Halcyon",
                 "Ironbridge", "Westmark", "Brightwater"]
COMPANY_KINDS = ["Logistics, Inc.", "Holdings Corp.", "Therapeutics, Inc.", "Capital LLC", "Industries",
                 "Bancorp", "Energy Partners", "Software, Inc.", "Retail Group", "Insurance Co."]
STATES = ["Delaware", "New York", "California", "Texas", "Illinois", "Ohio", "Georgia", "Washington",
          "Massachusetts", "Colorado", "Oregon", "Minnesota"]

LEGAL_SLOTS: dict[str, Any] = {
    "cite": _cite, "case": _case, "company": _company, "person": _person, "date": _date, "money": _money,
    "state": STATES, "days": _int(10, 90), "years": _int(2, 10), "months": ["six", "twelve", "eighteen", "24"],
    "court": ["the United States District Court for the District of Delaware", "the Court of Appeals for the "
              "Ninth Circuit", "the Supreme Court of Ohio", "the Superior Court of Cook County", "the Court of "
              "Chancery", "the Court of Appeals for the Second Circuit", "the district court", "the trial court"],
    "claim": ["breach of contract", "negligence", "fraudulent misrepresentation", "tortious interference with "
              "a business relationship", "unjust enrichment", "a violation of due process", "trespass to "
              "chattels", "defamation", "strict products liability", "breach of fiduciary duty"],
    "remedy": ["compensatory damages", "specific performance", "a preliminary injunction", "rescission of the "
               "agreement", "declaratory relief", "punitive damages", "restitution", "nominal damages"],
    "standard": ["summary judgment", "the motion to dismiss for failure to state a claim", "judgment on the "
                 "pleadings", "a directed verdict", "judgment as a matter of law"],
    "agency": ["Secretary", "Commission", "Attorney General", "Department of Labor", "Board of Health",
               "Commissioner of Insurance"],
    "act": ["transfer any interest in protected land", "disclose personal information of a consumer",
            "operate a commercial vessel in restricted waters", "sell a controlled substance to a minor",
            "alter a public record", "collect a debt by means of harassment", "discharge pollutants into "
            "navigable waters"],
    "term": ["covered entity", "consumer report", "qualified individual", "public body", "dwelling unit",
             "financial institution", "protected health information"],
    "object": ["organization or trust", "record, whether written or electronic", "structure or part of a "
               "structure", "person or entity"],
    "qual": ["engaged in interstate commerce", "maintained for a lawful business purpose", "designed for "
             "human habitation", "supported in whole or in part by public funds"],
    "mental": ["knowingly and willfully", "with specific intent to defraud", "recklessly", "with criminal "
               "negligence", "purposely"],
    "party": ["Licensor", "Licensee", "Buyer", "Seller", "Contractor", "Owner", "Lender", "Borrower",
              "Company", "Consultant"],
    "agreement": ["Master Services Agreement", "Asset Purchase Agreement", "License Agreement", "Loan "
                  "Agreement", "Lease", "Supply Agreement", "Settlement Agreement"],
    "scope": ["its negligence or willful misconduct", "any breach of its representations and warranties",
              "third-party claims of infringement", "the performance of the services"],
    "event": ["fire, flood or other act of God", "war, terrorism or civil unrest", "a labor strike not "
              "involving the affected party", "an epidemic or government order"],
    "city": ["New York", "Chicago", "Wilmington", "San Francisco", "Houston", "Boston", "Denver"],
    "arb": ["American Arbitration Association", "International Chamber of Commerce", "JAMS"],
    "error": ["failed to instruct the jury on the elements of the offense", "admitted a coerced confession",
              "denied the right to counsel of choice", "excluded exculpatory testimony"],
    "crime": ["securities fraud", "burglary", "conspiracy", "embezzlement", "wire fraud", "perjury"],
    "holding": ["a contractual waiver of a jury trial must be knowing and voluntary", "an employer is liable "
                "for the torts of its employee under respondeat superior", "the statute of limitations is "
                "subject to equitable tolling", "a public official is entitled to qualified immunity unless "
                "the right was clearly established"],
    "disposition": ["affirm", "reverse", "vacate"],
    "evidence": ["hearsay statements of the witness", "evidence of prior bad acts", "the expert's "
                 "testimony", "the recorded telephone call"],
    "latin": ["sua sponte", "de novo", "inter alia", "pro se", "in limine", "amicus curiae"],
}
LEGAL = [
    Genre("statute", (
        "Except as provided in {cite}, no person shall {act} without the prior written [consent|approval|"
        "authorization] of the {agency}.",
        "For purposes of this [section|chapter|part], the term \"{term}\" means any {object} that is {qual}.",
        "A person who {mental} violates this subsection shall be [liable for|subject to] a civil penalty not to "
        "exceed {money} for each [violation|day on which the violation continues].",
        "The {agency} shall [promulgate|issue|adopt] regulations to carry out this subsection within {days} days "
        "after the effective date of this Act.",
        "Nothing in this [section|chapter] shall be construed to [limit|impair|restrict] any right or remedy "
        "available under {cite} or under the common law of {state}.",
        "An action under this subsection shall be commenced within {years} years after the cause of action "
        "[accrues|is discovered|first arises].",
        "Proof of mens rea is required, and the [prosecution|State|government] must establish that the defendant "
        "acted {mental}.",
        "If any provision of this [chapter|Act|title] is held invalid, the [remainder|remaining provisions] of the "
        "[chapter|Act|title] shall not be affected.",
        "Upon a finding of a violation, the court may award {remedy}, together with reasonable attorney's fees and "
        "[costs|expenses of litigation].",
        "The {agency} shall report to the [legislature|General Assembly|appropriate committees] not later than "
        "{date} on the [enforcement|administration] of this part.",
        "A tort claim against a public entity arising under this part must be presented [in writing|to the clerk] "
        "within {days} days of the injury.",
        "A plaintiff who prevails in an action brought under {cite} may recover {remedy} [and costs|in addition "
        "to any other relief].",
        "Any {term} that receives a written request under this section shall respond within {days} business days.",
        "The penalties provided in this [chapter|section] are in addition to any other [penalty|sanction] imposed "
        "by law.",
        "The {agency} may, after notice and an opportunity for a hearing, [suspend|revoke|deny] any license "
        "issued under this part.",
        "A {term} shall keep records sufficient to show compliance with this section for at least {years} years.",
        "This section does not apply to any {object} that was [in existence|lawfully operating] before {date}.",
        "The attorney general may bring a civil action in the name of the State to [enjoin|restrain] a violation "
        "of {cite}.",
    ), LEGAL_SLOTS),
    Genre("contract", (
        "This {agreement} is [entered into|made] as of {date} by and between {company} (the \"{party}\") and "
        "{company} (the \"{party}\").",
        "The {party} shall [indemnify|defend, indemnify] and hold harmless the {party} from any claim, loss or "
        "liability arising out of {scope}.",
        "Neither party shall be liable for any [failure|delay] in performance caused by {event}, provided that "
        "[notice|written notice] is given within {days} days.",
        "This Agreement shall be governed by [and construed in accordance with|the] laws of the State of {state}, "
        "without regard to its conflict of laws principles.",
        "Any dispute arising [under|out of or relating to] this Agreement shall be resolved by binding arbitration "
        "in {city} under the rules of the {arb}.",
        "The {party} shall pay the {party} a [fee|sum] of {money} within {days} days after receipt of [each|an "
        "undisputed] invoice.",
        "Either party may terminate this Agreement upon {days} days' written notice if the other party commits a "
        "material breach that [remains uncured|is not cured within that period].",
        "No waiver of any provision shall be effective unless in writing, and no course of dealing shall give rise "
        "to an estoppel.",
        "The {party} represents and warrants that it [has full corporate power and authority|is duly authorized] "
        "to enter into this Agreement.",
        "All confidential information disclosed under this Agreement shall remain the property of the disclosing "
        "party [for {years} years|indefinitely|until it becomes public].",
        "The aggregate liability of either party shall not exceed the total fees paid in the {months} months "
        "[preceding|before] the [claim|event giving rise to liability].",
        "This Agreement [constitutes|sets out] the entire agreement between the parties and supersedes all prior "
        "[negotiations and understandings|agreements, written or oral].",
        "Notices under this Agreement shall be delivered by [certified mail|courier|hand] to the addresses set "
        "forth on the signature page.",
        "The {party} may not assign its rights hereunder without the consent of the {party}, which shall not be "
        "unreasonably withheld.",
        "The term of this Agreement shall begin on the effective date and continue for {years} years unless "
        "[terminated earlier|renewed in writing].",
        "The {party} shall maintain [commercial general liability|professional liability] insurance with limits "
        "of not less than {money} per occurrence.",
        "Title to the goods shall pass to the {party} upon [delivery|acceptance|payment in full].",
        "Any amendment to this Agreement must be in writing and signed by an authorized officer of each party.",
    ), LEGAL_SLOTS),
    Genre("opinion", (
        "{person} brought this action against {company} in {court}, alleging {claim} and seeking {remedy}.",
        "The district court granted {standard}, and the [plaintiff|appellant] timely appealed.",
        "We review the grant of {standard} de novo, viewing the evidence in the light most favorable to the "
        "[nonmoving party|plaintiff].",
        "The defendant contends that the claim is barred by res judicata because the same [transaction|dispute] "
        "was the subject of an earlier suit in {court}.",
        "Principles of stare decisis counsel against overruling {case}, which has governed this question for "
        "{years} decades.",
        "The petitioner sought a writ of habeas corpus, arguing that the trial court {error}.",
        "To state a claim under 42 U.S.C. § 1983(a)(2), a plaintiff must allege that the defendant acted under "
        "color of state law.",
        "The jury found that the plaintiff had proven each element of the tort by a preponderance of the evidence.",
        "Because the record contains no evidence of mens rea, the conviction for {crime} cannot stand.",
        "The plaintiff relied on the promise to her detriment, and promissory estoppel therefore bars the "
        "defendant from denying it.",
        "In {case}, the [court|Supreme Court] held that {holding}.",
        "We therefore {disposition} the judgment of {court} and remand for further proceedings consistent with "
        "this opinion.",
        "The plaintiff has made a prima facie showing of {claim}, and the burden [shifts|now shifts] to the "
        "defendant.",
        "Counsel for the appellant argued that the trial court abused its discretion in admitting {evidence}.",
        "The court raised the issue of jurisdiction {latin}, as it must before reaching the merits.",
        "Collateral estoppel applies only where the issue was actually litigated and necessarily decided.",
        "The [defendant|appellee] does not dispute that the {claim} claim was timely filed under {cite}.",
        "Summary judgment is appropriate only where there is no genuine dispute as to any material fact.",
        "A tort plaintiff must show duty, breach, causation and damages, and the [first|second] element is "
        "contested here.",
        "The dissent would [reach|decide] the constitutional question, but we decline to do so on this record.",
    ), LEGAL_SLOTS),
]

MED_SLOTS: dict[str, Any] = {
    "age": _int(19, 88), "person": ["man", "woman", "retired teacher", "construction worker", "college student"],
    "condition": ["hypertension", "type 2 diabetes mellitus", "chronic obstructive pulmonary disease",
                  "atrial fibrillation", "hyperlipidemia", "osteoarthritis of the knee", "major depressive "
                  "disorder", "chronic kidney disease stage 3", "asthma", "hypothyroidism"],
    "symptom": ["dyspnea", "myalgia", "fatigue", "intermittent chest pain", "nausea", "dizziness", "headache",
                "a dry cough", "palpitations", "peripheral edema", "joint stiffness", "insomnia"],
    "duration": ["two days", "one week", "three weeks", "several months", "ten days"],
    "bp": lambda rng: f"{rng.randint(104, 178)}/{rng.randint(62, 104)}", "hr": _int(52, 118),
    "spo2": _int(88, 99), "dose": ["5", "10", "20", "25", "40", "50", "81", "100", "250", "500"],
    "lab": ["hemoglobin A1c", "serum creatinine", "potassium", "LDL cholesterol", "TSH", "INR",
            "hemoglobin", "ALT"],
    "labval": lambda rng: f"{rng.uniform(0.5, 9.5):.1f}", "trend": ["improved", "unchanged", "worse"],
    "drug": ["lisinopril", "metformin", "atorvastatin", "amlodipine", "levothyroxine", "warfarin",
             "sertraline", "albuterol", "metoprolol", "hydrochlorothiazide", "amoxicillin", "gabapentin"],
    "freq": ["daily", "bid", "tid", "qid", "qhs", "q8h", "q12h"], "weeks": _int(2, 12),
    "control": ["well controlled", "poorly controlled", "stable", "improving"],
    "warn": ["chest pain", "fainting", "black stools", "a rash", "severe shortness of breath", "blurred vision"],
    "class": ["angiotensin-converting enzyme inhibitor", "biguanide", "HMG-CoA reductase inhibitor",
              "calcium channel blocker", "selective serotonin reuptake inhibitor", "beta blocker",
              "thiazide diuretic", "aminopenicillin"],
    "adverse": ["dizziness", "myalgia", "diarrhea", "headache", "cough", "rash", "nausea", "fatigue",
                "hyperkalemia", "peripheral edema"],
    "contra": ["a history of angioedema", "severe hepatic impairment", "known hypersensitivity to the drug",
               "pregnancy", "active bleeding"],
    "risk": ["gastrointestinal bleeding", "acute kidney injury", "hyperkalemia", "reduced antihypertensive "
             "effect"],
    "hours": _int(1, 12), "crcl": ["30", "45", "50", "60"], "maxdose": ["2,000", "3,000", "4,000", "1,200"],
    "basis": ["renal function", "blood pressure response", "body weight", "clinical response"],
    "lifestyle": ["regular walking", "a low-sodium diet", "losing a little weight", "keeping a symptom diary",
                  "cutting back on alcohol", "sleeping at regular hours"],
    "statin": ["atorvastatin", "simvastatin", "rosuvastatin", "pravastatin"],
    "reason": ["the symptoms may return", "blood pressure can rise quickly", "withdrawal effects can occur",
               "the dose usually needs to be reduced gradually"],
    "refills": ["no", "one", "two", "three"], "qty": ["30", "60", "90", "120"],
}
MEDICAL = [
    Genre("clinical_note", (
        "The patient is a {age}-year-old {person} with a history of {condition} who presents with {symptom} of "
        "{duration} duration.",
        "Review of systems is positive for {symptom} and {symptom}, and negative for [fever or chills|weight "
        "loss|night sweats].",
        "On examination, blood pressure was {bp} mmHg, heart rate {hr} beats per minute, and oxygen saturation "
        "{spo2}% on room air.",
        "Laboratory studies showed a {lab} of {labval}, which is {trend} compared with the [prior|last] visit.",
        "The patient reports myalgia and fatigue since starting {drug} {dose} mg [daily|twice daily].",
        "Assessment is {condition}, currently {control}, with no new [focal findings|complaints].",
        "Plan is to continue {drug} {dose} mg po {freq} and recheck the {lab} in {weeks} weeks.",
        "Dyspnea on exertion has {trend} since the last visit, and there is no [orthopnea|leg swelling].",
        "{drug} {dose} mg was prescribed, Sig: 1 tab po qid pc & hs, with {refills} refills.",
        "Hypertension remains {control} on the current regimen, and the patient was counseled on [sodium "
        "restriction|weight loss|home blood pressure monitoring].",
        "The patient was advised to avoid NSAIDs because of the risk of {risk}.",
        "Follow-up is scheduled in {weeks} weeks, sooner if {warn} develops.",
        "Medication reconciliation was completed, and the patient takes {drug} and {drug} as directed.",
        "Lungs are clear to auscultation bilaterally, and there is no jugular venous distension.",
        "The {person} denies tobacco use and drinks alcohol [rarely|socially|two or three times a week].",
        "An electrocardiogram showed [normal sinus rhythm|sinus tachycardia|atrial fibrillation with a "
        "controlled ventricular rate].",
        "The patient was started on {drug} {dose} mg po {freq} and given written instructions.",
        "Family history is notable for {condition} in a [parent|sibling|grandparent].",
    ), MED_SLOTS),
    Genre("monograph", (
        "{drug} is a {class} indicated for the treatment of {condition} in [adults|adults and adolescents].",
        "The usual adult dose is {dose} mg orally {freq}, adjusted according to {basis}.",
        "In pediatric patients the recommended dose is 5 mg/kg q6h, not to exceed {maxdose} mg per day.",
        "Common adverse reactions include {adverse}, {adverse} and {adverse}.",
        "{drug} is contraindicated in patients with {contra}.",
        "Concomitant use with an NSAID [increases|may increase] the risk of {risk}.",
        "Peak plasma concentrations are reached within {hours} hours, and the elimination half-life is about "
        "{hours} hours.",
        "Dose reduction is recommended in patients with a creatinine clearance below {crcl} mL/min.",
        "Monitor the {lab} at baseline and [periodically|every few months] during therapy.",
        "Use during pregnancy only if the potential benefit justifies the potential risk to the fetus.",
        "Overdose may present with {symptom}, {symptom} and {symptom}, and treatment is supportive.",
        "Store at controlled room temperature and protect from [light and moisture|excessive heat].",
        "Tablets may be taken with or without food, but the timing should be consistent from day to day.",
        "Patients with hypertension should have blood pressure checked within {weeks} weeks of a dose change.",
        "Elderly patients may be more sensitive to {adverse} and should start at the lowest dose.",
        "{drug} is [extensively|partly] metabolized in the liver and excreted mainly in the urine.",
        "Rare but serious reactions include [angioedema|hepatotoxicity|rhabdomyolysis] and "
        "[agranulocytosis|pancreatitis|severe skin reactions].",
    ), MED_SLOTS),
    Genre("patient_qa", (
        "Question: I have been taking {drug} for {condition} and lately I have noticed {symptom}, is that normal?",
        "Answer: {symptom} can be a side effect of {drug}, and it is worth [discussing with|mentioning to] your "
        "doctor.",
        "If you develop {warn}, seek medical attention [right away|immediately].",
        "Many people with {condition} find that {lifestyle} helps to control their symptoms.",
        "Do not stop taking {drug} suddenly without talking to your [prescriber|doctor], because {reason}.",
        "Over-the-counter NSAIDs such as ibuprofen and naproxen can raise blood pressure in people with "
        "hypertension.",
        "Your doctor may order a {lab} test to check how well the treatment is working.",
        "Myalgia, or muscle pain, is a known side effect of statins such as {statin}.",
        "It is usually fine to take {drug} with food, and taking it after meals may reduce stomach upset.",
        "Shortness of breath, also called dyspnea, should always be checked if it comes on suddenly.",
        "Question: Can I take {drug} and {drug} at the same time?",
        "Answer: Ask your pharmacist to review all of your medicines, including vitamins and herbal products.",
        "Keep a list of your medicines and bring it to every appointment.",
        "Question: How long does it take for {drug} to start working?",
        "Answer: Most people notice a change within {weeks} weeks, although the full effect can take longer.",
        "If you miss a dose, take it as soon as you remember, unless it is almost time for the next one.",
    ), MED_SLOTS),
]

FIN_SLOTS: dict[str, Any] = {
    "company": _company, "person": _person, "date": _date, "money": _money, "money_m": _money_m,
    "money_b": _money_b, "pct": _pct, "pct_small": _pct_small, "eps": _eps, "ticker": _ticker,
    "bps": _int(10, 250), "bps_small": _int(2, 30), "year": _int(2024, 2027), "shares": _int(1, 40),
    "quarter": ["first-quarter", "second-quarter", "third-quarter", "fourth-quarter", "full-year"],
    "cost": ["freight costs", "raw material prices", "wage inflation", "promotional spending", "energy costs"],
    "quote": ["We delivered another quarter of disciplined growth", "Our teams executed well in a difficult "
              "market", "Demand for our products remained strong across every region", "We are confident in "
              "our long-term strategy"],
    "disclosure": ["a material weakness in internal controls", "a new segment reporting structure",
                   "a goodwill impairment charge", "pending litigation with a former supplier",
                   "the adoption of a new lease accounting standard"],
    "risk": ["rising interest rates", "supply chain disruption", "cybersecurity incidents", "customer "
             "concentration", "foreign exchange volatility", "regulatory changes"],
    "move": ["rose", "fell", "jumped", "slid", "climbed", "dropped"],
    "session": ["morning", "afternoon", "early", "late", "after-hours"],
    "catalyst": ["the company beat analyst estimates", "a guidance cut", "news of a takeover approach",
                 "a ratings downgrade", "strong subscriber growth", "the departure of its chief financial officer"],
    "index": ["S&P 500", "Dow Jones Industrial Average", "Nasdaq Composite", "Russell 2000"],
    "points": _int(12, 480), "level": lambda rng: f"{rng.randint(3000, 42000):,}.{rng.randint(0, 99):02d}",
    "yield": lambda rng: f"{rng.uniform(3.1, 5.2):.2f}%",
    "bank": ["Goldman Sachs", "Morgan Stanley", "JPMorgan", "Barclays", "UBS", "Jefferies", "Citi"],
    "rating": ["buy", "hold", "sell", "overweight", "underweight", "neutral"],
    "action": ["upgraded", "downgraded", "initiated coverage of", "reiterated a rating on"],
    "volume": lambda rng: f"{rng.uniform(1, 60):.1f}", "multiple": _int(2, 30),
    "range": ["5.25% to 5.50%", "4.75% to 5.00%", "4.25% to 4.50%", "3.50% to 3.75%"],
    "concern": ["weaker demand in China", "rising inventories", "supply cuts by producers", "a slowing economy"],
    "focus": ["margin pressure", "slowing growth", "higher capital spending", "improving cash flow"],
}
FINANCIAL = [
    Genre("earnings", (
        "{company} ({ticker}) today reported {quarter} revenue of {money_m}, [an increase|a rise|up] of {pct} "
        "from the prior-year period.",
        "Diluted EPS was {eps}, compared with {eps} in the same [quarter|period] last year.",
        "Adjusted EBITDA [rose|increased|grew] to {money_m}, and the adjusted EBITDA margin expanded by {bps} "
        "basis points.",
        "Operating cash flow for the quarter totaled {money_m}, and free cash flow was {money_m}.",
        "The company repurchased {shares} million shares for {money_m} during the [quarter|period].",
        "The board declared a quarterly dividend of {eps} per share, payable on {date} to shareholders of record.",
        "For fiscal {year}, management [raised|reaffirmed|lowered] its guidance and now expects revenue between "
        "{money_b} and {money_b}.",
        "Gross margin was {pct}, down {bps} basis points year over year, reflecting higher {cost}.",
        "\"{quote},\" said {person}, [chief executive officer|chief financial officer|president] of {company}.",
        "Net income attributable to common shareholders was {money_m}, or {eps} per diluted share.",
        "Selling, general and administrative expenses were {pct} of net sales, [compared with|versus] {pct} a "
        "year ago.",
        "A reconciliation of GAAP to non-GAAP measures, including EBITDA, is provided in the tables that follow.",
        "The company will host a conference call with analysts at 8:30 a.m. Eastern Time to discuss the results.",
        "Organic sales growth was {pct}, excluding the effect of [acquisitions|currency|divestitures].",
        "Backlog at the end of the quarter stood at {money_b}, [up|down] {pct_small} from the prior quarter.",
        "Results include a one-time charge of {money_m} related to [restructuring|a legal settlement|an asset "
        "write-down].",
    ), FIN_SLOTS),
    Genre("filing", (
        "In its annual report on Form 10-K for the fiscal year ended {date}, {company} disclosed {disclosure}.",
        "The company had {money_m} in cash and cash equivalents and {money_m} of long-term debt as of {date}.",
        "Our revolving credit facility bears interest at SOFR plus {bps} basis points and matures in {year}.",
        "We are exposed to market risk from changes in interest rates, foreign currency exchange rates and "
        "commodity prices.",
        "A hypothetical {bps} basis point increase in interest rates would raise annual interest expense by about "
        "{money}.",
        "Goodwill is tested for impairment annually in the [fourth|third] quarter, or more often if indicators of "
        "impairment exist.",
        "Revenue is recognized when control of the promised goods or services transfers to the customer.",
        "Risk factors include {risk}, {risk} and {risk}.",
        "The effective tax rate was {pct}, compared with {pct} in the prior year.",
        "The quarterly report on Form 10-Q for the period ended {date} showed working capital of {money_m}.",
        "Management concluded that internal control over financial reporting was effective at the end of the "
        "period.",
        "Diluted EPS reflects the dilutive effect of stock options and restricted stock units under the treasury "
        "stock method.",
        "Capital expenditures are expected to be between {money_m} and {money_m} in fiscal {year}.",
        "The company is in compliance with all [financial covenants|covenants] under its credit agreement.",
        "Depreciation and amortization expense was {money_m}, [compared with|against] {money_m} in the prior year.",
        "We had net operating loss carryforwards of {money_m} that begin to expire in {year}.",
    ), FIN_SLOTS),
    Genre("market_news", (
        "Shares of {company} ({ticker}) {move} {pct_small} to {money} in {session} trading after {catalyst}.",
        "The {index} {move} {points} points, or {pct_small}, to close at {level}.",
        "The yield on the 10-year Treasury note {move} {bps_small} basis points to {yield}.",
        "Analysts at {bank} {action} the stock with a {rating} rating and a price target of {money}.",
        "Trading volume was {volume} million shares, roughly {multiple} times the 30-day average.",
        "The Federal Reserve left the federal funds rate unchanged in a range of {range}.",
        "Crude oil futures {move} {pct_small} on concerns about {concern}.",
        "The company's market capitalization now stands at about {money_b}.",
        "{company} trades at {multiple} times forward earnings, a [discount|premium] to its peer group.",
        "Credit spreads on investment-grade bonds [widened|narrowed] by {bps_small} basis points over the week.",
        "Investors will watch the earnings release on {date} for signs of {focus}.",
        "Consensus estimates call for diluted EPS of {eps} on revenue of {money_b}.",
        "The dollar [strengthened|weakened] against the euro as traders [priced in|pared bets on] a rate cut.",
        "Short interest in the stock has [risen|fallen] to {pct_small} of the float.",
        "The bond sale drew orders of more than {money_b}, allowing the issuer to tighten pricing by {bps_small} "
        "basis points.",
    ), FIN_SLOTS),
]

GEN_SLOTS: dict[str, Any] = {
    "town": ["Ashbury", "Millbrook", "Kelston", "Fenwick", "Harrowgate", "Linden Vale", "Stonebridge", "Wrexford"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "votes": ["seven to two", "five to four", "unanimously", "six to three"],
    "plan": ["build a new footbridge over the river", "extend the cycle path to the station", "restore the old "
             "market hall", "open a community garden near the school", "repair the harbour wall"],
    "thing": ["traffic in the centre", "state of the old bridge", "lack of parking", "flooding near the river"],
    "num": ["two", "three", "four", "five"], "count": ["twenty", "forty", "a hundred", "three hundred", "sixty"],
    "funding": ["a grant from the regional government", "local taxes and private donations", "a national fund "
                "for small towns"],
    "region": ["the north of the country", "the western valleys", "the coastal plain", "the eastern hills",
               "the southern lakes"],
    "score": ["two to one", "three to nothing", "four to two"], "years": ["twelve", "twenty", "thirty"],
    "animal": ["red fox", "grey heron", "pine marten", "barn owl", "otter", "hedgehog", "common toad"],
    "creature": ["red fox is a mammal", "grey heron is a wading bird", "pine marten is a small mammal",
                 "barn owl is a bird of prey", "common toad is an amphibian", "otter is a mammal"],
    "habitat": ["forests", "wetlands", "meadows", "rocky coasts"],
    "food": ["insects and worms", "small fish", "berries and seeds", "mice and voles"],
    "time": ["early morning", "evening", "night"], "river": ["The Avon", "The Lune", "The Severn", "The Tamar"],
    "km": _int(40, 350), "century": ["twelfth", "fourteenth", "sixteenth", "eighteenth"],
    "industry": ["wool and weaving", "fishing", "farming", "coal mining", "shipbuilding"],
    "yearold": _int(1820, 1935), "family": ["Celtic", "Germanic", "Romance", "Uralic"],
    "adj": ["shy", "clever", "graceful", "curious", "adaptable"],
    "painter": ["Anna Lindqvist", "Tomas Varga", "Ellen Moray", "Jacob Ferrand"],
    "subject": ["quiet harbour scenes", "portraits of farm workers", "winter landscapes", "bright still lifes"],
    "name": FIRST_NAMES, "place": ["beach", "canal", "edge of the wood", "old railway line", "river bank"],
    "relative": ["brother", "sister", "grandmother", "cousin", "oldest friend"],
    "object": ["wooden box", "blue jug", "leather bag", "copper kettle"],
    "smell": ["apples", "wood smoke", "fresh bread", "lavender"], "flower": ["roses", "tulips", "sunflowers"],
}
GENERAL = [
    Genre("news", (
        "The council of {town} voted {votes} on {weekday} to approve a plan to {plan}.",
        "Residents who attended the meeting said the {thing} had been a [worry|problem] for years.",
        "The work is expected to take {num} years and will be paid for with {funding}.",
        "Heavy rain swept across {region} on {weekday}, closing [several roads|two bridges] and delaying trains.",
        "[Officials|The police|Emergency services] urged people to [stay at home|avoid travelling] until the "
        "water had gone down.",
        "The local football club won its first title in {years} years after a {score} victory over its rival.",
        "[Thousands of|Hundreds of|Many] fans gathered in the [main square|park|streets near the ground] to "
        "celebrate with the players.",
        "The museum in {town} will reopen next [spring|summer|year] after a renovation that added {num} new "
        "galleries.",
        "A spokesperson for the [school|college] said that the new [library|sports hall] would be open to the "
        "public [at weekends|in the evenings].",
        "Volunteers planted more than {count} trees along the [river|canal|main road] as part of a [weekend "
        "event|school project].",
        "The festival drew visitors from {region} and featured music, food and a parade through the old town.",
        "Forecasters expect [cooler temperatures|light winds] and clear skies for the rest of the week.",
        "The mayor of {town} thanked everyone who had helped to clear the streets after the storm.",
        "Police closed the road for several hours while the fallen tree was [removed|cut up and taken away].",
        "The new bus service will connect {town} with the hospital and the university every {num} hours.",
        "Shop owners said that trade had [improved|picked up] since the market moved back to the square.",
    ), GEN_SLOTS),
    Genre("encyclopedia", (
        "The {creature} found in the {habitat} of {region}.",
        "It feeds mainly on {food} and is most active in the {time}.",
        "{river} is a river that flows for about {km} kilometres through {region} before reaching the sea.",
        "The town of {town} was founded in the {century} century and grew around a market by the river.",
        "Its economy was based on {industry} until the arrival of the railway in {yearold}.",
        "The [castle|abbey|town hall], built of local [stone|brick], was rebuilt several times and is now a "
        "[museum|hotel|library].",
        "The language of the area belongs to the {family} family and has a rich tradition of [songs|stories].",
        "Naturalists have described the {animal} as one of the most {adj} animals of its kind.",
        "The climate is [mild|temperate], with [warm|dry] summers and [wet|cold] winters, and snow is rare "
        "near the coast.",
        "{painter} was a painter known for {subject}, and many of the works hang in the national gallery.",
        "The bridge, completed in {yearold}, was at the time the longest of its kind in the country.",
        "The population of the [island|valley|region] has [declined|grown slowly] since the middle of the last "
        "century.",
        "Young animals leave their parents after [a few months|about a year] and look for a territory of their own.",
        "The cathedral took more than {years} years to build and was finished in {yearold}.",
        "Most of the land is used for [grazing|farming|forestry], and small villages are scattered along the "
        "valleys.",
    ), GEN_SLOTS),
    Genre("story", (
        "{name} walked along the {place} as the sun went down behind the hills.",
        "She had not seen her {relative} since the summer they spent together at the lake.",
        "The {object} on the kitchen table still smelled of {smell}.",
        "When the [rain|storm] started, {name} ran back to the [house|barn|cottage] and shut the door.",
        "Nobody in the village knew where the {animal} had come from, but the children gave it a name.",
        "For a long time they sat in silence and listened to the [wind in the trees|rain on the roof|sound of "
        "the sea].",
        "{name} opened the [letter|envelope] slowly, afraid of what it might say.",
        "The next morning the [fields|roofs] were white with [frost|snow] and the air was very still.",
        "He laughed and said that he would be back before the end of the [week|month|summer].",
        "It was the kind of evening that {name} would remember for many years.",
        "At the end of the road stood a small house with a blue door and a garden full of {flower}.",
        "They made [tea|coffee|soup], talked about the [old days|people they had known], and forgot about the time.",
        "In the morning {name} found a note by the door, written in pencil.",
        "The train was late, so {name} waited on the platform and watched the [birds|clouds] over the station.",
        "Her {relative} had always said that the old house was full of secrets.",
    ), GEN_SLOTS),
]

WEB_SLOTS: dict[str, Any] = GEN_SLOTS | {
    "goal": ["grow tomatoes on a balcony", "save money on groceries", "learn to bake bread", "plan a cheap "
             "weekend away", "keep a small flat tidy", "start running again"],
    "step": ["make a simple list", "check the weather", "measure the space you have", "set a budget"],
    "product": ["folding bike", "camping stove", "electric kettle", "reading lamp", "rain jacket"],
    "use": ["short trips", "small kitchens", "daily commuting", "family holidays"],
    "hobby": ["gardening", "baking", "hiking", "painting", "woodwork"],
    "tool": ["a sharp knife", "a tape measure", "a pair of gloves", "a large bowl", "a watering can"],
    "spot": ["the botanical garden", "the old harbour", "the hills above the town", "the covered market"],
    "hours": _int(4, 30),
}
WEB = [
    Genre("blog", (
        "In this post we share a few simple tips to help you {goal}.",
        "The first thing to do is to {step} before you start.",
        "Many readers have asked us how to {goal} without spending too much money.",
        "We tested the {product} for {num} weeks and found that it works well for {use}.",
        "The battery lasts about {hours} hours, which is more than enough for a [normal day|long trip|busy week].",
        "If you are new to {hobby}, start with something small and build up slowly.",
        "Make sure that you have all of the tools ready, including {tool} and {tool}.",
        "Our favourite part of the trip was a walk through {spot} in the early morning.",
        "The price is [fair|a little high], and the customer service team answered our questions [quickly|politely].",
        "Leave a comment below and let us know what [worked for you|you think|you would change].",
        "Overall, we think the {product} is a good choice for anyone who wants to {goal}.",
        "It took us about {num} hours to finish, but the result was worth the effort.",
        "Do not worry if it goes wrong the first time, because everyone makes mistakes at the [start|beginning].",
        "We [stayed|spent two nights] in a small guest house near {spot}, and the owners were very kind.",
        "Last year we tried to {goal}, and we learned a lot from our mistakes.",
        "The instructions were easy to follow, although the pictures could have been [larger|clearer].",
    ), WEB_SLOTS),
    *GENERAL,
]

GENRES: dict[str, list[Genre]] = {"legal": LEGAL, "medical": MEDICAL, "financial": FINANCIAL, "general": GENERAL,
                                  "web": WEB}

FOREIGN_SLOTS: dict[str, Any] = {"n": _int(2, 40), "year": _int(1850, 2020)}
FOREIGN: dict[str, Genre] = {
    "de": Genre("de", (
        "Die Stadt liegt am Ufer eines großen Flusses und hat ungefähr {n} tausend Einwohner.",
        "Im Sommer kommen viele Besucher, um die alte Burg und den Marktplatz zu sehen.",
        "Der Bahnhof wurde im Jahr {year} gebaut und ist heute ein wichtiger Knotenpunkt.",
        "Die Kinder gehen jeden Morgen zu Fuß in die Schule, die hinter der Kirche steht.",
        "Nach dem Regen war die Luft frisch und die Straßen glänzten im Licht der Laternen.",
        "Wir haben uns entschieden, das Wochenende bei unseren Freunden auf dem Land zu verbringen.",
        "Das Rezept ist einfach, aber man braucht etwas Geduld, bis der Teig aufgegangen ist.",
        "Die Regierung hat angekündigt, dass die neuen Regeln ab dem nächsten Monat gelten sollen.",
        "Viele Menschen fahren lieber mit dem Fahrrad, weil es schneller und günstiger ist.",
        "Der Verein feiert in diesem Jahr sein {n}. Jubiläum mit einem großen Fest im Park.",
        "Es ist wichtig, dass man genug Wasser trinkt, besonders wenn es draußen heiß ist.",
        "In der Bibliothek gibt es eine Ausstellung über die Geschichte der Region.",
    ), FOREIGN_SLOTS),
    "fr": Genre("fr", (
        "La ville se trouve au bord d'une grande rivière et compte environ {n} mille habitants.",
        "En été, de nombreux visiteurs viennent voir le vieux château et la place du marché.",
        "La gare a été construite en {year} et reste aujourd'hui un point de passage important.",
        "Les enfants vont à l'école à pied chaque matin, en passant devant la boulangerie.",
        "Après la pluie, l'air était frais et les rues brillaient sous la lumière des réverbères.",
        "Nous avons décidé de passer le week-end chez des amis à la campagne.",
        "La recette est simple, mais il faut un peu de patience pour que la pâte lève.",
        "Le gouvernement a annoncé que les nouvelles règles entreront en vigueur le mois prochain.",
        "Beaucoup de gens préfèrent se déplacer à vélo, parce que c'est plus rapide et moins cher.",
        "L'association fête cette année son {n}e anniversaire avec une grande fête dans le parc.",
        "Il est important de boire beaucoup d'eau, surtout quand il fait très chaud dehors.",
        "La bibliothèque présente une exposition sur l'histoire de la région et de ses habitants.",
    ), FOREIGN_SLOTS),
    "es": Genre("es", (
        "La ciudad está a orillas de un gran río y tiene unos {n} mil habitantes.",
        "En verano llegan muchos visitantes para ver el viejo castillo y la plaza del mercado.",
        "La estación de tren se construyó en {year} y hoy sigue siendo un lugar de paso importante.",
        "Los niños van andando a la escuela todas las mañanas, por la calle de la iglesia.",
        "Después de la lluvia el aire estaba fresco y las calles brillaban bajo las farolas.",
        "Hemos decidido pasar el fin de semana en casa de unos amigos en el campo.",
        "La receta es sencilla, pero hace falta un poco de paciencia para que la masa suba.",
        "El gobierno ha anunciado que las nuevas normas entrarán en vigor el mes que viene.",
        "Mucha gente prefiere ir en bicicleta, porque es más rápido y más barato.",
        "La asociación celebra este año su {n} aniversario con una gran fiesta en el parque.",
        "Es importante beber mucha agua, sobre todo cuando hace mucho calor fuera.",
        "La biblioteca tiene una exposición sobre la historia de la región y de su gente.",
    ), FOREIGN_SLOTS),
}

# Lines a crawler finds on every page of a site (navigation, banners, footers): the line-dedup targets.
BOILERPLATE_HEAD = [
    "Skip to main content",
    "Home | News | Sport | Weather | Travel | Contact",
    "Home > Blog > Articles",
    "We use cookies to improve your experience. By continuing to browse this site you agree to our use of cookies.",
    "Accept all cookies | Manage preferences",
    "Sign in | Register | Subscribe",
]
BOILERPLATE_FOOT = [
    "All rights reserved.",
    "© 2024 Example Media Ltd. All rights reserved.",
    "Subscribe to our newsletter for the latest updates.",
    "Share this article: Facebook | Twitter | Email",
    "Privacy Policy | Terms of Use | Sitemap",
    "Follow us on social media.",
    "Related posts",
    "Click here to read more.",
]
SHORT_WEB_PAGES = [
    "Page not found.", "This page has moved. Click here to continue.", "Coming soon!", "Login required.",
    "Thank you for your order.", "Sorry, this item is out of stock.", "Loading...", "Error 404: the page you "
    "requested could not be found.", "Please enable cookies to continue.", "Your session has expired.",
]
# Symbol soup: '#' and ellipsis heavy (Gopher's symbol-to-word ratio), most tokens still holding a digit or
# letter so that word counters which skip pure punctuation still see a page of 50+ words.
JUNK_TOKENS = ["###", "$$$", "@@", "...", "&&", "|||", "***", "%%", "#tag", "#1", "0x00", ">>>", "~~~", "#sale",
               "#win", "$$99", "@@user1", "#2024", "x100", "#FREE", "…", "##42", "#deal", "++7", "#top10", "#A1"]
WEB_HOSTS = ["news.example.com", "blog.example.org", "shop.example.net", "www.example.com", "forum.example.org",
             "wiki.example.net"]
URL_WORDS = ["article", "post", "page", "story", "item", "p", "read"]
# Replacement words for near-duplicates: common English words, so edits look like light rewriting.
EDIT_WORDS = ["house", "river", "quickly", "green", "paper", "window", "market", "simple", "morning", "answer",
              "garden", "travel", "letter", "number", "bright", "report", "corner", "season", "question",
              "village", "yellow", "summer", "minute", "follow", "history", "kitchen", "station", "quiet",
              "careful", "engine", "silver", "forest", "button", "bottle", "circle", "island", "doctor",
              "famous", "cotton", "planet", "ticket", "bridge", "pocket", "candle", "shadow", "winter"]


# ----------------------------------------------------------------------------- text generation


def _fill(template: str, slots: dict[str, Any], rng: random.Random) -> str:
    """Picks each [a|b] alternative, then fills each {slot} independently from its list (or function)."""

    def one(match: re.Match[str]) -> str:
        value = slots[match.group(1)]
        return value(rng) if callable(value) else rng.choice(value)

    # "[a|b|c]" picks one phrasing, so documents sharing a template do not share all of its word n-grams.
    text = re.sub(r"\[([^\[\]]*)\]", lambda m: rng.choice(m.group(1).split("|")), template)
    text = re.sub(r"\{(\w+)\}", one, text)
    return text[0].upper() + text[1:]


def _prose(genre: Genre, rng: random.Random, n_sentences: tuple[int, int], per_paragraph: tuple[int, int]) -> str:
    """Paragraphs (one a line) of distinct templates of one genre, so no template repeats inside a document."""
    pool = list(genre.templates)
    rng.shuffle(pool)
    n = min(rng.randint(*n_sentences), len(pool))
    sentences = [_fill(t, genre.slots, rng) for t in pool[:n]]
    paragraphs, i = [], 0
    while i < len(sentences):
        k = rng.randint(*per_paragraph)
        if len(sentences) - (i + k) == 1:  # never leave a one-sentence paragraph at the end
            k += 1
        paragraphs.append(" ".join(sentences[i : i + k]))
        i += k
    return "\n".join(paragraphs)


def _clean_doc(source: str, rng: random.Random) -> str:
    genre = rng.choice(GENRES[source])
    return _prose(genre, rng, (8, 14), (2, 5))


def _short_doc(source: str, rng: random.Random) -> str:
    """A page of one or two sentences (fewer than 50 words: Gopher's minimum, Rae et al. 2021 App. A)."""
    if source == "web" and rng.random() < 0.5:
        return rng.choice(SHORT_WEB_PAGES)
    genre = rng.choice(GENRES[source])
    return _prose(genre, rng, (1, 2), (2, 2))


def _non_english_doc(lang: str, rng: random.Random) -> str:
    return _prose(FOREIGN[lang], rng, (7, 11), (2, 4))


def _junk_doc(rng: random.Random) -> tuple[str, str]:
    """Number tables (cells without letters) or symbol soup (heavy in "#" and "..."); no sentence punctuation."""
    style = rng.choice(("numbers", "symbols"))
    lines = []
    for _ in range(rng.randint(10, 16)):
        if style == "numbers":
            cells = [rng.choice((f"{rng.randint(0, 99999)}", f"{rng.uniform(0, 999):.3f}", f"{rng.randint(1, 99)}%",
                                 f"0x{rng.randint(0, 65535):04X}", f"{rng.randint(1, 28)}/{rng.randint(1, 12)}"))
                     for _ in range(rng.randint(5, 9))]
            lines.append(" | ".join(cells))
        else:
            lines.append(" ".join(rng.choice(JUNK_TOKENS) for _ in range(rng.randint(8, 14))))
    return style, "\n".join(lines)


_WORD_CORE = re.compile(r"^([^\w]*)([\w'’-]+)([^\w]*)$")


def _edit_words(text: str, rate: float, rng: random.Random) -> str:
    """Replaces round(rate * words) distinct words with different words, keeping punctuation and case."""
    lines = [line.split(" ") for line in text.split("\n")]
    positions = [(i, j) for i, words in enumerate(lines) for j, w in enumerate(words) if _WORD_CORE.match(w)]
    k = max(1, round(rate * sum(len(w) for w in lines)))
    for i, j in rng.sample(positions, min(k, len(positions))):
        pre, core, post = _WORD_CORE.match(lines[i][j]).groups()
        new = rng.choice(EDIT_WORDS)
        while new.lower() == core.lower():
            new = rng.choice(EDIT_WORDS)
        if core[0].isupper():
            new = new.capitalize()
        lines[i][j] = pre + new + post
    return "\n".join(" ".join(words) for words in lines)


def _word_ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def _jaccard(a: str, b: str, n: int = NGRAM) -> float:
    """Word n-gram Jaccard |A∩B| / |A∪B| over lowercased \\w+ words (the quantity MinHash estimates)."""
    sa, sb = _word_ngrams(a, n), _word_ngrams(b, n)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


# ----------------------------------------------------------------------------- records


@dataclasses.dataclass(eq=False)
class _Entry:
    """One line of a source file before ids are given. ``key`` orders the file; a copy's key exceeds its
    original's, so originals always come first. ``malformed`` names the defect of a broken line."""

    text: Any
    key: float
    outcome: str = "keep"
    defects: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    original: _Entry | None = None
    malformed: str | None = None
    url: str | None = None
    id: str = ""
    line: int = 0
    boilerplate: bool = False


def _url(rng: random.Random) -> str:
    return f"https://{rng.choice(WEB_HOSTS)}/{rng.choice(URL_WORDS)}/{rng.randint(1000, 99999)}"


def _counts(source: str, n_records: int, cfg: SampleConfig) -> dict[str, int]:
    """How many records of each defect a source gets (rates are fractions of the source's records)."""

    def rate(r: float) -> int:
        return round(r * n_records)

    if source == "web":
        return {
            "exact_duplicate": rate(cfg.web_exact_duplicate_rate),
            "near_duplicate": rate(cfg.web_near_duplicate_rate),
            "hard_near_duplicate": rate(cfg.web_hard_near_duplicate_rate),
            "short": rate(cfg.web_short_rate),
            "non_english": rate(cfg.web_non_english_rate),
            "junk": rate(cfg.web_junk_rate),
            "malformed": cfg.web_malformed,
        }
    return {"exact_duplicate": rate(cfg.other_duplicate_rate), "short": rate(cfg.other_short_rate),
            "malformed": cfg.other_malformed}


def _near_copy(orig: _Entry, band: str, cfg: SampleConfig, rng: random.Random) -> tuple[str, float, float]:
    """Edits a copy of ``orig`` in the band's edit-rate range; light copies are re-drawn until their Jaccard
    reaches the threshold. Returns (text, edit rate, Jaccard)."""
    lo, hi = cfg.near_duplicate_edit_rate if band == "light" else cfg.hard_near_duplicate_edit_rate
    for _ in range(200):
        edit_rate = rng.uniform(lo, hi)
        text = _edit_words(orig.text, edit_rate, rng)
        jac = _jaccard(orig.text, text)
        if band == "hard" or jac >= cfg.near_duplicate_threshold:
            return text, edit_rate, jac
    raise UserError(
        f"sample: light near-duplicates edited at {lo:.0%}-{hi:.0%} of words never reach the word-5-gram "
        f"Jaccard of near_duplicate_threshold={cfg.near_duplicate_threshold}; lower the threshold or the "
        "near_duplicate_edit_rate range")


def _build_source(
    source: str, n_records: int, cfg: SampleConfig, pool: list[_Entry], rng: random.Random
) -> list[_Entry]:
    """All records of one source, defects placed among clean documents; ``pool`` holds earlier sources' clean docs."""
    web = source == "web"
    counts = _counts(source, n_records, cfg)
    n_clean = max(1, n_records - sum(counts.values()))
    seen = {e.text for e in pool}

    def fresh(make: Callable[[], str]) -> str:
        text = make()
        while text in seen:  # templates can collide on tiny docs; only planted duplicates may repeat
            text = make()
        seen.add(text)
        return text

    def after(orig: _Entry, mine: set[int]) -> float:
        """A key after the original's when it sits in this file; anywhere otherwise."""
        return rng.uniform(orig.key, 1.0) if id(orig) in mine else rng.random()

    entries = []
    for _ in range(n_clean):
        entry = _Entry(text=fresh(lambda: _clean_doc(source, rng)), key=rng.random())
        if web:
            entry.url = _url(rng)
            if rng.random() < cfg.web_boilerplate_rate:
                head = rng.sample(BOILERPLATE_HEAD, rng.randint(1, 2))
                foot = rng.sample(BOILERPLATE_FOOT, rng.randint(1, 3))
                entry.text = "\n".join([*head, entry.text, *foot])
                entry.boilerplate = True
                entry.defects.append({"kind": "boilerplate", "lines": [*head, *foot]})
        entries.append(entry)
    mine = {id(e) for e in entries}

    # Originals for copies: clean documents of this source, and for web also of every earlier source.
    # Near-duplicates copy only pages without boilerplate, so line removal cannot move their Jaccard.
    candidates = entries + (pool if web else [])
    originals = rng.sample(candidates, min(len(candidates), counts["exact_duplicate"]))
    for orig in originals:
        copy = _Entry(text=orig.text, key=after(orig, mine), outcome="exact_duplicate", original=orig,
                      boilerplate=orig.boilerplate)
        copy.defects = [{"kind": "exact_duplicate"}] + [d for d in orig.defects if d["kind"] == "boilerplate"]
        entries.append(copy)

    taken = {id(e) for e in originals}
    plain = [e for e in candidates if not e.boilerplate and id(e) not in taken]
    n_light, n_hard = counts.get("near_duplicate", 0), counts.get("hard_near_duplicate", 0)
    for k, orig in enumerate(rng.sample(plain, min(len(plain), n_light + n_hard))):
        band = "light" if k < n_light else "hard"
        text, edit_rate, jac = _near_copy(orig, band, cfg, rng)
        seen.add(text)
        outcome = "near_duplicate" if jac >= cfg.near_duplicate_threshold else "keep"
        defect = {"kind": "near_duplicate", "band": band, "edit_rate": round(edit_rate, 4), "jaccard": round(jac, 4)}
        entries.append(_Entry(text=text, key=after(orig, mine), outcome=outcome, original=orig, defects=[defect]))

    for _ in range(counts["short"]):
        entries.append(_Entry(text=fresh(lambda: _short_doc(source, rng)), key=rng.random(), outcome="short",
                              defects=[{"kind": "short"}]))
    for k in range(counts.get("non_english", 0)):
        lang = sorted(FOREIGN)[k % len(FOREIGN)]  # round robin, so every language shows up
        entries.append(_Entry(text=fresh(lambda: _non_english_doc(lang, rng)), key=rng.random(),
                              outcome="non_english", defects=[{"kind": "non_english", "language": lang}]))
    for _ in range(counts.get("junk", 0)):
        style, text = _junk_doc(rng)
        entries.append(_Entry(text=text, key=rng.random(), outcome="junk", defects=[{"kind": "junk", "style": style}]))
    first_kind = 0 if web else SOURCES.index(source)
    for k in range(counts["malformed"]):
        kind = MALFORMED_KINDS[(first_kind + k) % len(MALFORMED_KINDS)]
        text = _prose(rng.choice(GENRES[source]), rng, (3, 4), (3, 4))
        entries.append(_Entry(text=text, key=rng.random(), outcome="malformed", malformed=kind,
                              defects=[{"kind": "malformed", "detail": kind}]))

    entries.sort(key=lambda e: e.key)
    for line, entry in enumerate(entries, start=1):
        entry.id, entry.line = f"{source}-{line:06d}", line
        if web and entry.url is None and entry.malformed is None:
            entry.url = _url(rng)
    return entries


def _record_bytes(entry: _Entry, source: str) -> bytes:
    record: dict[str, Any] = {"id": entry.id, "text": entry.text, "domain": SOURCE_DOMAIN[source], "source": source}
    if entry.url is not None:
        record["url"] = entry.url
    if entry.malformed is None:
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
    line = json.dumps(record, ensure_ascii=False).encode("utf-8")
    if entry.malformed == "not_json":  # a record cut off mid-string, as a truncated download leaves it
        return line[: len(line) // 2]
    if entry.malformed == "invalid_utf8":  # bytes 0xFE and 0xFF never occur in UTF-8 (RFC 3629, section 1)
        at = line.index(b'"text": "') + len(b'"text": "')  # inside the string: only the bytes are wrong
        return line[:at] + b"\xff\xfe" + line[at:]
    if entry.malformed == "missing_text":
        record["body"] = record.pop("text")
    else:  # non_string_text: what a careless export writes (a list of paragraphs, a number)
        record["text"] = entry.text.split("\n") if entry.line % 2 else len(entry.text)
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _write_gzip(path: Path, lines: Sequence[bytes]) -> None:
    """Gzip with mtime=0 and no file name in the header, so the same seed gives byte-identical files."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        for line in lines:
            gz.write(line + b"\n")
    path.write_bytes(buf.getvalue())


def _dump_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_sample_corpus(cfg: SampleConfig, out_dir: Path) -> dict:
    """Writes ``<source>.jsonl.gz``, ``ground_truth.json`` and ``manifest.json`` into ``out_dir``; returns a summary."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {s: cfg.docs_per_domain for s in DOMAIN_SOURCES} | {"general": cfg.general_docs, "web": cfg.web_docs}

    pool: list[_Entry] = []  # clean documents of the sources written so far (originals for web copies)
    per_source: dict[str, list[_Entry]] = {}
    for source in SOURCES:
        # One RNG stream per source (string seeds hash with SHA-512: stable across runs and platforms).
        rng = random.Random(f"dapt-sample/{cfg.seed}/{source}")
        entries = _build_source(source, sizes[source], cfg, pool, rng)
        per_source[source] = entries
        pool.extend(e for e in entries if e.outcome == "keep" and not e.defects)

    docs: dict[str, dict[str, Any]] = {}
    defects: list[dict[str, Any]] = []
    files: dict[str, dict[str, Any]] = {}
    for source, entries in per_source.items():
        lines = [_record_bytes(e, source) for e in entries]
        path = out_dir / f"{source}.jsonl.gz"
        _write_gzip(path, lines)
        data = path.read_bytes()
        files[path.name] = {"records": len(lines), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for e in entries:
            docs[e.id] = {"source": source, "line": e.line, "outcome": e.outcome,
                          "kinds": [d["kind"] for d in e.defects]}
            for d in e.defects:
                extra = {"duplicate_of": e.original.id} if e.original is not None else {}
                defects.append({"id": e.id, "source": source, "line": e.line, **d, **extra})

    boilerplate_lines = sorted({line for d in defects if d["kind"] == "boilerplate" for line in d["lines"]})
    summary = {
        "files": {s: f"{s}.jsonl.gz" for s in SOURCES},
        "docs": {s: len(per_source[s]) for s in SOURCES},
        "total_docs": len(docs),
        "defects": dict(sorted(Counter(d["kind"] for d in defects).items())),
        "malformed": dict(sorted(Counter(d["detail"] for d in defects if d["kind"] == "malformed").items())),
        "outcomes": {o: sum(1 for d in docs.values() if d["outcome"] == o) for o in OUTCOMES},
        "bytes": sum(f["bytes"] for f in files.values()),
    }
    _dump_json(out_dir / "ground_truth.json", {
        "seed": cfg.seed,
        "ngram": NGRAM,
        "jaccard": "word 5-gram sets over lowercased \\w+ words",
        "near_duplicate_threshold": cfg.near_duplicate_threshold,
        "docs": docs,
        "defects": defects,
        "boilerplate_lines": boilerplate_lines,
        "counts": summary["defects"],
        "outcomes": summary["outcomes"],
    })
    _dump_json(out_dir / "manifest.json", {
        "stage": "sample",
        "config": cfg.model_dump(mode="json"),
        "inputs": {},
        "files": files,
        "summary": summary,
    })
    log.info("sample corpus: %d records in %d files, %.2f MB -> %s", len(docs), len(files),
             summary["bytes"] / 1e6, out_dir)
    return summary
