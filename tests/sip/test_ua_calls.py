"""UA core: 2xx reliability, CANCEL, timeouts, failover, re-INVITE glare, forking, OPTIONS, auth.

Each test names the RFC section it checks; the clock is stepped by hand (corehelp.Net).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import Net, answer_on, dial, doubling_times, drop_first, established, make_ua, pair  # noqa: E402

from simsip.sip.auth import DigestAuthenticator, parse_credentials  # noqa: E402
from simsip.sip.events import Address, AppEvent, SendMessage, Transport  # noqa: E402
from simsip.sip.message import Response, make_response, parse  # noqa: E402
from simsip.sip.ua import NO_CONTACT_REASON  # noqa: E402


# ------------------------------------------------------------ 2xx reliability


@pytest.mark.parametrize("t1", [0.5, 0.1])
@pytest.mark.parametrize("transport", [Transport.UDP, Transport.TCP])
def test_2xx_retransmitted_until_64t1_then_bye_rfc3261_13_3_1_4(t1: float, transport: Transport) -> None:
    """RFC 3261 §13.3.1.4: 2xx at T1 doubling capped at T2 on any transport; no ACK by 64*T1 -> BYE."""
    net, alice, bob = pair(transport, t1, drop=lambda s: s.label == "ACK")
    dial(net, alice, bob, [(0.0, 200, {})])
    start = net.now
    net.run(until=start + 64 * t1 + 1)
    oks = [s for s in net.sends("bob", "200") if s.message.cseq.method == "INVITE"]
    assert [round(s.t - start, 3) for s in oks] == doubling_times(t1, 4.0)
    if t1 == 0.5:
        assert len(oks) == 11 and round(oks[-1].t - start, 3) == 31.5
    assert [s.retransmission for s in oks] == list(range(len(oks)))
    assert [s.timer for s in oks] == [None] + ["2xx"] * (len(oks) - 1)
    # §13.2.2.4: alice re-sends the same ACK for every 2xx retransmission.
    acks = net.sends("alice", "ACK")
    assert [s.retransmission for s in acks] == list(range(len(oks)))
    assert len({s.message.top_via.branch for s in acks}) == 1
    bye = net.sends("bob", "BYE")
    assert [round(s.t - start, 3) for s in bye] == [round(64 * t1, 3)]
    assert net.app("bob", "call-ended")[0].detail["outcome"] == "answered"


def test_ack_stops_2xx_retransmission_rfc3261_13_3_1_4() -> None:
    """RFC 3261 §13.3.1.4: the ACK (here the second one, after a loss) stops the 2xx retransmission."""
    net, alice, bob = pair(drop=drop_first("ACK"))
    dial(net, alice, bob, [(0.0, 200, {})])
    net.run(until=40.0)
    assert net.times("bob", "200") == [0.01, 0.51]
    assert net.times("alice", "ACK") == [0.02, 0.52]
    assert net.sends("bob", "BYE") == []
    dialog_states = [(s.old, s.new) for _, n, s in net.states if n == "bob" and s.machine.startswith("dialog")]
    assert dialog_states[-1] == ("Moratorium", "Established")


def test_callee_bye_waits_for_ack_rfc3261_15() -> None:
    """RFC 3261 §15: the callee must not send BYE before the ACK (or the ACK timeout)."""
    net, alice, bob = pair(drop=drop_first("ACK"))
    call_id = dial(net, alice, bob, [(0.0, 200, {})])
    net.run(until=0.1)
    net.do("bob", lambda now: bob.hangup(now, call_id))
    net.run(until=5.0)
    assert net.times("bob", "BYE") == [0.53]  # sent when the retransmitted ACK arrived



# ------------------------------------------------ dialog-creating responses without Contact


class WithoutContact:
    """A UAS core whose responses with a code in ``codes`` lose their Contact (a UAS breaking §12.1.1)."""

    def __init__(self, core: Any, codes: set[int]) -> None:
        self.core, self.codes = core, codes

    def _strip(self, actions: list) -> list:
        for action in actions:
            if isinstance(action, SendMessage) and isinstance(action.message, Response) \
                    and action.message.status in self.codes:
                action.message.headers.remove("Contact")
        return actions

    def receive(self, now: float, message: Any, source: Address) -> list:
        return self._strip(self.core.receive(now, message, source))

    def timer_fired(self, now: float, name: str) -> list:
        return self._strip(self.core.timer_fired(now, name))

    def respond(self, now: float, call_id: str, code: int, **kwargs: Any) -> list:
        return self._strip(self.core.respond(now, call_id, code, **kwargs))


@pytest.mark.parametrize(("code", "record_route", "reliable"), [
    (200, None, False),
    (200, "<sip:p1.example.com;lr>", False),
    (200, "<sip:p1.example.com>", False),  # strict routing: the remote target would be the last Route
    (180, None, False),
    (183, None, True),
])
def test_dialog_creating_response_without_contact_is_discarded_rfc3261_12_1_1(
        code: int, record_route: str | None, reliable: bool) -> None:
    """RFC 3261 §12.1.1: a 1xx with To tag or 2xx lacking the Contact §12.1.2 takes the remote target from.

    The UAC discards it: no dialog, no ACK or PRACK (so never a None Request-URI or Route <None>).
    """
    alice = make_ua("alice", 1)
    call_id, actions = alice.invite(0.0, "sip:bob@bob", require_100rel=reliable or None)
    invite = next(a.message for a in actions if isinstance(a, SendMessage))
    response = make_response(invite, code, to_tag="bobtag")
    if record_route is not None:
        response.headers.add("Record-Route", record_route)
    if reliable:
        response.headers.add("Require", "100rel")
        response.headers.add("RSeq", "1")
    response = parse(bytes(response))
    actions = alice.receive(0.1, response, Address("bob"))
    assert not [a for a in actions if isinstance(a, SendMessage)]
    assert [a for a in actions if isinstance(a, AppEvent)] == [
        AppEvent("discarded", call_id, response, {"reason": NO_CONTACT_REASON})]
    assert alice.calls[call_id].dialogs == {} and alice.calls[call_id].final_code is None


def test_2xx_without_contact_is_never_acked_so_the_uas_gives_up_rfc3261_13_3_1_4() -> None:
    """RFC 3261 §12.1.1 and §13.3.1.4, end to end: the UAS retransmits its Contact-less 2xx to 64*T1, then BYE.

    The UAC discards the 180 and every copy of the 200 (no early dialog, no ACK), and
    answers the BYE 481: it has no dialog the BYE could belong to.
    """
    alice, bob = make_ua("alice", 1), WithoutContact(make_ua("bob", 2), {180, 200})
    net = Net({"alice": alice, "bob": bob})
    call_id = dial(net, alice, bob, [(0.0, 180, {}), (1.0, 200, {})])
    net.run(until=40.0)
    assert net.sends("alice", "ACK") == []
    oks = [s for s in net.sends("bob", "200") if s.message.cseq.method == "INVITE"]
    assert len(oks) == 11 and round(oks[-1].t, 3) == 32.51
    assert [e.detail for e in net.app("alice", "discarded")] == [{"reason": NO_CONTACT_REASON}] * 12
    assert net.app("alice", "response") == [] and alice.calls[call_id].dialogs == {}
    assert [(s.node, s.label) for s in net.sent[-2:]] == [("bob", "BYE"), ("alice", "481")]
    assert net.app("bob", "call-ended")[0].detail["reason"] == "BYE sent"


def test_2xx_without_contact_in_an_early_dialog_keeps_its_target_rfc3261_12_2_1_2() -> None:
    """RFC 3261 §12.2.1.2 ("if present"): a Contact-less 2xx of a dialog a 1xx created is ACKed to that 1xx's Contact."""
    alice, bob = make_ua("alice", 1), WithoutContact(make_ua("bob", 2), {200})
    net = Net({"alice": alice, "bob": bob})
    dial(net, alice, bob, [(0.0, 180, {}), (1.0, 200, {})])
    net.run(until=2.0)
    (ack,) = net.sends("alice", "ACK")
    assert str(ack.message.uri) == str(net.sends("bob", "180")[0].message.contacts[0].uri)
    assert net.app("alice", "discarded") == []

