"""Proxy core, RFC 3261 §16: validation, routing, Via/Record-Route, stateless mode.

Every test drives a ProxyCore by hand (no simulator) and asserts the exact
messages it sends. Forking, CANCEL and timers are in test_proxy_forking.py.
"""

from __future__ import annotations

import re

from simsip.sip.events import Address, SendMessage, StartTimer, Transport
from simsip.sip.message import parse
from simsip.sip.proxy import ProxyMode, select_best_response
from simsip.sip.registrar import LocationService

try:
    from proxyhelp import ALICE, BOB, P1, P2, Clock, ack_of_non_2xx, app, first_line, invite, make_proxy, msg, response_to, sends
except ImportError:  # tests/sip imported as a package
    from .proxyhelp import ALICE, BOB, P1, P2, Clock, ack_of_non_2xx, app, first_line, invite, make_proxy, msg, response_to, sends

from conftest import RFC4475

BRANCH_RE = re.compile(r"z9hG4bK[0-9a-f]{10}\.[0-9a-z]+$")


def bob_location() -> LocationService:
    """biloxi's location service: bob at his client (a static entry)."""
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client.biloxi.example.com")
    return loc


# ---------------------------------------------------------------- §16.3 validation


def test_rfc4475_zeromf_max_forwards_zero_gets_483_stateful() -> None:
    """RFC 3261 §16.3 item 3 / RFC 4475 §3.3.11 zeromf.dat: a proxy answers 483, never forwards."""
    proxy = make_proxy(host="p.example.com", domains=("example.com",))
    request = parse((RFC4475 / "zeromf.dat").read_bytes())
    src = Address("host1.example.com")
    out = proxy.receive(0.0, request, src)
    sent = sends(out)
    assert len(sent) == 1
    assert sent[0].destination == src
    assert sent[0].message.status == 483
    assert sent[0].message.headers.get_all("Via") == request.headers.get_all("Via")
    assert sent[0].message.to.tag  # the proxy answers as a UAS would (§8.2.6.2)
    assert app(out, "proxy-reject")[0].detail["status"] == 483


def test_rfc4475_zeromf_483_stateless() -> None:
    """RFC 3261 §16.11 + §16.3 item 3: a stateless proxy also answers 483 (statelessly)."""
    proxy = make_proxy(host="p.example.com", domains=("example.com",), mode=ProxyMode.STATELESS)
    request = parse((RFC4475 / "zeromf.dat").read_bytes())
    sent = sends(proxy.receive(0.0, request, Address("host1.example.com")))
    assert [s.message.status for s in sent] == [483]


def test_rfc4475_bext01_proxy_require_gets_420_listing_proxy_require_tags() -> None:
    """RFC 3261 §16.3 item 5 / RFC 4475 §3.3.5 bext01.dat: 420 with Unsupported = the Proxy-Require tags."""
    proxy = make_proxy(host="p.example.com", domains=("example.com",))
    request = parse((RFC4475 / "bext01.dat").read_bytes())
    src = Address("fold-and-staple.example.com", 5061, Transport.TCP)
    sent = sends(proxy.receive(0.0, request, src))
    assert len(sent) == 1
    response = sent[0].message
    assert response.status == 420
    # Only the Proxy-Require tags: Require is for the UAS, not the proxy.
    assert response.headers.get_all("Unsupported") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def test_proxy_require_tag_we_support_is_forwarded() -> None:
    """RFC 3261 §16.3 item 5: a Proxy-Require tag listed in ``supported`` passes."""
    proxy = make_proxy(supported=("foo",), location=bob_location())
    out = proxy.receive(0.0, invite(extra="Proxy-Require: foo\n"), ALICE)
    assert [first_line(s.message) for s in sends(out)] == ["SIP/2.0 100 Trying", "INVITE sip:bob@client.biloxi.example.com SIP/2.0"]


def test_rfc4475_unkscm_unknown_scheme_gets_416() -> None:
    """RFC 3261 §16.3 item 2 / RFC 4475 §3.3.2 unkscm.dat: 416, and never route on To."""
    proxy = make_proxy(host="p.example.com", domains=("example.com",))
    request = parse((RFC4475 / "unkscm.dat").read_bytes())
    sent = sends(proxy.receive(0.0, request, Address("host9.example.com", 5060, Transport.TCP)))
    assert [s.message.status for s in sent] == [416]


