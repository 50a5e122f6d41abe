"""UA core: the per-request checks (RFC 3261 §8.1.1, §8.2) and the values a core works out once.

The §8.2 checks run once per request with the cheapest reader; these tests pin the
exact answers (reason phrases included) so that stays invisible from outside.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import pair  # noqa: E402

from simsip.sip.dialog import Dialog, DialogEvent  # noqa: E402
from simsip.sip.events import Address, AppEvent, SendMessage, StartTimer, StateChange  # noqa: E402
from simsip.sip.message import Request, parse  # noqa: E402
from simsip.sip.ua import UAOptions, UserAgentCore  # noqa: E402

VIA = "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
TO = "To: Bob <sip:bob@biloxi.example.com>\r\n"
FROM = "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
CALL_ID = "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
CSEQ = "CSeq: 314159 INVITE\r\n"


def invite_text(to: str = TO, from_: str = FROM, call_id: str = CALL_ID, cseq: str = CSEQ, via: str = VIA,
                extra: str = "", method: str = "INVITE") -> bytes:
    """An INVITE (or ``method``) to bob with the given header lines."""
    return (f"{method} sip:bob@biloxi.example.com SIP/2.0\r\n{via}Max-Forwards: 70\r\n{to}{from_}{call_id}{cseq}"
            f"Contact: <sip:alice@pc33.atlanta.example.com>\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def bob_core(**options) -> UserAgentCore:
    """A fresh callee core."""
    return UserAgentCore("bob", "biloxi.example.com", rng=random.Random(3), options=UAOptions(**options))


def answer(actions: list) -> str | None:
    """The status line of the response the core sent, if any."""
    sent = [a.message for a in actions if isinstance(a, SendMessage)]
    return f"{sent[0].status} {sent[0].reason}" if sent else None


@pytest.mark.parametrize(("text", "status"), [
    (invite_text(to=TO * 2), "400 Bad Request (need exactly one To)"),
    (invite_text(to=""), "400 Bad Request (need exactly one To)"),
    (invite_text(from_=FROM * 2), "400 Bad Request (need exactly one From)"),
    (invite_text(call_id=""), "400 Bad Request (need exactly one Call-ID)"),
    (invite_text(call_id=CALL_ID * 2, to=TO * 2), "400 Bad Request (need exactly one Call-ID)"),
    # CSeq is read for the transaction key: two of them fail there, before the count.
    (invite_text(cseq=CSEQ * 2), "400 Bad Request (malformed SipParseError)"),
    # RFC 2543 branch (RFC 4475 §3.2.1): the key reads Call-ID and From, so two From fail there.
    (invite_text(via=VIA.replace("z9hG4bK776asdhds", "776asdhds"), from_=FROM * 2),
     "400 Bad Request (malformed SipParseError)"),
    (invite_text(via=VIA.replace("z9hG4bK776asdhds", "776asdhds"), to=TO * 2),
     "400 Bad Request (need exactly one To)"),
])
def test_exactly_one_to_from_call_id_cseq_rfc3261_8_1_1(text: bytes, status: str) -> None:
    """§8.1.1, RFC 4475 §3.3.1 / §3.3.8: a request without exactly one To, From, Call-ID, CSeq gets 400."""
    assert answer(bob_core().receive(0.0, parse(text), Address("pc33.atlanta.example.com"))) == status


@pytest.mark.parametrize(("to", "tagged"), [
    ("To: Bob <sip:bob@biloxi.example.com>;TAG=314\r\n", "Bob <sip:bob@biloxi.example.com>;TAG=314"),
    ("To: Bob <sip:bob@biloxi.example.com> ;\ttag = 314\r\n", "Bob <sip:bob@biloxi.example.com> ;\ttag = 314"),
])
def test_stateless_400_keeps_a_to_tag_in_any_case_rfc3261_8_2_6_2(to: str, tagged: str) -> None:
    """§8.2.6.2: a tag is added only when the To has none; "tag" is a parameter name, case-insensitive (§7.3.1)."""
    actions = bob_core().receive(0.0, parse(invite_text(to=to, from_=FROM * 2)), Address("pc33.atlanta.example.com"))
    sent = [a.message for a in actions if isinstance(a, SendMessage)]
    assert [(m.status, m.headers.get_all("To")) for m in sent] == [(400, [tagged])]


def test_ack_with_two_to_is_discarded_not_answered_rfc3261_17_1_1_3() -> None:
    """§17: an ACK gets no response; a broken one is only reported as discarded."""
    ack = parse(invite_text(to=TO * 2, cseq="CSeq: 314159 ACK\r\n", method="ACK"))
    actions = bob_core().receive(0.0, ack, Address("pc33.atlanta.example.com"))
    assert actions == [AppEvent("discarded", "a84b4c76e66710@pc33.atlanta.example.com", ack,
                                {"reason": "need exactly one To"})]


@pytest.mark.parametrize(("extra", "status"), [
    ("Require: foo, 100REL\r\n", "420 Bad Extension"),
    ("Require: 100REL\r\n", None),
    ("Accept: text/plain\r\n", "406 Not Acceptable"),
    ("Accept: application/*\r\n", None),
])
def test_require_and_accept_rfc3261_8_2_2_3(extra: str, status: str | None) -> None:
    """§8.2.2.3: option tags compare case-insensitively; RFC 4475 §3.3.15: Accept must admit SDP."""
    actions = bob_core().receive(0.0, parse(invite_text(extra=extra)), Address("pc33.atlanta.example.com"))
    assert answer(actions) == status
    if status is None:
        assert [a.detail["require_100rel"] for a in actions if isinstance(a, AppEvent)] == ["100REL" in extra]


def test_bodiless_invite_with_broken_content_type_still_raises() -> None:
    """A Content-Type that does not parse is read (and raises) even without a body, as it always was."""
    request = Request("INVITE", "sip:bob@biloxi.example.com", [
        ("Via", VIA[5:-2]), ("To", TO[4:-2]), ("From", FROM[6:-2]), ("Call-ID", CALL_ID[9:-2]),
        ("CSeq", CSEQ[6:-2]), ("Content-Type", "///")])
    with pytest.raises(Exception):
        bob_core().receive(0.0, request, Address("pc33.atlanta.example.com"))


def test_new_options_are_taken_up_rfc3262_3() -> None:
    """Assigning ``config`` (a B2BUA does) changes 100rel support, the From display name and 100 Trying."""
    core = UserAgentCore("alice", "atlanta.example.com", rng=random.Random(1))
    core.config = dataclasses.replace(core.config, supports_100rel=False, display_name="Alice", auto_trying=False)
    _, actions = core.invite(0.0, "sip:bob@biloxi.example.com")
    invite = actions[0].message
    assert invite.headers.get("From").startswith('"Alice" <sip:alice@atlanta.example.com>;tag=')
    assert "Supported" not in invite.headers
    actions = core.receive(0.0, parse(invite_text(extra="Require: 100rel\r\n")), Address("pc33"))
    assert answer(actions) == "420 Bad Extension"
    actions = core.receive(0.0, parse(invite_text(cseq="CSeq: 1 INVITE\r\n", call_id="Call-ID: other@x\r\n",
                                                   via=VIA.replace("776", "777"))), Address("pc33"))
    assert not [a for a in actions if isinstance(a, StartTimer) and a.label == "trying"]  # no-trying


def test_call_targets_given_as_text_give_equal_requests_rfc3261_8_1_1_1() -> None:
    """§8.1.1.1-2: the Request-URI and To of every INVITE to the same target text are the same."""
    net, alice, _ = pair()
    first = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    second = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    invites = [s.message for s in net.sends("alice", "INVITE")]
    assert first != second and len(invites) == 2
    assert str(invites[0].uri) == str(invites[1].uri) == "sip:bob@bob"
    assert invites[0].headers.get("To") == invites[1].headers.get("To") == "<sip:bob@bob>"


def test_dialog_requests_and_state_changes_rfc3261_12_2_1_1() -> None:
    """§12.2.1.1: From/To/CSeq of requests in a dialog; RFC 5407 §2 state names in StateChange."""
    invite = parse(invite_text())
    dialog = Dialog.from_uas(invite, "bobtag")
    assert dialog.feed(DialogEvent.PROVISIONAL) == [
        StateChange("dialog a84b4c76e66710@pc33.atlanta.example.com;bobtag;1928301774", "Preparative", "Early",
                    "a84b4c76e66710@pc33.atlanta.example.com")]
    assert dialog.feed(DialogEvent.ACK) == []  # not in the table: ignored
    bye = dialog.build_request("BYE", "SIP/2.0/UDP biloxi.example.com;branch=z9hG4bK1")
    again = dialog.build_request("BYE", "SIP/2.0/UDP biloxi.example.com;branch=z9hG4bK2")
    assert bye.headers.get("From") == again.headers.get("From") == '"Bob" <sip:bob@biloxi.example.com>;tag=bobtag'
    assert bye.headers.get("To") == '"Alice" <sip:alice@atlanta.example.com>;tag=1928301774'
    assert [bye.headers.get("CSeq"), again.headers.get("CSeq")] == ["1 BYE", "2 BYE"]
    assert str(bye.uri) == "sip:alice@pc33.atlanta.example.com"


def test_built_requests_carry_the_parse_of_their_lines_rfc3261_8_1_1() -> None:
    """INVITE, PRACK, ACK, BYE and re-INVITE come with parsed Via/From (fresh branch and tag) equal to their text's parse."""
    from corehelp import dial
    from test_message_fastpaths import built_state

    from simsip.sip.message import Headers

    net, alice, bob = pair()
    call_id = dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.5, 200, {})])
    net.run(until=2.0)
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.run(until=4.0)
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run(until=8.0)
    sent = [s.message for s in net.sends("alice")]
    labels = [getattr(m, "method", None) for m in sent]
    assert [x for x in ("INVITE", "PRACK", "ACK", "BYE") if x not in labels] == [] and labels.count("INVITE") == 2
    for message in sent:
        reparsed = Headers()
        for name, value in message.headers:
            reparsed.add(name, value)
        assert built_state(message.headers) == built_state(reparsed), message