# ------------------------------------------------------------------ CANCEL


def test_cancel_after_provisional_rfc3261_9() -> None:
    """RFC 3261 §9.1-9.2: CANCEL after a 180; 200 to CANCEL, 487 to INVITE, ACK; outcome cancelled."""
    net, alice, bob = pair()
    call_id = dial(net, alice, bob, [(0.0, 180, {})])
    net.run(until=1.0)
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run(until=40.0)
    assert [(s.node, s.label) for s in net.sent] == [
        ("alice", "INVITE"), ("bob", "180"), ("alice", "CANCEL"), ("bob", "200"), ("bob", "487"), ("alice", "ACK"),
    ]
    invite, cancel = net.sends("alice", "INVITE")[0].message, net.sends("alice", "CANCEL")[0].message
    assert cancel.top_via.branch == invite.top_via.branch and cancel.uri == invite.uri
    assert cancel.cseq == (invite.cseq.seq, "CANCEL") and cancel.call_id == invite.call_id
    assert cancel.to == invite.to and cancel.from_ == invite.from_
    for node in ("alice", "bob"):
        assert net.app(node, "call-ended")[0].detail["outcome"] == "cancelled"
        assert net.app(node, "call-ended")[0].detail["final_code"] == 487


def test_cancel_waits_for_a_provisional_rfc3261_9_1() -> None:
    """RFC 3261 §9.1: with no provisional yet, the CANCEL is held until one arrives."""
    net, alice, bob = pair()
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    net.do("alice", lambda now: alice.cancel(now, call_id))
    net.run(until=1.0)
    # bob's transaction sends 100 Trying at 0.21 (TU silent 200 ms); it reaches alice at 0.22.
    assert net.times("alice", "CANCEL") == [0.22]
    assert net.times("bob", "487") == [0.23]


