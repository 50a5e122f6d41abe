"""Proxy forking and response contexts, RFC 3261 §16.6-16.10: best response, CANCEL, Timer C, 408."""

from __future__ import annotations

from simsip.sip.events import Address, StartTimer, StateChange, Transport
from simsip.sip.proxy import ForkMode, ProxyMode
from simsip.sip.registrar import LocationService
from simsip.sip.timers import TimerConfig

try:
    from proxyhelp import ALICE, Clock, ack_of_non_2xx, app, first_line, invite, make_proxy, response_to, sends
except ImportError:  # tests/sip imported as a package
    from .proxyhelp import ALICE, Clock, ack_of_non_2xx, app, first_line, invite, make_proxy, response_to, sends

B1 = Address("client1.biloxi.example.com")
B2 = Address("client2.biloxi.example.com")


def two_contacts() -> LocationService:
    """bob registered at two phones: the proxy forks."""
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client1.biloxi.example.com")
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client2.biloxi.example.com")
    return loc


def forked(**options):
    """A forking proxy, the two forwarded INVITEs, and the actions of the first step."""
    proxy = make_proxy(location=two_contacts(), **options)
    clock = Clock(proxy)
    out = clock.receive(invite(), ALICE)
    invites = [s for s in sends(out) if s.message.__class__.__name__ == "Request"]
    return proxy, clock, invites, out


def upstream(actions) -> list[str]:
    """First lines of what went to Alice."""
    return [first_line(s.message) for s in sends(actions) if s.destination == ALICE]


def to(actions, address) -> list[str]:
    """First lines of what went to ``address``."""
    return [first_line(s.message) for s in sends(actions) if s.destination == address]


def test_parallel_fork_sends_one_invite_per_contact() -> None:
    """RFC 3261 §16.6: parallel forking: one branch per target, each with its own branch id."""
    _, _, invites, out = forked()
    assert [(first_line(s.message), s.destination) for s in invites] == [
        ("INVITE sip:bob@client1.biloxi.example.com SIP/2.0", B1),
        ("INVITE sip:bob@client2.biloxi.example.com SIP/2.0", B2),
    ]
    b1, b2 = (s.message.top_via.branch for s in invites)
    assert b1 != b2
    assert [s.message.headers.get("Max-Forwards") for s in invites] == ["69", "69"]
    assert len([a for a in out if isinstance(a, StartTimer) and a.label == "C"]) == 2


def test_provisionals_from_every_branch_forwarded() -> None:
    """RFC 3261 §16.7 step 5: each 101-199 is forwarded at once (several early dialogs)."""
    _, clock, (i1, i2), _ = forked()
    out = clock.receive(response_to(i1.message, 180, "t1"), B1, at=0.1)
    out += clock.receive(response_to(i2.message, 180, "t2"), B2, at=0.2)
    assert upstream(out) == ["SIP/2.0 180 Ringing", "SIP/2.0 180 Ringing"]
    tags = [s.message.to.tag for s in sends(out)]
    assert tags == ["t1", "t2"]


def test_2xx_forwarded_at_once_and_other_branches_cancelled() -> None:
    """RFC 3261 §16.7 steps 5 and 10: first 2xx up immediately; CANCEL to the pending branch (§9.1 form)."""
    _, clock, (i1, i2), _ = forked()
    clock.receive(response_to(i1.message, 180, "t1"), B1, at=0.1)
    clock.receive(response_to(i2.message, 180, "t2"), B2, at=0.2)
    out = clock.receive(response_to(i1.message, 200, "t1"), B1, at=1.0)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    cancels = [s for s in sends(out) if s.destination == B2]
    assert len(cancels) == 1
    cancel = cancels[0].message
    assert first_line(cancel) == "CANCEL sip:bob@client2.biloxi.example.com SIP/2.0"
    assert cancel.headers.get_all("Via") == [i2.message.headers.get_all("Via")[0]]
    assert str(cancel.cseq) == "1 CANCEL"
    assert cancel.headers.get("To") == i2.message.headers.get("To")
    assert cancel.headers.get("From") == i2.message.headers.get("From")
    assert cancel.call_id == i2.message.call_id
    assert cancel.headers.get("Max-Forwards") == "70"
    assert app(out, "proxy-cancel")[0].detail == {"branches": [i2.message.top_via.branch], "cause": "2xx"}
    # The 487 of the cancelled branch is ACKed hop by hop and not forwarded.
    out = clock.receive(response_to(i2.message, 487, "t2"), B2, at=1.1)
    assert upstream(out) == []
    assert to(out, B2) == ["ACK sip:bob@client2.biloxi.example.com SIP/2.0"]


