"""PII redaction (pure functions): e-mail, phone, IP, payment card (Luhn-checked) and US SSN.

Each match becomes a typed placeholder (``<EMAIL>``, ``<PHONE>``, ``<IP>``, ``<CARD>``, ``<SSN>``) and is
counted per type. The patterns are deliberately conservative: legal citations (``D.C. Code § 2-1401.02``),
dates and statute numbers must not be mistaken for phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PLACEHOLDERS = {"email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP>", "card": "<CARD>", "ssn": "<SSN>"}

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
# US SSN as written with dashes; SSA never issues area 000, 666 or 900-999, group 00 or serial 0000.
SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
# 13-19 digits, optionally in groups split by single spaces or dashes; confirmed with the Luhn checksum.
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.]*\d)")
IPV6 = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![:\w])"
                  r"|(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![:\w])")
# North American numbers need a separator before the last four digits ("202-555-0143", "(202) 555 0143",
# "+1 202.555.0143"); international ones need a leading "+" and 8-15 digits (E.164).
PHONE_NANP = re.compile(r"(?<![\w+-])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\)|[2-9]\d{2})[ .-]?[2-9]\d{2}[ .-]\d{4}(?![\w-])")
PHONE_INTL = re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-])")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number satisfies (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    # Issuer prefixes in use start with 2-6 (Mastercard 2-series, Amex 3, Visa 4, Mastercard 5, Discover 6).
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _is_intl_phone(match: re.Match[str]) -> bool:
    return 8 <= len(re.sub(r"\D", "", match.group())) <= 15


# Order matters: the more specific patterns go first so a card number is not read as a phone number.
# Each full pattern (with its costly look-behinds) only runs when a cheap pre-check finds a candidate.
_RULES: list[tuple[str, re.Pattern[str], re.Pattern[str], Callable[[re.Match[str]], bool] | None]] = [
    ("email", EMAIL, re.compile("@"), None),
    ("card", CARD, re.compile(r"\d{4}[ -]?\d{4}"), _is_card),
    ("ssn", SSN, re.compile(r"\d{3}-\d\d-\d{4}"), None),
    ("ip", IPV4, re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d"), None),
    ("ip", IPV6, re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"), None),
    ("phone", PHONE_NANP, re.compile(r"\d{3}[ .-]\d{4}"), None),
    ("phone", PHONE_INTL, re.compile(r"\+[1-9]"), _is_intl_phone),
]


def redact_pii(text: str, kinds: frozenset[str] | set[str] = frozenset(PLACEHOLDERS)) -> tuple[str, dict[str, int]]:
    """Replaces every PII match of the wanted ``kinds`` with its placeholder; returns the text and counts."""
    counts: dict[str, int] = {}
    for kind, pattern, candidate, accept in _RULES:
        if kind not in kinds or not candidate.search(text):
            continue
        placeholder = PLACEHOLDERS[kind]

        def replace(match: re.Match[str], kind: str = kind, placeholder: str = placeholder, accept=accept) -> str:
            if accept is not None and not accept(match):
                return match.group()
            counts[kind] = counts.get(kind, 0) + 1
            return placeholder

        text = pattern.sub(replace, text)
    return text, counts