def test_loop_detected_gets_482() -> None:
    """RFC 3261 §16.3 item 4: the same request coming back with our Via and our branch hash -> 482."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    first = invite()
    forwarded = sends(proxy.receive(0.0, first, ALICE))[0].message
    # A misconfigured next hop sends it straight back (its own Via on top).
    back = forwarded.copy()
    vias = back.headers.get_all("Via")
    back.headers.set("Via", "SIP/2.0/UDP loopy.example.com;branch=z9hG4bKloop1")
    for v in vias:
        back.headers.add("Via", v)
    out = proxy.receive(0.1, back, Address("loopy.example.com"))
    assert [s.message.status for s in sends(out)] == [482]


def test_spiral_is_not_a_loop() -> None:
    """RFC 3261 §16.3 item 4: back with a different Request-URI (retargeted) is a spiral: forwarded."""
    loc = LocationService()
    loc.add_static("sip:carol@atlanta.example.com", "sip:carol@chicago.example.com")
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS, location=loc)
    first = invite(uri="sip:carol@atlanta.example.com")
    forwarded = sends(proxy.receive(0.0, first, ALICE))[0].message
    assert str(forwarded.uri) == "sip:carol@chicago.example.com"
    # chicago's proxy retargets back to an atlanta AOR of ours: a spiral.
    back = forwarded.copy()
    vias = back.headers.get_all("Via")
    back.headers.set("Via", "SIP/2.0/UDP ss3.chicago.example.com;branch=z9hG4bKchi1")
    for v in vias:
        back.headers.add("Via", v)
    from simsip.sip.message import URI

    back.uri = URI.parse("sip:carol@atlanta.example.com;x=1")
    out = proxy.receive(0.1, back, Address("ss3.chicago.example.com"))
    assert [first_line(s.message) for s in sends(out)] == ["INVITE sip:carol@chicago.example.com SIP/2.0"]


def test_missing_call_id_gets_400() -> None:
    """RFC 3261 §16.3 item 1: a request without the headers a proxy needs gets 400."""
    proxy = make_proxy(location=bob_location())
    request = invite()
    request.headers.remove("Call-ID")
    out = proxy.receive(0.0, request, ALICE)
    assert [s.message.status for s in sends(out)] == [400]


# ---------------------------------------------------------------- §16.6 forwarding


def test_stateful_invite_forwarded_with_via_max_forwards_record_route() -> None:
    """RFC 3261 §16.6 items 2-4 and 8, §16.2: 100 Trying upstream, INVITE downstream, exact headers."""
    proxy = make_proxy(record_route=True, location=bob_location())
    request = invite()
    out = proxy.receive(0.0, request, ALICE)
    sent = sends(out)
    assert [first_line(s.message) for s in sent] == [
        "SIP/2.0 100 Trying",
        "INVITE sip:bob@client.biloxi.example.com SIP/2.0",
    ]
    trying, forwarded = sent
    assert trying.destination == ALICE and trying.retransmission == 0
    assert trying.message.to.tag is None  # 100 carries no To tag (§8.2.6.2)
    assert forwarded.destination == BOB and forwarded.retransmission == 0
    fwd = forwarded.message
    vias = fwd.headers.get_all("Via")
    assert len(vias) == 2
    assert vias[1] == "SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"
    ours = fwd.top_via
    assert (ours.transport, ours.host, ours.port) == ("UDP", P2, None)
    assert BRANCH_RE.match(ours.branch)
    assert fwd.headers.get("Max-Forwards") == "69"
    assert fwd.headers.get_all("Record-Route") == [f"<sip:{P2};lr>"]
    # Timer C armed for the INVITE branch (§16.6 item 11), > 3 min.
    timer_c = [a for a in out if isinstance(a, StartTimer) and a.label == "C"]
    assert len(timer_c) == 1 and timer_c[0].delay > 180
    assert app(out, "proxy-forward")[0].detail["destination"] == str(BOB)
    # We answered at once, so the §17.2.1 200 ms timer is never armed.
    assert [a.label for a in out if isinstance(a, StartTimer)] == ["A", "B", "C"]


def test_missing_max_forwards_is_set_to_70() -> None:
    """RFC 3261 §16.6 item 3: no Max-Forwards in the request: the copy gets 70."""
    proxy = make_proxy(location=bob_location(), mode=ProxyMode.STATELESS)
    request = invite()
    request.headers.remove("Max-Forwards")
    fwd = sends(proxy.receive(0.0, request, ALICE))[0].message
    assert fwd.headers.get("Max-Forwards") == "70"


def test_record_route_prepended_to_existing_and_not_on_register_or_in_dialog() -> None:
    """RFC 3261 §16.6 item 4: our Record-Route goes on top; only dialog-creating, out-of-dialog requests."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), record_route=True, mode=ProxyMode.STATELESS)
    request = invite(extra="Record-Route: <sip:ss0.example.com;lr>\n")
    fwd = sends(proxy.receive(0.0, request, ALICE))[0].message
    assert fwd.headers.get_all("Record-Route") == [f"<sip:{P1};lr>", "<sip:ss0.example.com;lr>"]
    bye = invite(method="BYE", cseq=2)
    bye.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=314159")
    fwd = sends(proxy.receive(1.0, bye, ALICE))[0].message
    assert fwd.headers.get_all("Record-Route") == []