def test_every_2xx_is_forwarded_even_after_the_first() -> None:
    """RFC 3261 §16.7 step 5: a second branch's 2xx (crossing our CANCEL) is forwarded too."""
    _, clock, (i1, i2), _ = forked()
    clock.receive(response_to(i2.message, 180, "t2"), B2, at=0.1)
    assert upstream(clock.receive(response_to(i1.message, 200, "t1"), B1, at=1.0)) == ["SIP/2.0 200 OK"]
    out = clock.receive(response_to(i2.message, 200, "t2"), B2, at=1.01)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    assert [s.message.to.tag for s in sends(out) if s.destination == ALICE] == ["t2"]


def test_2xx_retransmission_forwarded_and_counted() -> None:
    """RFC 6026 §7.2 / §7.1: 2xx retransmissions pass through; each proxy counts its sends of it."""
    _, clock, (i1, _), _ = forked()
    ok = response_to(i1.message, 200, "t1")
    first = [s for s in sends(clock.receive(ok, B1, at=1.0)) if s.destination == ALICE]
    again = [s for s in sends(clock.receive(ok.copy(), B1, at=1.5)) if s.destination == ALICE]
    assert [(s.retransmission, s.timer) for s in first + again] == [(0, None), (1, None)]


def test_cancel_for_branch_without_provisional_waits_for_one() -> None:
    """RFC 3261 §9.1: no CANCEL before a provisional; sent when the branch's 1xx arrives."""
    _, clock, (i1, i2), _ = forked()
    out = clock.receive(response_to(i1.message, 200, "t1"), B1, at=1.0)
    assert [line for line in to(out, B2) if line.startswith("CANCEL")] == []
    out = clock.receive(response_to(i2.message, 180, "t2"), B2, at=1.2)
    assert to(out, B2) == ["CANCEL sip:bob@client2.biloxi.example.com SIP/2.0"]
    assert upstream(out) == []  # no provisional after a final went up


def test_6xx_cancels_pending_then_is_the_best_response() -> None:
    """RFC 3261 §16.7 step 5-6: 603 held, pending branch cancelled, then 603 goes up (not the 487)."""
    _, clock, (i1, i2), _ = forked()
    clock.receive(response_to(i2.message, 180, "t2"), B2, at=0.1)
    out = clock.receive(response_to(i1.message, 603, "t1"), B1, at=1.0)
    assert upstream(out) == []
    assert to(out, B2) == ["CANCEL sip:bob@client2.biloxi.example.com SIP/2.0"]
    assert app(out, "proxy-cancel")[0].detail["cause"] == "6xx"
    out = clock.receive(response_to(i2.message, 487, "t2"), B2, at=1.1)
    assert upstream(out) == ["SIP/2.0 603 Decline"]
    assert [s.message.headers.get_all("Via") for s in sends(out) if s.destination == ALICE] == [
        ["SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"]
    ]


def test_lowest_class_wins_when_all_branches_fail() -> None:
    """RFC 3261 §16.7 step 6: 486 and 302: the 3xx is sent, once both branches are done."""
    _, clock, (i1, i2), _ = forked()
    assert upstream(clock.receive(response_to(i1.message, 486, "t1"), B1, at=0.5)) == []
    out = clock.receive(response_to(i2.message, 302, "t2", [("Contact", "<sip:bob@elsewhere.example.com>")]), B2, at=0.6)
    assert upstream(out) == ["SIP/2.0 302 Moved Temporarily"]
    sent = [s.message for s in sends(out) if s.destination == ALICE][0]
    assert sent.headers.get_all("Contact") == ["<sip:bob@elsewhere.example.com>"]