def test_cancel_crossing_200_then_bye_rfc5407_3_1_2() -> None:
    """RFC 5407 §3.1.2: CANCEL crossing the 200: the INVITE is not cancelled; ACK then BYE."""
    net, alice, bob = pair()
    call_id = dial(net, alice, bob, [(0.0, 180, {}), (0.5, 200, {})])
    net.do("alice", lambda now: alice.cancel(now, call_id))
    net.run(until=5.0)
    assert [(s.node, s.label) for s in net.sent] == [
        ("alice", "INVITE"), ("bob", "180"), ("bob", "200"), ("alice", "CANCEL"),
        ("alice", "ACK"), ("alice", "BYE"), ("bob", "200"), ("bob", "200"),
    ]
    assert [s.message.cseq.method for s in net.sends("bob", "200")] == ["INVITE", "CANCEL", "BYE"]
    assert net.sends("bob", "487") == []
    assert net.app("alice", "call-ended")[0].detail["outcome"] == "answered"


def test_cancel_for_unknown_transaction_gets_481_rfc3261_9_2() -> None:
    """RFC 3261 §9.2: a CANCEL matching no transaction gets 481."""
    net, alice, bob = pair()
    call_id = dial(net, alice, bob, [(0.0, 486, {})])
    net.run(until=1.0)
    invite = net.sends("alice", "INVITE")[0].message
    cancel = invite.copy()
    cancel.method = "CANCEL"
    cancel.headers.set("CSeq", "1 CANCEL")
    cancel.headers.set("Via", "SIP/2.0/UDP alice;branch=z9hG4bKnotthere")
    cancel.body = b""
    cancel.headers.remove("Content-Type")
    net.apply("bob", bob.receive(1.0, cancel, Address("alice")))
    assert net.sends("bob")[-1].message.status == 481
    assert call_id


def test_uas_hangup_before_answer_declines() -> None:
    """RFC 3261 §13.3.1.3: a UAS hanging up before answering rejects the INVITE (603 Decline)."""
    net, alice, bob = pair()
    call_id = dial(net, alice, bob, [(0.0, 180, {})])
    net.do("bob", lambda now: bob.hangup(now, call_id))
    net.run(until=1.0)
    assert net.sends("bob")[-1].message.status == 603
    assert net.app("alice", "call-ended")[0].detail["final_code"] == 603


# ------------------------------------------------------------ timeouts


@pytest.mark.parametrize("t1", [0.5, 0.1])
def test_invite_timeout_is_408_rfc3261_8_1_3_1(t1: float) -> None:
    """RFC 3261 §8.1.3.1, §17.1.1.2: Timer B -> timeout reported as 408; outcome timeout."""
    alice = make_ua("alice", 1, t1=t1)
    net = Net({"alice": alice})
    net.do("alice", lambda now: alice.invite(now, "sip:bob@nowhere"))
    net.run()
    assert net.times("alice", "INVITE") == doubling_times(t1, None)
    assert net.app_at("alice", "timeout")[0][0] == round(64 * t1, 3)
    assert net.app("alice", "call-ended")[0].detail == {
        "outcome": "timeout", "final_code": 408, "by": None, "reason": "Timer B"}


def test_outbound_failover_after_timer_b_rfc3665_3_4() -> None:
    """RFC 3665 §3.4 / RFC 3263 §4.3: 7 INVITEs to the first proxy, then the second after Timer B."""
    alice = make_ua("alice", 1, outbound=(Address("proxy1"), Address("bob")))
    bob = make_ua("bob", 2)
    net = Net({"alice": alice, "bob": bob})
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(0.0, 200, {})])
    net.run(until=40.0)
    to_proxy1 = [round(s.t, 3) for s in net.sends("alice", "INVITE") if s.destination.host == "proxy1"]
    to_bob = [round(s.t, 3) for s in net.sends("alice", "INVITE") if s.destination.host == "bob"]
    assert to_proxy1 == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5] and to_bob == [32.0]
    assert net.app("alice", "timeout")[0].detail["failover"] is True
    assert net.app("alice", "call-ended") == []
    assert net.sends("alice", "ACK")[0].t == pytest.approx(32.02)


# ------------------------------------------------------------ re-INVITE


def test_reinvite_in_dialog_rfc3261_14() -> None:
    """RFC 3261 §14.1-14.2: re-INVITE with the next CSeq, answered 200 and ACKed."""
    net, alice, bob, call_id = established()
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.run(until=2.0)
    invites = net.sends("alice", "INVITE")
    assert [s.message.cseq.seq for s in invites] == [1, 2]
    assert invites[1].message.to.tag and invites[1].message.body
    assert [s.message.cseq.seq for s in net.sends("alice", "ACK")] == [1, 2]
    reinvite_event = net.app("bob", "request")[-2]
    assert reinvite_event.detail["reinvite"] is True and reinvite_event.detail["auto_answered"] is True