def test_preloaded_route_naming_us_is_popped_and_next_route_is_next_hop() -> None:
    """RFC 3261 §16.4 + §16.6 item 7: pop our Route; the next loose Route decides the next hop."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), resolver={P2: [Address(P2, 5060)]})
    request = invite(extra=f"Route: <sip:{P1};lr>, <sip:{P2};lr>\n")
    sent = sends(proxy.receive(0.0, request, ALICE))
    fwd = sent[1]
    assert fwd.destination == Address(P2, 5060)
    assert str(fwd.message.uri) == "sip:bob@biloxi.example.com"
    assert fwd.message.headers.get_all("Route") == [f"<sip:{P2};lr>"]


def test_preloaded_route_only_us_then_request_uri_domain_resolved() -> None:
    """RFC 3665 §3.2 F1/F4: Route <sip:ss1;lr> popped; biloxi is not ours: resolve the Request-URI host."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), resolver={"biloxi.example.com": [Address(P2)]})
    request = invite(extra=f"Route: <sip:{P1};lr>\n")
    fwd = sends(proxy.receive(0.0, request, ALICE))[1]
    assert fwd.destination == Address(P2)
    assert fwd.message.headers.get_all("Route") == []
    assert str(fwd.message.uri) == "sip:bob@biloxi.example.com"


def test_strict_router_next_hop_gets_its_uri_as_request_uri() -> None:
    """RFC 3261 §16.6 item 6: next Route without lr: it becomes the Request-URI, the old one goes last."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    request = invite(extra=f"Route: <sip:{P1};lr>, <sip:strict.example.com>, <sip:ss9.example.com;lr>\n")
    fwd = sends(proxy.receive(0.0, request, ALICE))[0]
    assert str(fwd.message.uri) == "sip:strict.example.com"
    assert fwd.message.headers.get_all("Route") == [
        "<sip:ss9.example.com;lr>",
        "<sip:bob@biloxi.example.com>",
    ]
    assert fwd.destination == Address("strict.example.com")


def test_request_uri_is_our_record_route_after_strict_router() -> None:
    """RFC 3261 §16.4: Request-URI is our Record-Route URI: replace it by the last Route value."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), record_route=True, mode=ProxyMode.STATELESS)
    request = invite(uri=f"sip:{P1};lr", extra="Route: <sip:ss9.example.com;lr>, <sip:bob@client.biloxi.example.com>\n")
    request.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=314159")
    fwd = sends(proxy.receive(0.0, request, ALICE))[0]
    assert str(fwd.message.uri) == "sip:bob@client.biloxi.example.com"
    assert fwd.message.headers.get_all("Route") == ["<sip:ss9.example.com;lr>"]
    assert fwd.destination == Address("ss9.example.com")


def test_unknown_user_in_our_domain_gets_404_and_unregistered_gets_480() -> None:
    """RFC 3261 §16.5: empty target set: 404 for an AOR we do not know, 480 when it has no contact now."""
    loc = LocationService()
    proxy = make_proxy(location=loc, registrar=True)
    # Answered at once, so no 100 Trying first.
    assert [s.message.status for s in sends(proxy.receive(0.0, invite(), ALICE))] == [404]
    # A binding that expired: known AOR, no contact -> 480.
    from simsip.sip.registrar import Binding

    loc.set_bindings("bob@biloxi.example.com", [Binding("bob@biloxi.example.com", "sip:bob@h", 10.0, "c", 1)])
    out = proxy.receive(20.0, invite(branch="z9hG4bKother"), ALICE)
    assert [s.message.status for s in sends(out)] == [480]


