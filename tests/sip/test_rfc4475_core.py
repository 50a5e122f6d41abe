"""RFC 4475 torture messages fed to the UA core: each gets the answer the manifest names, never a crash.

§3.2 (transaction layer), §3.3 (application layer), §3.4 (RFC 2543 compatibility),
plus the §3.1 messages that parse and reach the core (unknown methods, version).
Messages the parser rejects never reach a core; the transport answers or drops them.
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("simsip.sip.codes")

from simsip.sip.events import Address, AppEvent, SendMessage  # noqa: E402
from simsip.sip.message import SipParseError, parse  # noqa: E402
from simsip.sip.ua import UserAgentCore  # noqa: E402

# file -> (expected status sent, or None for "silently discarded"/"accepted"), RFC 4475 section
EXPECTED: dict[str, tuple[object, str]] = {
    "badbranch.dat": (200, "3.2.1 RFC 2543 matching, OPTIONS answered"),
    "insuf.dat": (400, "3.3.1"),
    "unkscm.dat": (416, "3.3.2"),
    "novelsc.dat": (416, "3.3.3"),
    "unksm2.dat": (405, "3.3.4 (a UA is no registrar: REGISTER not allowed)"),
    "bext01.dat": (420, "3.3.5"),
    "invut.dat": (415, "3.3.6"),
    "regaut01.dat": (405, "3.3.7 non-registrar endpoint"),
    "multi01.dat": (400, "3.3.8"),
    "mcl01.dat": (400, "3.3.9"),
    "bcast.dat": ("discard", "3.3.10 endpoint discards"),
    "zeromf.dat": (200, "3.3.11 endpoint processes Max-Forwards 0 normally"),
    "cparam01.dat": (405, "3.3.12 (registrar test; a UA answers 405)"),
    "cparam02.dat": (405, "3.3.13 (registrar test; a UA answers 405)"),
    "regescrt.dat": (405, "3.3.14 (registrar test; a UA answers 405)"),
    "sdp01.dat": (406, "3.3.15"),
    "inv2543.dat": ("accept", "3.4.1"),
    "badvers.dat": (505, "3.1.2.16"),
    "mismatch01.dat": (400, "3.1.2.17"),
    "mismatch02.dat": (501, "3.1.2.18"),
    "intmeth.dat": (501, "3.1.1.2 unknown method at an endpoint"),
    "esc02.dat": (501, "3.1.1.5 RE%47IST%45R is an unknown method"),
    "wsinv.dat": (481, "3.1.1.1 well-formed; its To tag names no dialog here (RFC 3261 §12.2.2)"),
    "esc01.dat": ("accept", "3.1.1.3"),
    "longreq.dat": ("accept", "3.1.1.7"),
    "lwsdisp.dat": (200, "3.1.1.6"),
    "semiuri.dat": (200, "3.1.1.9"),
    "transports.dat": (200, "3.1.1.10"),
    "mpart01.dat": (405, "3.1.1.11 MESSAGE is not a method this UA allows"),
    "dblreq.dat": (405, "3.1.1.8 the REGISTER is processed (a UA answers 405)"),
    "escnull.dat": (405, "3.1.1.4 REGISTER at a UA"),
    "noreason.dat": ("discard", "3.1.1.13 a response matching no transaction"),
    "unreason.dat": ("discard", "3.1.1.12 a response matching no transaction"),
}


def feed(path) -> tuple[list[SendMessage], list[AppEvent], UserAgentCore]:
    """Give one torture message to a fresh UA core; return what it sent and reported."""
    try:
        message = parse(path.read_bytes())
    except SipParseError as exc:
        pytest.skip(f"the parser rejects it ({exc}); the transport answers, no core sees it")
    ua = UserAgentCore("ua", "ua.example.com", rng=random.Random(4475))
    actions = ua.receive(0.0, message, Address("192.0.2.1"))
    sends = [a for a in actions if isinstance(a, SendMessage)]
    events = [a for a in actions if isinstance(a, AppEvent)]
    return sends, events, ua


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rfc4475_message_gets_manifest_answer(name: str, conformance_dir) -> None:
    """RFC 4475 §3.1-3.4: the answer named in the manifest (section in the case table)."""
    expected, _section = EXPECTED[name]
    sends, events, _ = feed(conformance_dir / "rfc4475" / name)
    if expected == "discard":
        assert sends == [] and [e.kind for e in events] == ["discarded"]
    elif expected == "accept":
        assert sends == [] and [e.kind for e in events] == ["request"]
    else:
        assert [s.message.status for s in sends] == [expected]
        if expected not in (400,):  # a 400 copies a possibly unparseable To as it came
            assert sends[0].message.to.tag  # §8.2.6.2: every non-100 response carries a To tag


def test_manifest_covers_sections_3_2_to_3_4(conformance_dir) -> None:
    """Every §3.2, §3.3 and §3.4 message of the manifest has an expectation here."""
    rows = (conformance_dir / "rfc4475" / "manifest.tsv").read_text().splitlines()[1:]
    wanted = {row.split("\t")[0] for row in rows if row.split("\t")[1][:3] in ("3.2", "3.3", "3.4")}
    assert wanted <= set(EXPECTED)


def test_bext01_unsupported_lists_require_not_proxy_require_rfc4475_3_3_5(conformance_dir) -> None:
    """RFC 4475 §3.3.5 / RFC 3261 §8.2.2.3: a UAS lists the Require tags in Unsupported."""
    sends, _, _ = feed(conformance_dir / "rfc4475" / "bext01.dat")
    assert sends[0].message.unsupported == ["nothingSupportsThis", "nothingSupportsThisEither"]


def test_unknown_method_501_lists_allow_rfc3261_8_2_1(conformance_dir) -> None:
    """RFC 3261 §8.2.1 / RFC 4475 §3.1.1.2: 501 with Allow for an unknown method."""
    sends, _, _ = feed(conformance_dir / "rfc4475" / "intmeth.dat")
    assert sends[0].message.allow == ["INVITE", "ACK", "CANCEL", "BYE", "PRACK", "OPTIONS"]


def test_invut_415_names_accept_rfc3261_8_2_3(conformance_dir) -> None:
    """RFC 3261 §8.2.3 / RFC 4475 §3.3.6: 415 with an Accept header."""
    sends, _, _ = feed(conformance_dir / "rfc4475" / "invut.dat")
    assert sends[0].message.headers.get("Accept") == "application/sdp"


def test_sdp01_406_with_warning_399_rfc4475_3_3_15(conformance_dir) -> None:
    """RFC 4475 §3.3.15: 406 Not Acceptable with a Warning 399."""
    sends, _, _ = feed(conformance_dir / "rfc4475" / "sdp01.dat")
    assert sends[0].message.headers.get("Warning").startswith("399 ua.example.com ")


def test_badbranch_uses_rfc2543_transaction_rfc4475_3_2_1(conformance_dir) -> None:
    """RFC 4475 §3.2.1: the branch 'z9hG4bK' alone identifies nothing: RFC 2543 matching is used."""
    _, _, ua = feed(conformance_dir / "rfc4475" / "badbranch.dat")
    (key,) = ua.layer.servers
    assert key[0] == "2543"


def test_inv2543_can_be_answered_rfc4475_3_4_1(conformance_dir) -> None:
    """RFC 4475 §3.4.1: an RFC 2543 INVITE (no branch, no From tag) is accepted and can be answered."""
    from simsip.sip.message import parse as parse_message

    message = parse_message((conformance_dir / "rfc4475" / "inv2543.dat").read_bytes())
    ua = UserAgentCore("ua", "ua.example.com", rng=random.Random(1))
    ua.receive(0.0, message, Address("192.0.2.1"))
    actions = ua.respond(0.1, message.call_id, 180)
    ringing = [a for a in actions if isinstance(a, SendMessage)][0].message
    assert ringing.status == 180 and ringing.to.tag
    again = ua.receive(0.5, parse_message((conformance_dir / "rfc4475" / "inv2543.dat").read_bytes()),
                       Address("192.0.2.1"))
    # The retransmission is matched (RFC 2543 rules) and gets the 180 again, not a new call.
    assert [a.message.status for a in again if isinstance(a, SendMessage)] == [180]
    assert not [a for a in again if isinstance(a, AppEvent)]


def test_inv2543_call_can_be_hung_up_by_the_callee_rfc4475_3_4_1(conformance_dir) -> None:
    """RFC 4475 §3.4.1: the RFC 2543 INVITE has no Contact and no From tag, and its call can still end.

    The callee's BYE goes to the From URI (RFC 2543's target when there is no Contact),
    through the strict-routing Record-Route (RFC 3261 §12.2.1.1: first route in the
    Request-URI, remote target as the last Route), with a To without tag: the remote tag
    is null (RFC 3261 §12.1.1), so there is none to copy (§12.2.1.1).
    """
    text = (conformance_dir / "rfc4475" / "inv2543.dat").read_bytes()
    invite = parse(text)
    ua = UserAgentCore("ua", "ua.example.com", rng=random.Random(1))
    ua.receive(0.0, invite, Address("192.0.2.1"))
    ok = [a.message for a in ua.respond(0.1, invite.call_id, 200) if isinstance(a, SendMessage)][0]
    ack = text.split(b"\r\n\r\n")[0].replace(b"INVITE sip:", b"ACK sip:").replace(b"56 INVITE", b"56 ACK")
    ack = ack.replace(b"To: sip:+16505552222@ss1.example.net;user=phone", f"To: {ok.headers.get('To')}".encode())
    ack = ack.replace(b"Content-Type: application/sdp", b"Content-Length: 0") + b"\r\n\r\n"
    ua.receive(0.2, parse(ack), Address("192.0.2.1"))
    (bye,) = [a.message for a in ua.hangup(0.3, invite.call_id) if isinstance(a, SendMessage)]
    assert str(bye.uri) == "sip:UserB@example.com;maddr=ss1.example.com"
    assert bye.headers.get_all("Route") == ["<sip:+13035551111@ift.client.example.net;user=phone>"]
    assert bye.headers.get("To") == "<sip:+13035551111@ift.client.example.net;user=phone>"
    assert bye.to.tag is None and bye.from_.tag == ok.to.tag and bye.call_id == invite.call_id


def test_no_torture_message_crashes_the_core(conformance_dir) -> None:
    """RFC 4475 §1: whatever parses must not crash the UA core (all 49 + the extra)."""
    for path in sorted((conformance_dir / "rfc4475").rglob("*.dat")):
        try:
            message = parse(path.read_bytes())
        except SipParseError:
            continue
        ua = UserAgentCore("ua", "ua.example.com", rng=random.Random(1))
        ua.receive(0.0, message, Address("192.0.2.1"))
        for name in list(ua._core_timers):
            ua.timer_fired(1.0, name)