def test_401_407_challenges_aggregated() -> None:
    """RFC 3261 §16.7 step 7: the chosen 401/407 carries every branch's challenge."""
    _, clock, (i1, i2), _ = forked()
    c1 = 'Digest realm="client1.biloxi.example.com", nonce="n1", qop="auth"'
    c2 = 'Digest realm="biloxi.example.com", nonce="n2", qop="auth"'
    clock.receive(response_to(i1.message, 407, "t1", [("Proxy-Authenticate", c1)]), B1, at=0.5)
    out = clock.receive(response_to(i2.message, 401, "t2", [("WWW-Authenticate", c2)]), B2, at=0.6)
    assert upstream(out) == ["SIP/2.0 401 Unauthorized"]
    chosen = [s.message for s in sends(out) if s.destination == ALICE][0]
    assert chosen.headers.get_all("WWW-Authenticate") == [c2]
    assert chosen.headers.get_all("Proxy-Authenticate") == [c1]


def test_all_branches_time_out_408_at_timer_b() -> None:
    """RFC 3261 §16.7 step 6 / TIMERS.md §1: no final on any branch: 408 upstream when Timer B fires (32 s)."""
    _, clock, _, _ = forked()
    out = clock.advance(31.9)
    for dest in (B1, B2):
        assert [s.retransmission for s in sends(out) if s.destination == dest] == [1, 2, 3, 4, 5, 6]
    assert upstream(out) == []
    out = clock.advance(32.0)
    assert upstream(out) == ["SIP/2.0 408 Request Timeout"]
    assert clock.now == 32.0
    resp = [s.message for s in sends(out) if s.destination == ALICE][0]
    assert resp.to.tag  # generated by the proxy: it adds a To tag


def test_timeout_code_option_rfc3665_3_10_480() -> None:
    """RFC 3665 §3.10 shows 480 where RFC 3261 §16.7 prescribes 408: configurable per proxy."""
    proxy = make_proxy(location=two_contacts(), timeout_code=480)
    clock = Clock(proxy)
    clock.receive(invite(), ALICE)
    assert upstream(clock.advance(32.0)) == ["SIP/2.0 480 Temporarily Unavailable"]


def test_non_invite_nobody_answers_gets_no_408_rfc4320_4_2() -> None:
    """RFC 4320 §4.2: a transaction-stateful element MUST NOT send 408 to a non-INVITE; when no branch
    answers before Timer F, the proxy sends no final response at all, whatever its timeout-response."""
    for options in ({}, {"timeout_code": 480}):
        proxy = make_proxy(location=two_contacts(), **options)
        clock = Clock(proxy)
        out = clock.receive(invite(method="OPTIONS"), ALICE)
        assert [first_line(s.message) for s in sends(out)] == [
            "OPTIONS sip:bob@client1.biloxi.example.com SIP/2.0", "OPTIONS sip:bob@client2.biloxi.example.com SIP/2.0"]
        assert upstream(clock.advance(3.499)) == []
        # RFC 4320 §4.1: unanswered when the client's Timer E reached T2 (3.5 s): 100 Trying, and only that.
        assert upstream(clock.advance(3.5)) == ["SIP/2.0 100 Trying"]
        out = clock.advance(40.0)
        assert upstream(out) == []
        assert [a.detail["reason"] for a in app(out, "proxy-drop")] == [
            "no final response in time (RFC 4320 §4.2: no 408)"]
        # The server transaction is gone: the same request again is a new transaction, forked anew.
        again = clock.receive(invite(method="OPTIONS"), ALICE)
        assert len([s for s in sends(again) if s.destination in (B1, B2)]) == 2