def _problem_inputs() -> list[bytes]:
    """RFC 4475 torture requests and variants of one INVITE that each break one §8.1.1 / §17.2.3 need."""
    from conftest import RFC4475

    texts = [path.read_bytes() for path in sorted(RFC4475.glob("*.dat"))]
    return texts + [
        invite_text(), invite_text(to=TO * 2), invite_text(from_=FROM * 2), invite_text(call_id=""),
        invite_text(cseq=CSEQ * 2), invite_text(via=""), invite_text(via=VIA * 2),
        invite_text(via=VIA.replace("z9hG4bK776asdhds", "z9hG4bK")),
        invite_text(via=VIA.replace("z9hG4bK776asdhds", "776asdhds")),
        invite_text(extra="Content-Length: 0\r\n"), invite_text(extra="Content-Length: 5\r\n"),
    ]


def test_transaction_problem_shortcut_answers_as_the_full_checks_rfc3261_8_1_1() -> None:
    """§8.1.1 / §17.2.3 / RFC 4475: the shortcut over parsed values gives the full checks' verdict for every request."""
    from simsip.sip.message import Headers, Request
    from simsip.sip.ua import _transaction_problem, _transaction_problem_full

    seen = set()
    for text in _problem_inputs():
        try:
            message = parse(text)
        except Exception:
            continue
        if not isinstance(message, Request):
            continue
        rebuilt = Request(message.method, message.uri, Headers(list(message.headers)), message.body)
        copied = message.copy()  # a copy's read index is rebuilt on demand
        for m in (message, rebuilt, copied):
            verdict = _transaction_problem_full(m)
            assert _transaction_problem(m) == verdict, text[:60]
            seen.add(verdict)
    assert {None, "need exactly one To", "conflicting Content-Length"} <= seen