def test_response_via_popped_and_forwarded_upstream_through_server_transaction() -> None:
    """RFC 3261 §16.7 steps 3 and 8: 180 goes up with our Via removed, to the request's source."""
    proxy = make_proxy(location=bob_location())
    out = proxy.receive(0.0, invite(), ALICE)
    fwd = sends(out)[1].message
    ringing = response_to(fwd, 180)
    up = sends(proxy.receive(0.2, ringing, BOB))
    assert len(up) == 1
    assert up[0].destination == ALICE
    assert first_line(up[0].message) == "SIP/2.0 180 Ringing"
    assert up[0].message.headers.get_all("Via") == [
        "SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"
    ]


def test_100_trying_from_downstream_is_not_forwarded() -> None:
    """RFC 3261 §16.7 step 5: a 100 is never forwarded (we sent our own)."""
    proxy = make_proxy(location=bob_location())
    fwd = sends(proxy.receive(0.0, invite(), ALICE))[1].message
    assert sends(proxy.receive(0.1, response_to(fwd, 100), BOB)) == []


def test_invite_retransmission_answered_with_our_100_not_forwarded() -> None:
    """RFC 3261 §17.2.1 via the proxy's server transaction: a retransmitted INVITE gets the 100 again."""
    proxy = make_proxy(location=bob_location())
    request = invite()
    proxy.receive(0.0, request, ALICE)
    again = sends(proxy.receive(0.5, invite(), ALICE))
    assert [(first_line(s.message), s.retransmission) for s in again] == [("SIP/2.0 100 Trying", 1)]


def test_stateful_invite_retransmitted_by_timer_a_counts_retransmissions() -> None:
    """RFC 3261 §17.1.1.2 in the proxy's client transaction: Timer A at 0.5, 1.5, 3.5 s, counted."""
    proxy = make_proxy(location=bob_location())
    clock = Clock(proxy)
    clock.receive(invite(), ALICE)
    out = clock.advance(3.6)
    times = []
    for a in out:
        if isinstance(a, SendMessage):
            times.append((a.retransmission, a.timer))
    assert times == [(1, "A"), (2, "A"), (3, "A")]
    assert sorted(round(t, 3) for n, t in clock.pending.items() if n.endswith("/A")) == [7.5]


def test_stray_response_dropped_in_stateful_mode() -> None:
    """RFC 6026 §7.3, §8.2-8.3: a response matching no client transaction is not forwarded."""
    proxy = make_proxy(location=bob_location())
    stray = msg(
        f"""SIP/2.0 200 OK
Via: SIP/2.0/UDP {P2};branch=z9hG4bKnothing.1
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag=314159
Call-ID: stray@atlanta.example.com
CSeq: 1 INVITE

"""
    )
    out = proxy.receive(0.0, stray, BOB)
    assert sends(out) == []
    assert app(out, "stray-response")[0].detail == {"status": 200}
    assert proxy.stray == 1


def test_ack_for_2xx_forwarded_statelessly_along_route() -> None:
    """RFC 3261 §16 / §13.2.2.4: the 2xx ACK matches no transaction; it follows Route, hop by hop."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), record_route=True)
    ack = msg(
        f"""ACK sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bd5
Max-Forwards: 70
Route: <sip:{P1};lr>, <sip:{P2};lr>
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag=314159
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 2 ACK