def test_non_invite_100_trying_comes_once_and_no_trying_silences_it_rfc4320_4_1() -> None:
    """RFC 4320 §4.1: the proxy's 100 to a forwarded BYE at 3.5 s is resent for each retransmission
    (RFC 3261 §17.2.2 Proceeding), is not sent once a final came back, and ``no-trying`` turns it off."""
    proxy = make_proxy(location=two_contacts())
    clock = Clock(proxy)
    clock.receive(invite(method="OPTIONS"), ALICE)
    out = clock.advance(3.5) + clock.receive(invite(method="OPTIONS"), ALICE, at=4.0)
    assert [(first_line(s.message), s.retransmission) for s in sends(out) if s.destination == ALICE] == [
        ("SIP/2.0 100 Trying", 0), ("SIP/2.0 100 Trying", 1)]
    answered = Clock(make_proxy(location=two_contacts()))
    fwd = sends(answered.receive(invite(method="OPTIONS"), ALICE))[0]
    assert upstream(answered.receive(response_to(fwd.message, 200), fwd.destination, at=1.0)) == [
        "SIP/2.0 200 OK"]
    assert upstream(answered.advance(40.0)) == []
    quiet = Clock(make_proxy(location=two_contacts(), auto_trying=False))
    quiet.receive(invite(method="OPTIONS"), ALICE)
    assert upstream(quiet.advance(40.0)) == []


def test_timer_c_without_provisional_acts_as_408() -> None:
    """RFC 3261 §16.8 / §16.6 item 11: Timer C (181 s) fires with no provisional: the branch is a 408."""
    tcp = {"client1.biloxi.example.com": [Address("client1.biloxi.example.com", 5060, Transport.TCP)]}
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client1.biloxi.example.com")
    # T1 = 4 s puts Timer B at 256 s, after Timer C.
    proxy = make_proxy(location=loc, resolver=tcp, timers=TimerConfig(t1=4.0, t2=8.0))
    clock = Clock(proxy)
    clock.receive(invite(), ALICE)
    assert upstream(clock.advance(180.9)) == []
    out = clock.advance(181.0)
    assert app(out, "proxy-timer-c")[0].detail["action"] == "408"
    assert upstream(out) == ["SIP/2.0 408 Request Timeout"]


def test_timer_c_reset_by_provisional_then_cancel() -> None:
    """RFC 3261 §16.7 step 2 and §16.8: a 180 at 10 s restarts Timer C; at 191 s the branch is CANCELled."""
    tcp = Address("client1.biloxi.example.com", 5060, Transport.TCP)
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client1.biloxi.example.com")
    proxy = make_proxy(location=loc, resolver={tcp.host: [tcp]}, timers=TimerConfig(t1=4.0, t2=8.0))
    clock = Clock(proxy)
    fwd = sends(clock.receive(invite(), ALICE))[1].message
    clock.receive(response_to(fwd, 100), tcp, at=5.0)  # a 100 does not restart Timer C
    clock.receive(response_to(fwd, 180, "t1"), tcp, at=10.0)
    assert to(clock.advance(190.9), tcp) == []
    out = clock.advance(191.0)
    assert to(out, tcp) == ["CANCEL sip:bob@client1.biloxi.example.com SIP/2.0"]
    assert app(out, "proxy-timer-c")[0].detail["action"] == "cancel"
    out = clock.receive(response_to(fwd, 487, "t1"), tcp, at=191.1)
    assert upstream(out) == ["SIP/2.0 487 Request Terminated"]


