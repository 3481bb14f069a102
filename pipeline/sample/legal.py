"""Legal templates of the sample corpus (statutes, contracts, opinions), written for dapt."""

from __future__ import annotations

from typing import Any

from dapt.pipeline.sample.terms import STATES, Genre, case, cite, company, date, integer, money, person

LEGAL_SLOTS: dict[str, Any] = {
    "cite": cite, "case": case, "company": company, "person": person, "date": date, "money": money,
    "state": STATES, "days": integer(10, 90), "years": integer(2, 10), "months": ["six", "twelve", "eighteen", "24"],
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
