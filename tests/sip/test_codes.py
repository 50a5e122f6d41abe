"""The response-code and method table (RFC 3261 §21 and the later RFCs that registered codes)."""

from __future__ import annotations

import pytest

from simsip.sip.codes import CLASSES, CODES, METHODS, class_name, is_final, is_provisional, lookup, reason_phrase


def test_502_is_bad_gateway_and_503_service_unavailable() -> None:
    """RFC 3261 §21.5.3/§21.5.4: a widely read primer's "502 Service unavailable" is a typo."""
    assert reason_phrase(502) == "Bad Gateway"
    assert reason_phrase(503) == "Service Unavailable"
    assert (CODES[503].class_name, CODES[503].kind, CODES[503].rfc, CODES[503].section) == (
        "Server Error", "final", "RFC 3261", "21.5.4")


def test_every_rfc3261_section_21_code_is_present() -> None:
    """RFC 3261 §21 defines exactly these codes; each carries its §21 subsection."""
    rfc3261 = {c.code for c in CODES.values() if c.rfc == "RFC 3261"}
    assert rfc3261 == {
        100, 180, 181, 182, 183, 200, 300, 301, 302, 305, 380,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 410, 413, 414, 415, 416, 420, 421, 423,
        480, 481, 482, 483, 484, 485, 486, 487, 488, 491, 493,
        500, 501, 502, 503, 504, 505, 513, 600, 603, 604, 606,
    }
    assert all(c.section.startswith(f"21.{c.code // 100}.") for c in CODES.values() if c.rfc == "RFC 3261")


@pytest.mark.parametrize(
    ("code", "reason", "rfc"),
    [
        (199, "Early Dialog Terminated", "RFC 6228"),
        (202, "Accepted", "RFC 6665"),
        (204, "No Notification", "RFC 5839"),
        (380, "Alternative Service", "RFC 3261"),
        (412, "Conditional Request Failed", "RFC 3903"),
        (417, "Unknown Resource-Priority", "RFC 4412"),
        (421, "Extension Required", "RFC 3261"),
        (422, "Session Interval Too Small", "RFC 4028"),
        (423, "Interval Too Brief", "RFC 3261"),
        (428, "Use Identity Header", "RFC 8224"),
        (429, "Provide Referrer Identity", "RFC 3892"),
        (433, "Anonymity Disallowed", "RFC 5079"),
        (436, "Bad Identity Info", "RFC 8224"),
        (437, "Unsupported Credential", "RFC 8224"),
        (438, "Invalid Identity Header", "RFC 8224"),
        (439, "First Hop Lacks Outbound Support", "RFC 5626"),
        (440, "Max-Breadth Exceeded", "RFC 5393"),
        (469, "Bad Info Package", "RFC 6086"),
        (470, "Consent Needed", "RFC 5360"),
        (481, "Call/Transaction Does Not Exist", "RFC 3261"),
        (489, "Bad Event", "RFC 6665"),
        (491, "Request Pending", "RFC 3261"),
        (493, "Undecipherable", "RFC 3261"),
        (494, "Security Agreement Required", "RFC 3329"),
        (504, "Server Time-out", "RFC 3261"),
        (580, "Precondition Failure", "RFC 3312"),
        (607, "Unwanted", "RFC 8197"),
        (608, "Rejected", "RFC 8688"),
    ],
)
def test_registered_codes(code: int, reason: str, rfc: str) -> None:
    """Reason phrases as the defining RFC spells them."""
    entry = lookup(code)
    assert entry is not None and (entry.reason, entry.rfc) == (reason, rfc)


def test_classes_and_kinds() -> None:
    """RFC 3261 §7.2: the first digit gives the class; only 1xx is provisional."""
    assert CLASSES == {1: "Informational", 2: "Success", 3: "Redirection", 4: "Client Error",
                       5: "Server Error", 6: "Global Failure"}
    assert [c.code for c in CODES.values() if c.provisional] == [100, 180, 181, 182, 183, 199]
    assert all(c.kind == ("provisional" if c.code < 200 else "final") for c in CODES.values())
    assert is_provisional(183) and not is_provisional(200) and is_final(699) and not is_final(180)
    assert class_name(608) == "Global Failure"
    with pytest.raises(ValueError):
        class_name(700)
    # RFC 3261 §8.1.3.2: an unknown code reads as the x00 of its class.
    assert reason_phrase(299) == "Success" and lookup(299) is None


def test_methods() -> None:
    """The fourteen methods and the RFCs that define them."""
    assert {m: METHODS[m].rfc for m in METHODS} == {
        "INVITE": "RFC 3261", "ACK": "RFC 3261", "BYE": "RFC 3261", "CANCEL": "RFC 3261",
        "OPTIONS": "RFC 3261", "REGISTER": "RFC 3261", "PRACK": "RFC 3262", "SUBSCRIBE": "RFC 6665",
        "NOTIFY": "RFC 6665", "PUBLISH": "RFC 3903", "INFO": "RFC 6086", "REFER": "RFC 3515",
        "MESSAGE": "RFC 3428", "UPDATE": "RFC 3311",
    }