def test_cancel_from_upstream_fans_out() -> None:
    """RFC 3261 §16.10: 200 for the CANCEL, a CANCEL per pending branch, then the 487 goes up."""
    _, clock, (i1, i2), _ = forked()
    clock.receive(response_to(i1.message, 180, "t1"), B1, at=0.1)
    clock.receive(response_to(i2.message, 180, "t2"), B2, at=0.2)
    cancel = invite(method="CANCEL")
    out = clock.receive(cancel, ALICE, at=2.0)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    assert str([s.message for s in sends(out) if s.destination == ALICE][0].cseq) == "1 CANCEL"
    assert to(out, B1) == ["CANCEL sip:bob@client1.biloxi.example.com SIP/2.0"]
    assert to(out, B2) == ["CANCEL sip:bob@client2.biloxi.example.com SIP/2.0"]
    assert app(out, "proxy-cancel")[0].detail["cause"] == "upstream"
    out = clock.receive(response_to(i1.message, 487, "t1"), B1, at=2.1)
    assert upstream(out) == []
    out = clock.receive(response_to(i2.message, 487, "t2"), B2, at=2.2)
    assert upstream(out) == ["SIP/2.0 487 Request Terminated"]


def test_cancel_matching_nothing_is_forwarded() -> None:
    """RFC 3261 §16.10: no response context for the CANCEL: it is forwarded (statelessly, see below)."""
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client1.biloxi.example.com")
    proxy = make_proxy(location=loc)
    out = proxy.receive(0.0, invite(method="CANCEL"), ALICE)
    assert to(out, B1) == ["CANCEL sip:bob@client1.biloxi.example.com SIP/2.0"]


def one_contact() -> LocationService:
    """bob registered at one phone."""
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client1.biloxi.example.com")
    return loc


def test_cancel_without_response_context_forwarded_statelessly_rfc3261_16_10() -> None:
    """RFC 3261 §16.10: a CANCEL matching no response context MUST be forwarded statelessly.

    A stateful proxy gets a CANCEL for an INVITE it never saw. It forwards it as a stateless proxy
    would (§16.11: the same message, the hash branch), in no client transaction (no Timer E
    retransmission of its own); the server transaction the layer made for it is abandoned at once,
    so no 100 Trying at 3.5 s (RFC 4320 §4.1) and no response of the proxy's own, and Alice's
    retransmission is forwarded again, identical. Bob's 200 to the CANCEL goes up by its Via
    (§16.11), not dropped as a stray response (RFC 6026 §7.3).
    """
    proxy = make_proxy(location=one_contact())
    clock = Clock(proxy)
    out = clock.receive(invite(method="CANCEL"), ALICE)
    assert [(s.destination, first_line(s.message)) for s in sends(out)] == [
        (B1, "CANCEL sip:bob@client1.biloxi.example.com SIP/2.0")
    ]
    fwd = sends(out)[0].message
    stateless = make_proxy(location=one_contact(), mode=ProxyMode.STATELESS)
    assert bytes(fwd) == bytes(sends(stateless.receive(0.0, invite(method="CANCEL"), ALICE))[0].message)
    branch = fwd.top_via.branch
    assert fwd.headers.get_all("Via") == [
        f"SIP/2.0/UDP ss2.biloxi.example.com;branch={branch}",
        "SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9",
    ]
    assert str(fwd.cseq) == "1 CANCEL" and fwd.headers.get("Max-Forwards") == "69"
    assert app(out, "proxy-forward")[0].detail["stateless"] is True
    assert [(a.machine.split()[0], a.old, a.new) for a in out if isinstance(a, StateChange)] == [
        ("non-INVITE", "Trying", "Terminated")
    ]
    assert clock.pending == {} and proxy.layer.servers == {} and proxy.layer.clients == {}
    # Alice retransmits: forwarded again, the same message.
    again = clock.receive(invite(method="CANCEL"), ALICE, at=0.5)
    assert [(s.destination, bytes(s.message)) for s in sends(again)] == [(B1, bytes(fwd))]
    # Nothing of the proxy's own: no Timer E resend, no 100 Trying.
    assert sends(clock.advance(10.0)) == []
    out = clock.receive(response_to(fwd, 200, "b1"), B1, at=10.1)
    up = sends(out)
    assert [(s.destination, first_line(s.message)) for s in up] == [(ALICE, "SIP/2.0 200 OK")]
    assert up[0].message.headers.get_all("Via") == ["SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"]
    assert str(up[0].message.cseq) == "1 CANCEL"
    assert app(out, "stray-response") == [] and proxy.stray == 0
    assert clock.pending == {}