@pytest.mark.parametrize("call_id", ["abc@host", "a b", "x@y@z", " padded@host"])
def test_invite_with_given_call_id_reads_as_its_text_rfc3261_8_1_1_4(call_id: str) -> None:
    """§8.1.1.4: an INVITE with the application's Call-ID carries it as its text parses; a bad one raises."""
    from test_message_fastpaths import built_state

    from simsip.sip.message import Headers, SipParseError

    net, alice, _ = pair()
    if call_id in ("a b", "x@y@z"):
        with pytest.raises(SipParseError, match="bad Call-ID"):  # the transaction reads it, as before
            net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", call_id=call_id))
        return
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", call_id=call_id))
    invite = net.sends("alice", "INVITE")[0].message
    reparsed = Headers()
    for name, value in invite.headers:
        reparsed.add(name, value)
    assert built_state(invite.headers) == built_state(reparsed)
    assert invite.call_id == call_id.strip()


def test_dialog_requests_carry_the_parse_of_their_lines_rfc3261_12_2_1_1() -> None:
    """§12.2.1.1: From/To/Call-ID a dialog gives parsed (display names, tags) read as their text parses."""
    from test_message_fastpaths import built_state

    from simsip.sip.message import Headers, Via

    dialog = Dialog.from_uas(parse(invite_text()), "bobtag")
    for n, via_parsed in ((1, None), (2, [Via.parse("SIP/2.0/UDP biloxi.example.com;branch=z9hG4bK2")])):
        bye = dialog.build_request("BYE", f"SIP/2.0/UDP biloxi.example.com;branch=z9hG4bK{n}", via_parsed=via_parsed)
        reparsed = Headers()
        for name, value in bye.headers:
            reparsed.add(name, value)
        assert built_state(bye.headers) == built_state(reparsed)
        assert set(bye.headers._typed) >= {"from", "to", "call-id", "via"}