"""
    )
    out = proxy.receive(0.0, ack, ALICE)
    sent = sends(out)
    assert len(sent) == 1
    assert sent[0].destination == Address(P2)
    fwd = sent[0].message
    assert first_line(fwd) == "ACK sip:bob@client.biloxi.example.com SIP/2.0"
    assert fwd.headers.get_all("Route") == [f"<sip:{P2};lr>"]
    assert fwd.headers.get("Max-Forwards") == "69"
    assert fwd.headers.get_all("Record-Route") == []
    assert len(fwd.headers.get_all("Via")) == 2
    # Stateless forwarding: the same ACK again gets the same branch (§16.11).
    again = sends(proxy.receive(0.5, ack, ALICE))[0].message
    assert again.top_via.branch == fwd.top_via.branch


def test_ack_for_non_2xx_absorbed_by_server_transaction() -> None:
    """RFC 3261 §17.2.1: the ACK of our 486 is hop by hop: absorbed, never forwarded."""
    proxy = make_proxy(location=bob_location())
    fwd = sends(proxy.receive(0.0, invite(), ALICE))[1].message
    up = sends(proxy.receive(0.1, response_to(fwd, 486), BOB))
    # The client transaction ACKs Bob's 486 itself; the 486 goes up.
    assert [first_line(s.message) for s in up] == ["ACK sip:bob@client.biloxi.example.com SIP/2.0",
                                                   "SIP/2.0 486 Busy Here"]
    assert up[0].destination == BOB and up[1].destination == ALICE
    ack = ack_of_non_2xx()
    assert sends(proxy.receive(0.2, ack, ALICE)) == []


# ---------------------------------------------------------------- §16.11 stateless


def test_stateless_branch_is_deterministic_and_cancel_gets_the_same() -> None:
    """RFC 3261 §16.11: retransmission and CANCEL of a request get the branch of the original."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    first = sends(proxy.receive(0.0, invite(), ALICE))[0].message
    again = sends(proxy.receive(0.5, invite(), ALICE))[0].message
    assert first.top_via.branch == again.top_via.branch
    assert BRANCH_RE.match(first.top_via.branch)
    cancel = invite(method="CANCEL")
    fwd_cancel = sends(proxy.receive(1.0, cancel, ALICE))[0].message
    assert first_line(fwd_cancel) == "CANCEL sip:bob@biloxi.example.com SIP/2.0"
    assert fwd_cancel.top_via.branch == first.top_via.branch
    # A different transaction from Alice gets another branch.
    other = sends(proxy.receive(2.0, invite(branch="z9hG4bKnew", cseq=2), ALICE))[0].message
    assert other.top_via.branch != first.top_via.branch


def test_stateless_ack_of_non_2xx_gets_the_invite_branch_rfc3261_16_11() -> None:
    """RFC 3261 §16.11, §17.1.1.3: the ACK of a 486 carries the INVITE's branch and the 486's To tag;
    a stateless proxy forwards it with the branch it gave the INVITE, so the next hop's INVITE server
    transaction matches it (§17.2.3) instead of retransmitting the 486 until Timer H."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    forwarded = sends(proxy.receive(0.0, invite(), ALICE))[0].message
    ack = ack_of_non_2xx()
    fwd_ack = sends(proxy.receive(1.0, ack, ALICE))[0].message
    assert first_line(fwd_ack) == "ACK sip:bob@biloxi.example.com SIP/2.0"
    assert fwd_ack.top_via.branch == forwarded.top_via.branch


def test_stateless_no_100_trying_and_no_timers() -> None:
    """RFC 3261 §16.11: a stateless proxy sends no 100 and keeps no timers."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    out = proxy.receive(0.0, invite(), ALICE)
    assert [first_line(s.message) for s in sends(out)] == ["INVITE sip:bob@biloxi.example.com SIP/2.0"]
    assert not [a for a in out if isinstance(a, StartTimer)]


def test_stateless_response_pops_via_and_goes_to_next_via() -> None:
    """RFC 3261 §16.11 / §18.2.2: response: our Via removed, sent to the next Via's sent-by."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    fwd = sends(proxy.receive(0.0, invite(), ALICE))[0].message
    up = sends(proxy.receive(0.1, response_to(fwd, 180), Address(P2)))
    assert len(up) == 1
    assert up[0].destination == Address("client.atlanta.example.com", 5060, Transport.UDP)
    assert up[0].message.headers.get_all("Via") == [
        "SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"
    ]


def test_stateless_response_not_ours_dropped() -> None:
    """RFC 3261 §16.11: a response whose top Via is not ours is dropped."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    request = invite()
    out = proxy.receive(0.0, response_to(request, 200), Address(P2))
    assert sends(out) == [] and app(out, "proxy-drop")


def test_received_parameter_added_when_source_differs() -> None:
    """RFC 3261 §18.2.1: the top Via gets received= when the sender's host differs from sent-by."""
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), mode=ProxyMode.STATELESS)
    fwd = sends(proxy.receive(0.0, invite(), Address("nat.example.com")))[0].message
    assert fwd.headers.get_all("Via")[1] == (
        "SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=nat.example.com"
    )
    up = sends(proxy.receive(0.1, response_to(fwd, 180), Address(P2)))[0]
    assert up.destination == Address("nat.example.com", 5060)