def test_reinvite_glare_491_and_backoff_rfc3261_14_1() -> None:
    """RFC 3261 §14.1 / RFC 5407 §3.3.1: both get 491; owner retries in 2.1-4.0 s, the other in 0-2.0 s."""
    net, alice, bob, call_id = established()
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.do("bob", lambda now: bob.reinvite(now, call_id))
    net.run(until=10.0)
    assert len(net.sends("alice", "491")) == 1 and len(net.sends("bob", "491")) == 1
    retry = {n: [round(t, 3) for t, node, a in net.timers_started if node == n and a.label == "491-retry"]
             for n in ("alice", "bob")}
    delays = {n: [a.delay for t, node, a in net.timers_started if node == n and a.label == "491-retry"]
              for n in ("alice", "bob")}
    assert 2.1 <= delays["alice"][0] <= 4.0 and 0.0 <= delays["bob"][0] <= 2.0
    for value in delays["alice"] + delays["bob"]:
        assert round(value * 100) == pytest.approx(value * 100)  # 10 ms units
    assert retry["alice"] and retry["bob"]
    # Both retries succeed in turn (bob's first): 200s to INVITE CSeq > 1 on each side.
    ok_reinvite = [s for s in net.sends(None, "200") if s.message.cseq.method == "INVITE" and s.message.cseq.seq > 1]
    assert len(ok_reinvite) == 2


def test_bye_for_unknown_dialog_gets_481_rfc3261_15_1_2() -> None:
    """RFC 3261 §15.1.2 / §12.2.2: a BYE matching no dialog gets 481."""
    net, alice, bob, call_id = established()
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run(until=2.0)
    bye = net.sends("alice", "BYE")[0].message.copy()
    bye.headers.set("Via", "SIP/2.0/UDP alice;branch=z9hG4bKbye2")
    bye.headers.set("CSeq", "9 BYE")
    net.apply("bob", bob.receive(2.0, bye, Address("alice")))
    assert net.sends("bob")[-1].message.status == 481


def test_lower_cseq_in_dialog_gets_500_rfc3261_12_2_2() -> None:
    """RFC 3261 §12.2.2: a request with a CSeq lower than the remote CSeq gets 500."""
    net, alice, bob, call_id = established()
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.run(until=2.0)
    old = net.sends("alice", "INVITE")[1].message.copy()
    old.headers.set("Via", "SIP/2.0/UDP alice;branch=z9hG4bKold")
    old.headers.set("CSeq", "1 INVITE")
    net.apply("bob", bob.receive(2.0, old, Address("alice")))
    assert net.sends("bob")[-1].message.status == 500


# ------------------------------------------------------------ forking


def _forked_invite() -> tuple[Net, Any, Any, Any, str]:
    """alice INVITEs bob and the INVITE reaches bob and carol, as from a forking proxy (same branch)."""
    alice, bob, carol = make_ua("alice", 1), make_ua("bob", 2), make_ua("carol", 3)
    net = Net({"alice": alice, "bob": bob, "carol": carol})
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    invite = net.sends("alice", "INVITE")[0].message
    for name in ("bob", "carol"):
        net.apply(name, net.cores[name].receive(net.now, invite.copy(), Address("alice")))
    return net, alice, bob, carol, call_id


def test_forked_early_dialogs_and_second_2xx_rfc3261_13_2_2_4() -> None:
    """RFC 3261 §13.2.2.4 / RFC 5407 App. E: one early dialog per To tag; a second 2xx is ACKed then BYEd."""
    net, alice, bob, carol, call_id = _forked_invite()
    for name, ua in (("bob", bob), ("carol", carol)):
        net.do(name, lambda now, u=ua: u.respond(now, call_id, 180))
    net.run(until=1.0)
    early = [e.detail["to_tag"] for e in net.app("alice", "response") if e.detail["code"] == 180]
    assert len(set(early)) == 2
    assert len(alice.calls[call_id].dialogs) == 2
    for name, ua in (("bob", bob), ("carol", carol)):
        net.do(name, lambda now, u=ua: u.respond(now, call_id, 200))
    net.run(until=2.0)
    assert sorted(s.destination.host for s in net.sends("alice", "ACK")) == ["bob", "carol"]
    assert [s.destination.host for s in net.sends("alice", "BYE")] == ["carol"]
    oks = [e for e in net.app("alice", "response") if e.detail["code"] == 200 and e.detail["method"] == "INVITE"]
    assert [e.detail["fork"] for e in oks] == [False, True]
    assert net.app("carol", "call-ended")[0].detail["by"] == "remote"
    assert net.app("alice", "call-ended") == []  # the call with bob goes on


