"""Financial templates of the sample corpus (earnings releases, filings, market news), written for dapt."""

from __future__ import annotations

from typing import Any

from dapt.pipeline.sample.terms import (
    Genre, company, date, eps, integer, money, money_b, money_m, pct, pct_small, person, ticker,
)

FIN_SLOTS: dict[str, Any] = {
    "company": company, "person": person, "date": date, "money": money, "money_m": money_m,
    "money_b": money_b, "pct": pct, "pct_small": pct_small, "eps": eps, "ticker": ticker,
    "bps": integer(10, 250), "bps_small": integer(2, 30), "year": integer(2024, 2027), "shares": integer(1, 40),
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
    "points": integer(12, 480), "level": lambda rng: f"{rng.randint(3000, 42000):,}.{rng.randint(0, 99):02d}",
    "yield": lambda rng: f"{rng.uniform(3.1, 5.2):.2f}%",
    "bank": ["Goldman Sachs", "Morgan Stanley", "JPMorgan", "Barclays", "UBS", "Jefferies", "Citi"],
    "rating": ["buy", "hold", "sell", "overweight", "underweight", "neutral"],
    "action": ["upgraded", "downgraded", "initiated coverage of", "reiterated a rating on"],
    "volume": lambda rng: f"{rng.uniform(1, 60):.1f}", "multiple": integer(2, 30),
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