# ---------------------------------------------------------------- failover (RFC 3263 §4.3)


def test_failover_to_next_address_after_timer_b() -> None:
    """RFC 3263 §4.3 / RFC 3665 §3.4: next hop silent until Timer B (64*T1): INVITE to the backup."""
    primary, backup = Address("ss2a.biloxi.example.com"), Address("ss2b.biloxi.example.com")
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), resolver={"biloxi.example.com": [primary, backup]})
    clock = Clock(proxy)
    out = clock.receive(invite(), ALICE)
    assert sends(out)[1].destination == primary
    out = clock.advance(32.0)
    to_primary = [s for s in sends(out) if s.destination == primary]
    assert [s.retransmission for s in to_primary] == [1, 2, 3, 4, 5, 6]
    to_backup = [s for s in sends(out) if s.destination == backup]
    assert len(to_backup) == 1 and to_backup[0].retransmission == 0
    assert to_backup[0].message.top_via.branch != sends(clock.receive(invite(), ALICE, at=32.0))[0].message.top_via.branch
    fail = app(out, "proxy-failover")[0].detail
    assert fail == {"target": "sip:bob@biloxi.example.com", "failed": str(primary), "next": str(backup),
                    "cause": "timeout"}


def test_failover_on_503() -> None:
    """RFC 3263 §4.3: a 503 from the first address: try the next one; nothing goes upstream yet."""
    primary, backup = Address("a.biloxi.example.com"), Address("b.biloxi.example.com")
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), resolver={"biloxi.example.com": [primary, backup]})
    fwd = sends(proxy.receive(0.0, invite(), ALICE))[1].message
    out = proxy.receive(0.1, response_to(fwd, 503), primary)
    assert [(first_line(s.message), s.destination) for s in sends(out)] == [
        ("ACK sip:bob@biloxi.example.com SIP/2.0", primary),
        ("INVITE sip:bob@biloxi.example.com SIP/2.0", backup),
    ]


def test_503_is_not_passed_upstream_500_instead() -> None:
    """RFC 3261 §16.7 step 6: the only answer is a 503: the proxy sends 500 upstream."""
    proxy = make_proxy(location=bob_location())
    fwd = sends(proxy.receive(0.0, invite(), ALICE))[1].message
    up = [s for s in sends(proxy.receive(0.1, response_to(fwd, 503), BOB)) if s.destination == ALICE]
    assert [s.message.status for s in up] == [500]


def test_select_best_response_rules() -> None:
    """RFC 3261 §16.7 step 6: 6xx first; else lowest class; 4xx prefers 401/407/415/420/484."""
    req = invite()

    def r(code):
        return response_to(req, code)

    assert select_best_response([r(486), r(603), r(302)]).status == 603
    assert select_best_response([r(486), r(302), r(500)]).status == 302
    assert select_best_response([r(486), r(404), r(407)]).status == 407
    assert select_best_response([r(486), r(404)]).status == 404
    assert select_best_response([]) is None


def test_options_to_the_proxy_itself_answered_200_with_allow() -> None:
    """RFC 3261 §11.2: OPTIONS whose Request-URI names the proxy: it answers itself, never forwards."""
    proxy = make_proxy(registrar=True)
    out = proxy.receive(0.0, invite(uri=f"sip:{P2}", method="OPTIONS"), ALICE)
    sent = sends(out)
    assert [(s.message.status, s.destination) for s in sent] == [(200, ALICE)]
    assert sent[0].message.headers.get_all("Allow") == ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"]


def test_no_trying_option_sends_no_100() -> None:
    """``no-trying``: the proxy neither answers 100 at once nor arms the §17.2.1 200 ms timer."""
    proxy = make_proxy(location=bob_location(), auto_trying=False)
    clock = Clock(proxy)
    out = clock.receive(invite(), ALICE)
    out += clock.advance(0.4)
    assert [s.destination for s in sends(out)] == [BOB]  # the INVITE only (Timer A first fires at 0.5 s)
    assert not any(n.endswith("/trying") for n in clock.pending)


def test_branch_state_changes_reported() -> None:
    """Traces show each branch's progress: Trying -> Proceeding -> Completed as StateChange actions."""
    from simsip.sip.events import StateChange

    proxy = make_proxy(location=bob_location())
    fwd = sends(proxy.receive(0.0, invite(), ALICE))[1].message
    out = proxy.receive(0.1, response_to(fwd, 180), BOB) + proxy.receive(0.2, response_to(fwd, 200), BOB)
    changes = [(a.old, a.new) for a in out if isinstance(a, StateChange) and " branch " in a.machine]
    assert changes == [("Trying", "Proceeding"), ("Proceeding", "Completed")]


