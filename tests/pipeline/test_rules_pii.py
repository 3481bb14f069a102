"""PII redaction: typed placeholders, counts per type, Luhn-checked cards, no false hits on legal citations."""

import pytest

from dapt.pipeline.rules.pii import luhn_valid, redact_pii


@pytest.mark.parametrize(
    "text, redacted, counts",
    [
        ("Write to jane.doe+news@example.co.uk today.", "Write to <EMAIL> today.", {"email": 1}),
        ("Call (202) 555-0143 or 202.555.0178.", "Call <PHONE> or <PHONE>.", {"phone": 2}),
        ("Dial +1-415-555-2671 or +44 20 7946 0958.", "Dial <PHONE> or <PHONE>.", {"phone": 2}),
        ("Server 192.168.10.4 and 2001:db8::ff00:42:8329 failed.", "Server <IP> and <IP> failed.", {"ip": 2}),
        # Visa test number (Luhn-valid) is redacted; one digit changed fails Luhn and stays.
        ("Card 4111 1111 1111 1111 expires soon.", "Card <CARD> expires soon.", {"card": 1}),
        ("Order 4111 1111 1111 1112 shipped.", "Order 4111 1111 1111 1112 shipped.", {}),
        ("Amex 3782-822463-10005 on file.", "Amex <CARD> on file.", {"card": 1}),
        ("SSN 123-45-6789 on the form.", "SSN <SSN> on the form.", {"ssn": 1}),
        # SSA never issues area 000, 666 or 9xx, group 00 or serial 0000.
        ("Ref 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567.", "Ref 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567.", {}),
        # Legal and medical text that must not be touched.
        ("See D.C. Code § 2-1401.02 (2001) and 42 U.S.C. § 1983.", "See D.C. Code § 2-1401.02 (2001) and 42 U.S.C. § 1983.", {}),
        ("Sig: 1 tab po qid pc & hs; BP 120/80; 1990-1995.", "Sig: 1 tab po qid pc & hs; BP 120/80; 1990-1995.", {}),
        ("Version 1.2.3.4.5 and section 10.0.0 apply.", "Version 1.2.3.4.5 and section 10.0.0 apply.", {}),
    ],
)
def test_redact_pii(text, redacted, counts):
    assert redact_pii(text) == (redacted, counts)


def test_only_wanted_kinds_are_redacted():
    text = "Mail a@b.org from 10.0.0.1"
    assert redact_pii(text, {"ip"}) == ("Mail a@b.org from <IP>", {"ip": 1})


@pytest.mark.parametrize("number, valid", [("4111111111111111", True), ("4111111111111112", False),
                                            ("79927398713", True), ("5555555555554444", True)])
def test_luhn(number, valid):
    assert luhn_valid(number) is valid
