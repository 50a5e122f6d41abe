"""Dialogs (RFC 3261 §12) and the RFC 5407 §2 dialog state machine."""

from __future__ import annotations

import pytest

pytest.importorskip("simsip.sip.codes")

from simsip.sip.dialog import DIALOG_TRANSITIONS, Dialog, DialogEvent, DialogState  # noqa: E402
from simsip.sip.message import Request, make_response  # noqa: E402


def invite(record_route: list[str] | None = None) -> Request:
    """An INVITE from alice (as received by bob, with the proxies' Record-Route)."""
    headers = [
        ("Via", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8"),
        ("Max-Forwards", "70"),
        ("To", "Bob <sip:bob@biloxi.example.com>"),
        ("From", "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl"),
        ("Call-ID", "3848276298220188511@atlanta.example.com"),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:alice@client.atlanta.example.com>"),
    ]
    for value in record_route or []:
        headers.append(("Record-Route", value))
    return Request("INVITE", "sip:bob@biloxi.example.com", headers)


RR = ["<sip:ss2.biloxi.example.com;lr>", "<sip:ss1.atlanta.example.com;lr>"]


def reply(request: Request, status: int, tag: str, rr: list[str]):
    """The UAS's response, with the Record-Route values it copies (RFC 3261 §12.1.1)."""
    response = make_response(request, status, to_tag=tag)
    for value in rr:
        response.headers.add("Record-Route", value)
    return response


def uac_dialog(rr: list[str]) -> Dialog:
    """Alice's dialog from a 200 carrying ``rr`` (as Record-Route, top first)."""
    request = invite()
    ok = reply(invite(rr), 200, "314159", rr)
    ok.headers.add("Contact", "<sip:bob@client.biloxi.example.com>")
    return Dialog.from_uac(request, ok)


def test_uac_dialog_needs_a_tagged_from_rfc3261_8_1_1_3() -> None:
    """RFC 3261 §8.1.1.3: a UAC's From carries a tag, its local tag (§12.1.2); without one no dialog is made."""
    request = invite()
    request.headers.set("From", "Alice <sip:alice@atlanta.example.com>")
    ok = reply(request, 200, "314159", [])
    ok.headers.add("Contact", "<sip:bob@client.biloxi.example.com>")
    with pytest.raises(ValueError, match=r"^no dialog from a request whose From has no tag \(RFC 3261 §8\.1\.1\.3\): "
                                         r"Alice <sip:alice@atlanta\.example\.com>$"):
        Dialog.from_uac(request, ok)


def test_uac_dialog_state_from_2xx_rfc3261_12_1_2() -> None:
    """RFC 3261 §12.1.2: route set = Record-Route reversed, remote target = Contact, local CSeq = INVITE's."""
    d = uac_dialog(RR)
    assert d.id == ("3848276298220188511@atlanta.example.com", "9fxced76sl", "314159")
    assert d.route_set == list(reversed(RR))
    assert str(d.remote_target) == "sip:bob@client.biloxi.example.com"
    assert d.local_seq == 1 and d.remote_seq is None


def test_uas_dialog_state_from_request_rfc3261_12_1_1() -> None:
    """RFC 3261 §12.1.1: route set = Record-Route in order, remote target = Contact, remote CSeq = request's."""
    d = Dialog.from_uas(invite(RR), "314159")
    assert d.id == ("3848276298220188511@atlanta.example.com", "314159", "9fxced76sl")
    assert d.route_set == RR
    assert str(d.remote_target) == "sip:alice@client.atlanta.example.com"
    assert d.remote_seq == 1 and d.local_seq is None


def test_loose_routing_request_rfc3261_12_2_1_1() -> None:
    """RFC 3261 §12.2.1.1: first route has lr: R-URI = remote target, Route = route set; CSeq + 1."""
    d = uac_dialog(RR)
    bye = d.build_request("BYE", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKbye1")
    assert str(bye.uri) == "sip:bob@client.biloxi.example.com"
    assert bye.headers.get_all("Route") == list(reversed(RR))
    assert bye.cseq == (2, "BYE")
    assert bye.from_.tag == "9fxced76sl" and bye.to.tag == "314159"
    assert str(d.next_hop()) == "sip:ss1.atlanta.example.com;lr"


def test_strict_routing_request_rfc3261_12_2_1_1() -> None:
    """RFC 3261 §12.2.1.1: first route without lr: R-URI = that route, Route = rest + remote target."""
    d = uac_dialog(["<sip:ss2.biloxi.example.com;lr>", "<sip:strict.atlanta.example.com>"])
    bye = d.build_request("BYE", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKbye2")
    assert str(bye.uri) == "sip:strict.atlanta.example.com"
    assert bye.headers.get_all("Route") == [
        "<sip:ss2.biloxi.example.com;lr>", "<sip:bob@client.biloxi.example.com>"]


def test_no_route_set_goes_to_remote_target_rfc3261_12_2_1_1() -> None:
    """RFC 3261 §12.2.1.1: an empty route set: R-URI = remote target, no Route."""
    d = uac_dialog([])
    bye = d.build_request("BYE", "SIP/2.0/UDP a;branch=z9hG4bKx")
    assert bye.headers.get_all("Route") == [] and str(d.next_hop()) == "sip:bob@client.biloxi.example.com"



@pytest.mark.parametrize("rr", [[], RR, ["<sip:ss2.biloxi.example.com;lr>", "<sip:strict.atlanta.example.com>"]],
                         ids=["no route set", "loose", "strict"])
def test_no_remote_target_builds_no_request_rfc3261_12_1_2(rr: list[str]) -> None:
    """RFC 3261 §12.1.1/§12.1.2: a 2xx without Contact leaves no remote target: never a None R-URI or Route."""
    d = Dialog.from_uac(invite(), reply(invite(rr), 200, "314159", rr))
    assert d.remote_target is None
    with pytest.raises(ValueError, match=r"no remote target: its peer sent no Contact \(RFC 3261 §12\.1\.1"):
        d.build_request("BYE", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKbye3")
    with pytest.raises(ValueError, match="no remote target"):
        d.request_uri_and_routes()

def test_remote_cseq_order_rfc3261_12_2_2() -> None:
    """RFC 3261 §12.2.2: lower CSeq -> reject (500); ACK and CANCEL are not checked."""
    d = Dialog.from_uas(invite(), "314159")
    later = invite()
    later.headers.set("CSeq", "5 BYE")
    later.method = "BYE"
    assert d.accept_remote_seq(later) and d.remote_seq == 5
    older = invite()
    older.headers.set("CSeq", "4 INVITE")
    assert not d.accept_remote_seq(older)
    ack = invite()
    ack.method = "ACK"
    ack.headers.set("CSeq", "1 ACK")
    assert d.accept_remote_seq(ack)


def test_refresh_from_2xx_recomputes_route_set_rfc3261_13_2_2_4() -> None:
    """RFC 3261 §13.2.2.4: the 2xx recomputes the route set of a dialog created by a 1xx."""
    request = invite()
    ringing = reply(invite(), 180, "314159", ["<sip:old.example.com;lr>"])
    d = Dialog.from_uac(request, ringing)
    ok = reply(invite(), 200, "314159", RR)
    ok.headers.add("Contact", "<sip:bob@new.biloxi.example.com>")
    d.refresh_from_2xx(ok)
    assert d.route_set == list(reversed(RR)) and str(d.remote_target) == "sip:bob@new.biloxi.example.com"


PATHS = [
    ([DialogEvent.PROVISIONAL, DialogEvent.SUCCESS, DialogEvent.ACK, DialogEvent.BYE, DialogEvent.BYE_DONE],
     ["Early", "Moratorium", "Established", "Mortal", "Morgue"]),
    ([DialogEvent.SUCCESS, DialogEvent.BYE, DialogEvent.BYE_DONE], ["Moratorium", "Mortal", "Morgue"]),
    ([DialogEvent.PROVISIONAL, DialogEvent.FAILURE], ["Early", "Morgue"]),
    ([DialogEvent.PROVISIONAL, DialogEvent.ABANDON], ["Early", "Morgue"]),
    ([DialogEvent.PROVISIONAL, DialogEvent.BYE, DialogEvent.BYE_DONE], ["Early", "Mortal", "Morgue"]),
]


@pytest.mark.parametrize("events,states", PATHS)
def test_rfc5407_dialog_state_paths(events, states) -> None:
    """RFC 5407 §2: the dialog state machine's paths (and a StateChange for each step)."""
    d = Dialog.from_uas(invite(), "t")
    seen = []
    for event in events:
        changes = d.feed(event)
        assert len(changes) == 1
        seen.append(changes[0].new)
    assert seen == states


def test_dialog_table_covers_every_state() -> None:
    """Every RFC 5407 state appears in the table; Morgue is final; Mortal accepts no new BYE loop."""
    states = {s for s, _ in DIALOG_TRANSITIONS} | set(DIALOG_TRANSITIONS.values())
    assert states == set(DialogState)
    assert not any(s is DialogState.MORGUE for s, _ in DIALOG_TRANSITIONS)
    d = Dialog.from_uas(invite(), "t")
    d.feed(DialogEvent.SUCCESS)
    assert d.feed(DialogEvent.PROVISIONAL) == []  # ignored: not in the table