def test_rfc4475_every_torture_message_is_answered_or_dropped_never_a_crash() -> None:
    """RFC 4475 §3 / STYLE.md (h11): whatever parses, a proxy in either mode answers, forwards or drops it."""
    from simsip.sip.message import Request

    for path in sorted(RFC4475.glob("*.dat")):
        try:
            message = parse(path.read_bytes())
        except ValueError:
            continue  # the parser rejects it (the UA/transport layer answers 400 statelessly)
        for mode in (ProxyMode.STATEFUL, ProxyMode.STATELESS):
            proxy = make_proxy(host="p.example.com", domains=("example.com",), mode=mode, location=bob_location())
            out = proxy.receive(0.0, message, Address("torture.example.net"))
            assert out, f"{path.name} ({mode.value}): no action at all"
            if isinstance(message, Request):
                for sent in sends(out):
                    # Never forward an overlarge or mismatched request untouched: either it was
                    # answered (a Response) or it went on with our Via on top.
                    if isinstance(sent.message, Request):
                        assert sent.message.top_via.host == "p.example.com", path.name


def test_rfc4475_badvers_gets_505_not_forwarded() -> None:
    """RFC 4475 §3.1.2.16 badvers.dat / RFC 3261 §8.2.2 via §16.3 item 1: SIP/7.0 gets 505, both modes."""
    for mode in (ProxyMode.STATEFUL, ProxyMode.STATELESS):
        proxy = make_proxy(host="p.example.com", domains=("example.com",), mode=mode)
        request = parse((RFC4475 / "badvers.dat").read_bytes())
        sent = sends(proxy.receive(0.0, request, Address("t.example.com")))
        assert [first_line(s.message) for s in sent] == ["SIP/2.0 505 Version Not Supported"]


def test_release_forgets_the_run_but_keeps_the_proxy_readable() -> None:
    """release() drops the response contexts (RFC 3261 §16.7) and transactions, not the counters and options."""
    proxy = make_proxy(record_route=True, location=bob_location())
    assert sends(proxy.receive(0.0, invite(), ALICE))
    assert proxy.forwarded == 1 and len(proxy._contexts) == 1 and len(proxy._branches) == 1
    proxy.release()
    assert proxy._contexts == {} and proxy._branches == {} and proxy._timers == {} and proxy._cancels == set()
    assert proxy.layer.clients == {} and proxy.layer.servers == {}
    # Read after the run: a released core is not an empty shell (release once cleared its __dict__).
    assert (proxy.forwarded, proxy.stray, proxy.options.host, proxy.stateful) == (1, 0, P2, True)


def test_loop_back_with_our_route_gets_482_rfc3261_16_3_item_4() -> None:
    """RFC 3261 §16.3 item 4: a request back with our Route on top is hashed as §16.6 item 8 hashed it: 482.

    Alice's INVITE arrives with the preloaded ``Route: <sip:ss1;lr>`` (popped, §16.4) and is retargeted
    to biloxi; the next hop sends it straight back through us, again with our Route on top. The
    branch calculation on this message, after the same preprocessing, matches our Via's: a loop.
    """
    from simsip.sip.message import URI

    loc = LocationService()
    loc.add_static("sip:bob@atlanta.example.com", "sip:bob@biloxi.example.com")
    proxy = make_proxy(host=P1, location=loc)
    first = invite(uri="sip:bob@atlanta.example.com", extra=f"Route: <sip:{P1};lr>\n")
    forwarded = [s.message for s in sends(proxy.receive(0.0, first, ALICE)) if s.destination != ALICE][0]
    assert forwarded.headers.get_all("Route") == []
    back = forwarded.copy()
    back.uri = URI.parse("sip:bob@atlanta.example.com")
    back.headers.prepend("Via", f"SIP/2.0/UDP {P2};branch=z9hG4bKp2back")
    back.headers.set("Route", f"<sip:{P1};lr>")
    out = proxy.receive(0.1, back, Address(P2))
    assert [first_line(s.message) for s in sends(out)] == ["SIP/2.0 482 Loop Detected"]
    assert [s.destination for s in sends(out)] == [Address(P2)]