def test_cancel_after_context_ended_forwarded_statelessly_rfc3261_16_10() -> None:
    """RFC 3261 §16.10: once the INVITE's response context is gone, a late CANCEL is forwarded statelessly.

    A response to a CANCEL whose Via is not ours on top of another stays a stray response (RFC 6026 §7.3).
    """
    proxy = make_proxy(location=one_contact())
    clock = Clock(proxy)
    fwd_invite = sends(clock.receive(invite(), ALICE))[1].message
    clock.receive(response_to(fwd_invite, 486, "b1"), B1, at=0.1)
    clock.receive(ack_of_non_2xx("b1"), ALICE, at=0.2)
    clock.advance(40.0)  # Timers I and D: both transactions and the context are gone
    assert proxy._contexts == {}
    out = clock.receive(invite(method="CANCEL"), ALICE, at=41.0)
    assert [(s.destination, first_line(s.message)) for s in sends(out)] == [
        (B1, "CANCEL sip:bob@client1.biloxi.example.com SIP/2.0")
    ]
    fwd = sends(out)[0].message
    assert fwd.top_via.branch != fwd_invite.top_via.branch
    assert app(out, "proxy-forward")[0].detail["stateless"] is True
    assert clock.pending == {}
    out = clock.receive(response_to(fwd, 481, "b1"), B1, at=41.1)
    assert [(s.destination, first_line(s.message)) for s in sends(out)] == [
        (ALICE, "SIP/2.0 481 Call/Transaction Does Not Exist")
    ]
    # Our Via alone (a CANCEL of our own whose transaction ended): a stray response, dropped.
    own = response_to(fwd, 200, "b1")
    own.headers.set("Via", fwd.headers.get_all("Via")[0])
    out = clock.receive(own, B1, at=41.2)
    assert sends(out) == [] and app(out, "stray-response") and proxy.stray == 1


def test_sequential_forking_tries_next_after_failure() -> None:
    """RFC 3261 §16.6 (sequential search): the next contact only after the previous one's final."""
    _, clock, invites, _ = forked(forking=ForkMode.SEQUENTIAL)
    assert [s.destination for s in invites] == [B1]
    out = clock.receive(response_to(invites[0].message, 486, "t1"), B1, at=1.0)
    assert to(out, B2) == ["INVITE sip:bob@client2.biloxi.example.com SIP/2.0"]
    assert upstream(out) == []
    i2 = [s.message for s in sends(out) if s.destination == B2][0]
    out = clock.receive(response_to(i2, 200, "t2"), B2, at=2.0)
    assert upstream(out) == ["SIP/2.0 200 OK"]


def test_sequential_branch_timeout_moves_on() -> None:
    """Sequential forking with a per-branch limit: CANCEL the ringing branch, try the next."""
    _, clock, invites, _ = forked(forking=ForkMode.SEQUENTIAL, branch_timeout=10.0)
    clock.receive(response_to(invites[0].message, 180, "t1"), B1, at=1.0)
    out = clock.advance(10.0)
    assert to(out, B1) == ["CANCEL sip:bob@client1.biloxi.example.com SIP/2.0"]
    assert to(out, B2) == ["INVITE sip:bob@client2.biloxi.example.com SIP/2.0"]


def test_non_invite_forked_first_2xx_wins() -> None:
    """RFC 3261 §16.7 for a non-INVITE (OPTIONS): the 2xx goes up, no CANCEL (only INVITE is cancelled)."""
    proxy = make_proxy(location=two_contacts())
    clock = Clock(proxy)
    out = clock.receive(invite(method="OPTIONS"), ALICE)
    o1, o2 = [s.message for s in sends(out)]
    out = clock.receive(response_to(o1, 200, "t1"), B1, at=0.1)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    assert to(out, B2) == []
    assert upstream(clock.receive(response_to(o2, 404, "t2"), B2, at=0.2)) == []