def test_unanswered_early_dialog_ends_64t1_after_first_2xx_rfc3261_13_2_2_4() -> None:
    """RFC 3261 §13.2.2.4: early dialogs not confirmed 64*T1 after the first 2xx are terminated."""
    net, alice, bob, carol, call_id = _forked_invite()
    net.do("carol", lambda now: carol.respond(now, call_id, 180))
    net.do("bob", lambda now: bob.respond(now, call_id, 200))
    net.run(until=40.0)
    carol_dialog = [(round(t, 3), s.new) for t, n, s in net.states
                    if n == "alice" and s.machine.startswith("dialog") and s.machine.endswith(
                        net.sends("carol", "180")[0].message.to.tag)]
    assert carol_dialog == [(0.01, "Early"), (32.01, "Morgue")]


# ------------------------------------------------------------ OPTIONS / auth


def test_options_answered_with_allow_rfc3261_11_2() -> None:
    """RFC 3261 §11.2: OPTIONS gets 200 with Allow, Accept and Supported."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.options(now, "sip:bob@bob"))
    net.run()
    ok = net.sends("bob", "200")[0].message
    assert ok.allow == ["INVITE", "ACK", "CANCEL", "BYE", "PRACK", "OPTIONS"]
    assert ok.supported == ["100rel"] and ok.headers.get("Accept") == "application/sdp"
    assert net.app("alice", "response")[0].detail["code"] == 200


def test_register_answers_digest_challenge_rfc3261_22() -> None:
    """RFC 3261 §22.2 / RFC 3665 §2.1: a 401 is answered once with Authorization (CSeq + 1)."""
    alice = make_ua("alice", 1, credentials=("alice", "secret"))
    net = Net({"alice": alice})
    net.do("alice", lambda now: alice.register(now, "sip:registrar", expires=600))
    first = net.sends("alice", "REGISTER")[0].message
    auth = DigestAuthenticator("atlanta.example.com", {"alice": "secret"}, random.Random(5))
    challenge = make_response(first, 401, to_tag="reg1")
    challenge.headers.add("WWW-Authenticate", auth.challenge())
    net.apply("alice", alice.receive(0.05, challenge, Address("registrar")))
    second = net.sends("alice", "REGISTER")[1].message
    assert second.cseq.seq == first.cseq.seq + 1 and second.call_id == first.call_id
    assert second.top_via.branch != first.top_via.branch
    creds = auth.find_credentials(second.headers.get_all("Authorization"))
    assert creds is not None and auth.verify(creds, "REGISTER")
    assert second.expires == 600
    # A second challenge is not answered again (no loop).
    again = make_response(second, 401, to_tag="reg1")
    again.headers.add("WWW-Authenticate", auth.challenge())
    net.apply("alice", alice.receive(0.1, again, Address("registrar")))
    assert len(net.sends("alice", "REGISTER")) == 2


def test_register_retried_with_min_expires_after_423_rfc3261_10_2_8() -> None:
    """RFC 3261 §10.2.8: after 423 the REGISTER is sent again with every interval >= Min-Expires (§10.2: same Call-ID, CSeq + 1)."""
    alice = make_ua("alice", 1)
    net = Net({"alice": alice})
    contacts = ["<sip:alice@a.example.com>;expires=30", "<sip:alice@b.example.com>;expires=0",
                "<sip:alice@c.example.com>;expires=7200", "<sip:alice@d.example.com>"]
    net.do("alice", lambda now: alice.register(now, "sip:registrar", expires=45, contacts=contacts))
    first = net.sends("alice", "REGISTER")[0].message
    brief = make_response(first, 423, to_tag="reg1")
    brief.headers.add("Min-Expires", "60")
    net.apply("alice", alice.receive(0.05, brief, Address("registrar")))
    second = net.sends("alice", "REGISTER")[1].message
    assert second.call_id == first.call_id and str(second.cseq) == f"{first.cseq.seq + 1} REGISTER"
    assert second.top_via.branch != first.top_via.branch
    # Only intervals under the floor are raised: a removal (0) and longer ones stay.
    assert second.expires == 60
    assert [str(c) for c in second.contacts] == [
        "<sip:alice@a.example.com>;expires=60", "<sip:alice@b.example.com>;expires=0",
        "<sip:alice@c.example.com>;expires=7200", "<sip:alice@d.example.com>"]
    assert [e.detail.get("interval_retry") for e in net.app("alice", "response")] == [True]
    # A 423 asking for no more than the REGISTER already has is not answered again (no loop).
    again = make_response(second, 423, to_tag="reg1")
    again.headers.add("Min-Expires", "60")
    net.apply("alice", alice.receive(0.1, again, Address("registrar")))
    assert len(net.sends("alice", "REGISTER")) == 2
    assert [e.detail.get("interval_retry") for e in net.app("alice", "response")] == [True, None]


def test_register_nonce_count_increases_per_nonce_rfc2617_3_2_2() -> None:
    """RFC 2617 §3.2.2 (RFC 3261 §22.4): nc counts the requests sent with one nonce; a new nonce restarts it."""
    alice = make_ua("alice", 1, credentials=("alice", "secret"))
    net = Net({"alice": alice})
    auth = DigestAuthenticator("atlanta.example.com", {"alice": "secret"}, random.Random(5))

    def answer(status: int, challenge: bool) -> None:
        request = net.sends("alice", "REGISTER")[-1].message
        response = make_response(request, status, to_tag="reg1")
        if challenge:
            response.headers.add("WWW-Authenticate", auth.challenge())
        net.apply("alice", alice.receive(net.now, response, Address("registrar")))

    net.do("alice", lambda now: alice.register(now, "sip:registrar", expires=600))
    answer(401, challenge=True)
    answer(200, challenge=False)
    for _ in range(4):
        net.do("alice", lambda now: alice.register(now, "sip:registrar", expires=600))
        answer(200, challenge=False)
    # The registrar's next challenge carries a new nonce: the count starts again.
    net.do("alice", lambda now: alice.register(now, "sip:registrar", expires=600))
    answer(401, challenge=True)
    *registers, last = [s.message for s in net.sends("alice", "REGISTER")]
    creds = [parse_credentials(r.headers.get("Authorization")) for r in registers[1:]]
    assert [c.nc for c in creds] == ["00000001", "00000002", "00000003", "00000004", "00000005", "00000006"]
    assert len({c.nonce for c in creds}) == 1 and len({c.cnonce for c in creds}) == 6
    # Only the new nonce's credentials: the refused ones for that realm are not sent again (§22.4).
    renewed = [parse_credentials(v) for v in last.headers.get_all("Authorization")]
    assert [(c.nonce != creds[0].nonce, c.nc) for c in renewed] == [(True, "00000001")]
    assert all(auth.verify(c, "REGISTER") for c in creds + renewed)


def test_invite_retried_after_stale_challenge_with_new_nonce_only_rfc2617_3_2_1() -> None:
    """RFC 2617 §3.2.1 / RFC 3261 §22.4: a 407 with stale=TRUE to a credentialed INVITE is answered once
    more, with the new nonce only (the request "may be retried if the nonce was stale"); a plain second
    407 for the same realm is not (the credentials were refused)."""
    for stale, invites in ((True, 3), (False, 2)):
        alice = make_ua("alice", 1, credentials=("alice", "secret"))
        net = Net({"alice": alice})
        net.do("alice", lambda now: alice.invite(now, "sip:bob@proxy"))
        auth = DigestAuthenticator("atlanta.example.com", {"alice": "secret"}, random.Random(5))
        first = net.sends("alice", "INVITE")[0].message
        challenge = make_response(first, 407, to_tag="p1")
        challenge.headers.add("Proxy-Authenticate", auth.challenge())
        net.apply("alice", alice.receive(0.05, challenge, Address("proxy")))
        second = net.sends("alice", "INVITE")[1].message
        again = make_response(second, 407, to_tag="p2")
        again.headers.add("Proxy-Authenticate", auth.challenge(stale=stale))
        net.apply("alice", alice.receive(0.1, again, Address("proxy")))
        assert len(net.sends("alice", "INVITE")) == invites
        if stale:
            third = net.sends("alice", "INVITE")[2].message
            values = third.headers.get_all("Proxy-Authorization")
            old = parse_credentials(second.headers.get("Proxy-Authorization"))
            assert [parse_credentials(v).nonce != old.nonce for v in values] == [True]
            assert auth.verify(auth.find_credentials(values), "INVITE") and third.cseq.seq == 3


def test_second_realms_challenge_keeps_the_first_realms_credentials_rfc3665_3_3() -> None:
    """RFC 3665 §3.3 F9-F11 / RFC 3261 §22.3: a 407 from a second proxy (another realm) adds its
    Proxy-Authorization beside the first realm's, which stays."""
    alice = make_ua("alice", 1, credentials=("alice", "secret"))
    net = Net({"alice": alice})
    net.do("alice", lambda now: alice.invite(now, "sip:bob@proxy"))
    atlanta = DigestAuthenticator("atlanta.example.com", {"alice": "secret"}, random.Random(5))
    biloxi = DigestAuthenticator("biloxi.example.com", {"alice": "secret"}, random.Random(6))
    for n, auth in enumerate((atlanta, biloxi)):
        request = net.sends("alice", "INVITE")[n].message
        challenge = make_response(request, 407, to_tag=f"p{n}")
        challenge.headers.add("Proxy-Authenticate", auth.challenge())
        net.apply("alice", alice.receive(0.05 * (n + 1), challenge, Address("proxy")))
    third = net.sends("alice", "INVITE")[2].message
    values = third.headers.get_all("Proxy-Authorization")
    assert [parse_credentials(v).realm for v in values] == ["atlanta.example.com", "biloxi.example.com"]
    assert all(a.verify(a.find_credentials(values), "INVITE") for a in (atlanta, biloxi))


