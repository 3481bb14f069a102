"""What the sample corpus's templates share: the Genre record, slot fillers drawn from the RNG, name lists.

Written for dapt. Every {slot} of a template is filled independently; slot values are lists or functions
of the RNG (`pipeline.sample` fills them).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class Genre:
    """Sentence templates of one kind of document and the slot fillers they draw on."""

    name: str
    templates: tuple[str, ...]
    slots: dict[str, Any]


def money(rng: random.Random) -> str:
    return f"${rng.randint(1, 999)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}"


def money_m(rng: random.Random) -> str:
    return f"${rng.uniform(5, 950):,.1f} million"


def money_b(rng: random.Random) -> str:
    return f"${rng.uniform(1, 40):.2f} billion"


def pct(rng: random.Random) -> str:
    return f"{rng.uniform(1, 45):.1f}%"


def pct_small(rng: random.Random) -> str:
    return f"{rng.uniform(0.1, 4):.1f}%"


def eps(rng: random.Random) -> str:
    return f"${rng.uniform(0.05, 6):.2f}"


def integer(lo: int, hi: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(lo, hi))


def date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(2015, 2025)}"


def ticker(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(2, 4)))
    return f"{rng.choice(('NYSE', 'NASDAQ', 'Nasdaq'))}: {letters}"


def case(rng: random.Random) -> str:
    return (f"{rng.choice(SURNAMES)} v. {rng.choice(SURNAMES + COMPANY_STEMS)}, "
            f"{rng.randint(100, 599)} {rng.choice(('U.S.', 'F.3d', 'F.4th', 'F. Supp. 3d', 'N.E.2d', 'P.3d'))} "
            f"{rng.randint(1, 1400)} ({rng.randint(1968, 2024)})")


def cite(rng: random.Random) -> str:
    return rng.choice((f"{rng.randint(5, 50)} U.S.C. § {rng.randint(100, 2999)}({rng.choice('abcdef')})"
                       f"({rng.randint(1, 9)})", f"§ {rng.randint(10, 999)}.{rng.randint(1, 99)}",
                       "42 U.S.C. § 1983(a)(2)", f"section {rng.randint(2, 40)}({rng.choice('abcd')}) of this Act"))


def company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_STEMS)} {rng.choice(COMPANY_KINDS)}"


def person(rng: random.Random) -> str:
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