@pytest.mark.parametrize(("method", "extra"), [
    ("CANCEL", ""),  # §9.2: a CANCEL matching no transaction
    ("BYE", ""),  # §15.1.2: a BYE outside any dialog
    ("PRACK", "RAck: 1 314158 INVITE\r\n"),  # RFC 3262 §3: a PRACK matching no reliable 1xx
])
def test_481_to_request_without_to_tag_adds_one_rfc3261_8_2_6_2(method: str, extra: str) -> None:
    """§8.2.6.2: "if the To header field in the request did not contain a tag ... the UAS MUST add a tag"."""
    request = parse(invite_text(method=method, cseq=f"CSeq: 314159 {method}\r\n", extra=extra))
    actions = bob_core().receive(0.0, request, Address("pc33.atlanta.example.com"))
    (response,) = [a.message for a in actions if isinstance(a, SendMessage)]
    assert f"{response.status} {response.reason}" == "481 Call/Transaction Does Not Exist"
    assert response.headers.get("To") == "Bob <sip:bob@biloxi.example.com>;tag=3ceb3ffd"


def with_body(text: bytes, body: bytes, content_type: str = "application/sdp", extra: str = "") -> bytes:
    """``text`` (from :func:`invite_text`) carrying ``body`` of ``content_type`` plus ``extra`` header lines."""
    head = text.replace(b"Content-Length: 0\r\n\r\n", b"")
    return head + f"Content-Type: {content_type}\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body


SDP_BODY = b"v=0\r\no=alice 1 1 IN IP4 pc33\r\ns=-\r\nc=IN IP4 pc33\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n"


@pytest.mark.parametrize(("coding", "status"), [
    ("Content-Encoding: gzip\r\n", "415 Unsupported Media Type"),
    ("e: identity , GZIP\r\n", "415 Unsupported Media Type"),
    ("Content-Encoding: identity\r\n", None),
    ("", None),
])
def test_body_in_unknown_content_coding_gets_415_with_accept_encoding_rfc3261_8_2_3(coding: str, status) -> None:
    """§8.2.3: "If the request contained content encodings not understood by the UAS, the response MUST
    contain an Accept-Encoding header field listing the encodings understood by the UAS" (we undo none)."""
    request = parse(with_body(invite_text(), SDP_BODY, extra=coding))
    actions = bob_core().receive(0.0, request, Address("pc33.atlanta.example.com"))
    assert answer(actions) == status
    if status is not None:
        response = next(a.message for a in actions if isinstance(a, SendMessage))
        assert response.headers.get_all("Accept-Encoding") == ["identity"]
        assert "Accept" not in response.headers  # the type, application/sdp, was fine


def test_options_with_body_we_cannot_read_gets_415_as_an_invite_would_rfc3261_11_2() -> None:
    """§11.2: "The response code chosen MUST be the same that would have been chosen had the request been an
    INVITE"; §8.2.3: a body "of a type it does not support" gets 415 with Accept."""
    request = parse(with_body(invite_text(method="OPTIONS", cseq="CSeq: 314159 OPTIONS\r\n"), b"hello", "text/plain"))
    actions = bob_core().receive(0.0, request, Address("pc33.atlanta.example.com"))
    assert answer(actions) == "415 Unsupported Media Type"
    response = next(a.message for a in actions if isinstance(a, SendMessage))
    assert response.headers.get_all("Accept") == ["application/sdp"]
    assert [a.kind for a in actions if isinstance(a, AppEvent)] == ["discarded"]


def test_prack_with_body_we_cannot_read_gets_415_rfc3261_8_2_3() -> None:
    """§8.2.3: "If a UAS receives a request with a body of a type it does not support, it MUST reject it with a
    415"; a text/plain PRACK body is not taken as an SDP offer (no 200 with an answer), the 1xx stays unPRACKed."""
    from corehelp import dial

    net, alice, bob = pair(alice={"auto_prack": False})
    call_id = dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=0.1)
    (prack,) = [a.message for a in alice.prack(0.1, call_id) if isinstance(a, SendMessage)]
    prack.body = b"hello"
    prack.headers.set("Content-Type", "text/plain")
    prack.headers.set("Content-Length", "5")
    actions = bob.receive(0.11, prack, Address("alice"))
    assert answer(actions) == "415 Unsupported Media Type"
    assert bob.calls[call_id].uas.unacked is not None


def test_cancel_of_invite_the_core_rejected_gets_200_rfc3261_9_2() -> None:
    """§9.2: "as long as the CANCEL matched an existing transaction, the UAS answers the CANCEL request itself
    with a 200 (OK)"; its To tag is the one of the INVITE's 420 ("SHOULD be the same"); no 487 follows."""
    core = bob_core()
    source = Address("pc33.atlanta.example.com")
    rejected = core.receive(0.0, parse(invite_text(extra="Require: foo\r\n")), source)
    (bad_extension,) = [a.message for a in rejected if isinstance(a, SendMessage)]
    cancel = parse(invite_text(method="CANCEL", cseq="CSeq: 314159 CANCEL\r\n"))
    actions = core.receive(0.1, cancel, source)
    assert [(a.message.status, a.message.headers.get("To")) for a in actions if isinstance(a, SendMessage)] == [
        (200, f"Bob <sip:bob@biloxi.example.com>;tag={bad_extension.to.tag}")]