def test_invite_answers_proxy_challenge_rfc3665_3_2() -> None:
    """RFC 3665 §3.2 / RFC 3261 §22.3: 407 is ACKed by the transaction and the INVITE re-sent with credentials."""
    alice = make_ua("alice", 1, credentials=("alice", "secret"))
    net = Net({"alice": alice})
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@proxy"))
    first = net.sends("alice", "INVITE")[0].message
    auth = DigestAuthenticator("atlanta.example.com", {"alice": "secret"}, random.Random(5))
    challenge = make_response(first, 407, to_tag="p1")
    challenge.headers.add("Proxy-Authenticate", auth.challenge())
    net.apply("alice", alice.receive(0.05, challenge, Address("proxy")))
    assert [s.label for s in net.sent] == ["INVITE", "ACK", "INVITE"]
    second = net.sends("alice", "INVITE")[1].message
    assert second.cseq.seq == 2 and second.from_.tag == first.from_.tag
    assert auth.verify(auth.find_credentials(second.headers.get_all("Proxy-Authorization")), "INVITE")
    assert net.app("alice", "call-ended") == []
    assert net.app("alice", "response")[0].detail["auth_retry"] is True
    assert call_id


def test_record_route_copied_and_route_set_used_rfc3261_12_1_1() -> None:
    """RFC 3261 §12.1.1: the UAS copies Record-Route into 1xx/2xx; §12.2.1.1: alice's BYE follows the route set."""
    net, alice, bob = pair()
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    invite = net.sends("alice", "INVITE")[0].message.copy()
    invite.headers.add("Record-Route", "<sip:p2.example.com;lr>")
    invite.headers.add("Record-Route", "<sip:p1.example.com;lr>")
    net.apply("bob", bob.receive(0.01, invite, Address("alice")))
    net.do("bob", lambda now: bob.respond(now, call_id, 180))
    net.do("bob", lambda now: bob.respond(now, call_id, 200))
    net.run(until=1.0)
    for label in ("180", "200"):
        rr = net.sends("bob", label)[0].message.headers.get_all("Record-Route")
        assert rr == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    ack = net.sends("alice", "ACK")[0]
    assert ack.destination.host == "p1.example.com"
    assert ack.message.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert str(ack.message.uri) == "sip:bob@bob"