def test_response_after_transaction_ended_not_forwarded() -> None:
    """RFC 6026 §8.2: responses after the transaction ended are dropped, not forwarded."""
    proxy = make_proxy(location=two_contacts())
    clock = Clock(proxy)
    i1, i2 = [s.message for s in sends(clock.receive(invite(), ALICE))][1:]
    clock.receive(response_to(i1, 486, "t1"), B1, at=0.1)
    clock.receive(response_to(i2, 486, "t2"), B2, at=0.2)
    clock.advance(40.0)  # Timer D ends both client transactions
    out = clock.receive(response_to(i1, 486, "t1"), B1, at=41.0)
    assert sends(out) == [] and app(out, "stray-response")


def test_2xx_on_a_timed_out_branch_cancels_the_others_rfc3261_16_7_steps_5_10() -> None:
    """RFC 3261 §16.7 steps 5 and 10: a 2xx crossing our branch-timeout CANCEL goes up and cancels the next branch.

    The ringing first branch's limit fires at 10 s (CANCEL, next branch); its 200 arrives at 10.2 s, after
    the second branch rang. The 200 goes up at once, the second branch is CANCELled (step 10), and the
    second branch's own 200 at 10.3 s is forwarded too ("Any 2xx response to INVITE MUST be forwarded").
    """
    _, clock, (i1,), _ = forked(forking=ForkMode.SEQUENTIAL, branch_timeout=10.0)
    clock.receive(response_to(i1.message, 180, "t1"), B1, at=1.0)
    out = clock.advance(10.0)
    assert to(out, B1) == ["CANCEL sip:bob@client1.biloxi.example.com SIP/2.0"]
    i2 = [s.message for s in sends(out) if s.destination == B2][0]
    assert upstream(clock.receive(response_to(i2, 180, "t2"), B2, at=10.1)) == ["SIP/2.0 180 Ringing"]
    out = clock.receive(response_to(i1.message, 200, "t1"), B1, at=10.2)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    assert to(out, B2) == ["CANCEL sip:bob@client2.biloxi.example.com SIP/2.0"]
    assert app(out, "proxy-cancel")[0].detail == {"branches": [i2.top_via.branch], "cause": "2xx"}
    out = clock.receive(response_to(i2, 200, "t2"), B2, at=10.3)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    assert [s.message.to.tag for s in sends(out) if s.destination == ALICE] == ["t2"]
    assert app(out, "proxy-drop") == []


def test_branch_timeout_after_upstream_cancel_sends_no_second_cancel_rfc3261_16_10_17_1_3() -> None:
    """RFC 3261 §16.10 and §17.1.3: a branch CANCELled on the caller's CANCEL is not CANCELled again at its limit.

    The caller's CANCEL at 2 s is fanned out to the ringing branch; its branch-timeout at 10 s must not
    open a second CANCEL transaction with the same branch and method (no response could match it, so it
    would retransmit until Timer F) nor send a made-up 408 up: the branch's 487 at 10.5 s is the answer.
    """
    _, clock, (i1,), _ = forked(forking=ForkMode.SEQUENTIAL, branch_timeout=10.0)
    clock.receive(response_to(i1.message, 180, "t1"), B1, at=1.0)
    out = clock.receive(invite(method="CANCEL"), ALICE, at=2.0)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    cancel = [s.message for s in sends(out) if s.destination == B1]
    assert [first_line(m) for m in cancel] == ["CANCEL sip:bob@client1.biloxi.example.com SIP/2.0"]
    out = clock.receive(response_to(cancel[0], 200, "t1"), B1, at=2.1)
    out = clock.advance(10.0)
    assert sends(out) == []
    out = clock.receive(response_to(i1.message, 487, "t1"), B1, at=10.5)
    assert upstream(out) == ["SIP/2.0 487 Request Terminated"]
    assert to(out, B1) == ["ACK sip:bob@client1.biloxi.example.com SIP/2.0"]
    assert [line for line in to(clock.advance(60.0), B1) if line.startswith("CANCEL")] == []