def test_3xx_recursion_same_call_id_cseq_plus_one_rfc3261_8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: a 302 is ACKed and a new INVITE (same Call-ID, CSeq + 1) goes to its Contact."""
    net, alice, bob = pair()
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@redirect"))
    first = net.sends("alice", "INVITE")[0].message
    moved = make_response(first, 302, to_tag="r1")
    moved.headers.add("Contact", "<sip:bob@bob>")
    net.apply("alice", alice.receive(0.03, moved, Address("redirect")))
    answer_on(net, "bob", bob, [(0.0, 200, {})])
    net.run(until=1.0)
    invites = net.sends("alice", "INVITE")
    assert [(s.destination.host, s.message.cseq.seq, str(s.message.uri)) for s in invites] == [
        ("redirect", 1, "sip:bob@redirect"), ("bob", 2, "sip:bob@bob")]
    assert invites[1].message.call_id == call_id and invites[1].message.from_.tag == first.from_.tag
    assert net.app("alice", "call-ended") == []
    assert [s.destination.host for s in net.sends("alice", "ACK")] == ["redirect", "bob"]


def _redirected(contacts: list[str]) -> tuple[Net, Any]:
    """alice alone, her INVITE to sip:bob@redirect answered 302 with ``contacts`` at 30 ms."""
    alice = make_ua("alice", 1)
    net = Net({"alice": alice})
    net.do("alice", lambda now: alice.invite(now, "sip:bob@redirect"))
    moved = make_response(net.sends("alice", "INVITE")[0].message, 302, to_tag="r1")
    for contact in contacts:
        moved.headers.add("Contact", contact)
    net.now = 0.03
    net.apply("alice", alice.receive(0.03, moved, Address("redirect")))
    return net, alice


def _fail_last_invite(net: Net, alice: Any, code: int, at: float) -> None:
    """Answer alice's latest INVITE with ``code`` at ``at``."""
    net.now = at
    last = net.sends("alice", "INVITE")[-1].message
    net.apply("alice", alice.receive(at, make_response(last, code, to_tag=f"t{code}"), Address("x")))


def test_3xx_target_set_by_q_and_next_contact_after_a_failure_rfc3261_8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: the 3xx's Contacts make a target set tried highest q first; a failure (> 399)
    moves to the next address, each a new INVITE (CSeq + 1); a 6xx is definitive (§21.6) and ends it."""
    net, alice = _redirected(["<sip:bob@low>;q=0.2", "<sip:bob@high>;q=0.9", "<sip:bob@mid>"])
    _fail_last_invite(net, alice, 486, 0.1)
    _fail_last_invite(net, alice, 480, 0.2)
    assert [(s.destination.host, s.message.cseq.seq) for s in net.sends("alice", "INVITE")] == [
        ("redirect", 1), ("mid", 2), ("high", 3), ("low", 4)]  # no q is q=1 (§20.10)
    assert [e.detail.get("next_target") for e in net.app("alice", "response")] == [None, True, True]
    assert net.app("alice", "call-ended") == []
    _fail_last_invite(net, alice, 503, 0.3)  # the list is exhausted: the call has failed with the last
    assert len(net.sends("alice", "INVITE")) == 4
    [ended] = net.app("alice", "call-ended")
    assert (ended.detail["outcome"], ended.detail["final_code"]) == ("rejected", 503)
    net, alice = _redirected(["<sip:bob@one>", "<sip:bob@two>"])
    _fail_last_invite(net, alice, 603, 0.1)
    assert [s.destination.host for s in net.sends("alice", "INVITE")] == ["redirect", "one"]
    [ended] = net.app("alice", "call-ended")
    assert (ended.detail["outcome"], ended.detail["final_code"]) == ("rejected", 603)


def test_3xx_target_set_adds_no_uri_twice_rfc3261_8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: "MUST NOT add any given URI to the target set more than once": a 302 back to
    the Request-URI already tried is skipped, and a 302 naming only tried URIs ends the call with it."""
    net, alice = _redirected(["<sip:bob@redirect>", "<sip:bob@other>"])
    assert [s.destination.host for s in net.sends("alice", "INVITE")] == ["redirect", "other"]
    _fail_last_invite(net, alice, 302, 0.1)  # a 302 with no Contact: nothing new to try, the list is done
    assert len(net.sends("alice", "INVITE")) == 2
    [ended] = net.app("alice", "call-ended")
    assert (ended.detail["outcome"], ended.detail["final_code"]) == ("rejected", 302)


def test_3xx_next_contact_after_timer_b_rfc3261_8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: a transaction timeout is a failure too: Timer B (64*T1) on the first address
    sends the INVITE to the second."""
    net, alice = _redirected(["<sip:bob@gone>", "<sip:bob@here>"])
    net.run(until=40.0)
    invites = [(round(s.t, 3), s.destination.host, s.retransmission) for s in net.sends("alice", "INVITE")]
    assert [i for i in invites if i[2] == 0] == [(0.0, "redirect", 0), (0.03, "gone", 0), (32.03, "here", 0)]
    assert [e.detail["failover"] for e in net.app("alice", "timeout")] == [True]


def test_2xx_repeats_the_answer_an_unreliable_183_showed_rfc3261_13_2_1() -> None:
    """RFC 3261 §13.2.1: the answer to the INVITE's offer is in the 2xx; "That same exact answer MAY also be
    placed in any provisional responses sent prior to the answer": bob's 183 (unreliable) showed one, so
    the 200 the core completes carries those very bytes, not a freshly generated description."""
    early = b"v=0\r\no=bob 1 1 IN IP4 bob\r\ns=-\r\nc=IN IP4 bob\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n"
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 183, {"sdp": early}), (1.0, 200, {})])
    net.run(until=2.0)
    [progress] = net.sends("bob", "183")
    [ok] = net.sends("bob", "200")
    assert progress.message.headers.get("RSeq") is None  # unreliable: the answer is not delivered yet
    assert (progress.message.body, ok.message.body) == (early, early)


def test_reinvite_with_new_contact_refreshes_target_rfc3665_3_7() -> None:
    """RFC 3665 §3.7 / RFC 3261 §12.2: a re-INVITE with a new Contact moves the peer's remote target."""
    net, alice, bob, call_id = established()
    net.do("bob", lambda now: bob.reinvite(now, call_id, contact="sip:bob@bob-moved"))
    net.run(until=2.0)
    reinvite = net.sends("bob", "INVITE")[0].message
    assert [str(c.uri) for c in reinvite.contacts] == ["sip:bob@bob-moved"]
    net.do("alice", lambda now: alice.hangup(now, call_id))
    bye = net.sends("alice", "BYE")[0]
    assert str(bye.message.uri) == "sip:bob@bob-moved" and bye.destination.host == "bob-moved"


def test_cancel_without_final_destroys_invite_after_64t1_rfc3261_9_1() -> None:
    """RFC 3261 §9.1: no final response 64*T1 after the CANCEL: the INVITE transaction is destroyed."""
    net, alice, bob = pair(drop=lambda s: s.node == "bob" and s.label != "180")
    call_id = dial(net, alice, bob, [(0.0, 180, {})])
    net.run(until=1.0)
    net.do("alice", lambda now: alice.cancel(now, call_id))
    net.run()
    assert net.app_at("alice", "call-ended") == [(33.0, net.app("alice", "call-ended")[0])]
    assert net.app("alice", "call-ended")[0].detail["outcome"] == "cancelled"
    invite_tx = [s for _, n, s in net.states if n == "alice" and s.machine.startswith("INVITE client")]
    assert [(s.old, s.new) for s in invite_tx] == [("Calling", "Proceeding"), ("Proceeding", "Terminated")]
    assert not alice.layer.clients
