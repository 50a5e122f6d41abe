"""RFC 3262 reliable provisionals and PRACK, rule by rule (PRACK.md), on a hand-stepped clock."""

from __future__ import annotations

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import dial, doubling_times, drop_first, pair, wait_request  # noqa: E402

from simsip.sip.events import Address, Transport  # noqa: E402
from simsip.sip.message import RAck  # noqa: E402
from simsip.sip.ua import RELIABILITY_FAILURE_REASON  # noqa: E402

SDP = b"v=0\r\no=bob 1 1 IN IP4 bob\r\ns=-\r\nc=IN IP4 bob\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n"


@pytest.mark.parametrize("t1", [0.5, 0.1])
@pytest.mark.parametrize("transport", [Transport.UDP, Transport.TCP])
def test_reliable_1xx_schedule_then_5xx_rfc3262_3(t1: float, transport: Transport) -> None:
    """RFC 3262 §3: resent at T1 doubling with no T2 cap (any transport); 5xx at 64*T1 without PRACK."""
    net, alice, bob = pair(transport, t1, alice={"auto_prack": False})
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    start = net.now
    net.run(until=start + 64 * t1 + 1)
    sends = net.sends("bob", "180")
    assert [round(s.t - start, 3) for s in sends] == doubling_times(t1, None)
    assert [s.retransmission for s in sends] == list(range(7))
    assert [s.timer for s in sends] == [None] + ["1xx-rel"] * 6
    if t1 == 0.5:
        assert [round(s.t - start, 3) for s in sends] == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    rejection = net.sends("bob", "500")
    assert round(rejection[0].t - start, 3) == round(64 * t1, 3)
    assert rejection[0].message.reason == RELIABILITY_FAILURE_REASON
    failure = net.app("bob", "reliability-failure")[0]
    assert failure.detail == {"rseq": sends[0].message.rseq, "code": 500}
    assert net.app("bob", "call-ended")[0].detail["outcome"] == "reliability_failure"
    assert net.app("alice", "call-ended")[0].detail["outcome"] == "reliability_failure"
    assert net.sends("alice", "PRACK") == []


def test_prack_stops_retransmission_rfc3262_3() -> None:
    """RFC 3262 §3: the matching PRACK gets 200 and the reliable 1xx is not resent."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=40.0)
    assert len(net.sends("bob", "180")) == 1
    assert [(s.node, s.label) for s in net.sent] == [
        ("alice", "INVITE"), ("bob", "180"), ("alice", "PRACK"), ("bob", "200"),
    ]
    r180 = net.sends("bob", "180")[0].message
    prack = net.sends("alice", "PRACK")[0].message
    assert r180.require == ["100rel"] and r180.rseq is not None
    assert prack.rack == RAck(r180.rseq, 1, "INVITE")  # RFC 3262 §7.2
    assert prack.cseq.seq == 2 and prack.to.tag == r180.to.tag  # new request in the dialog
    assert not bob.layer.servers or all(tx.method != "INVITE" or tx.state.value == "Proceeding"
                                        for tx in bob.layer.servers.values())


def test_rseq_random_start_then_plus_one_rfc3262_3() -> None:
    """RFC 3262 §3: first RSeq uniformly in 1..2^31-1 (from the UA's rng), then exactly +1."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.1, 183, {"reliable": True})])
    net.run(until=1.0)
    first, second = (s.message.rseq for s in net.sends("bob", "180") + net.sends("bob", "183"))
    assert 1 <= first <= 2**31 - 1
    assert second == first + 1
    assert [s.message.rack.rseq for s in net.sends("alice", "PRACK")] == [first, second]


def test_second_reliable_1xx_queued_until_prack_rfc3262_3() -> None:
    """RFC 3262 §3: no second reliable provisional before the first is PRACKed."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.0, 183, {"reliable": True})])
    net.run(until=1.0)
    # 180 at 0.01; PRACK reaches bob at 0.03 and only then is the 183 sent.
    assert net.times("bob", "180") == [0.01]
    assert net.times("bob", "183") == [0.03]


def test_uac_discards_retransmission_and_prack_only_by_timer_e_rfc3262_4() -> None:
    """RFC 3262 §4: a retransmitted reliable 1xx is discarded; PRACK is resent only on Timer E."""
    net, alice, bob = pair(drop=drop_first("PRACK"))
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=5.0)
    assert net.times("bob", "180") == [0.01, 0.51]
    assert net.times("alice", "PRACK") == [0.02, 0.52]  # the second is Timer E, not the 180 copy
    assert [(s.retransmission, s.timer) for s in net.sends("alice", "PRACK")] == [(0, None), (1, "E")]
    assert [e.detail["reason"] for e in net.app("alice", "discarded")] == ["reliable 1xx retransmission"]
    assert len([e for e in net.app("alice", "response") if e.detail["code"] == 180]) == 1


def test_out_of_order_reliable_1xx_not_pracked_rfc3262_4() -> None:
    """RFC 3262 §4: an RSeq that is not last + 1 is neither PRACKed nor processed."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=1.0)
    r180 = net.sends("bob", "180")[0].message
    skipped = r180.copy()
    skipped.status, skipped.reason = 183, "Session Progress"
    skipped.headers.set("RSeq", str(r180.rseq + 2))
    net.apply("alice", alice.receive(1.0, skipped, Address("bob")))
    assert len(net.sends("alice", "PRACK")) == 1
    assert net.app("alice", "discarded")[-1].detail["reason"] == "reliable 1xx out of order"


def test_prack_matching_nothing_gets_481_rfc3262_3() -> None:
    """RFC 3262 §3: a PRACK whose RAck matches no unacknowledged reliable 1xx gets 481."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=1.0)
    prack = net.sends("alice", "PRACK")[0].message.copy()
    prack.headers.set("Via", "SIP/2.0/UDP alice;branch=z9hG4bKforged1")
    prack.headers.set("CSeq", "3 PRACK")
    prack.headers.set("RAck", str(RAck(prack.rack.rseq + 5, 1, "INVITE")))
    net.apply("bob", bob.receive(1.0, prack, Address("alice")))
    assert [s.message.status for s in net.sends("bob") if s.t == 1.0] == [481]


def test_2xx_withheld_while_reliable_1xx_with_sdp_unacked_rfc3262_3() -> None:
    """RFC 3262 §3, §5: no 2xx while an unPRACKed reliable 1xx carried a session description."""
    net, alice, bob = pair(drop=drop_first("PRACK"))
    dial(net, alice, bob, [(0.0, 183, {"reliable": True, "sdp": SDP}), (0.1, 200, {})])
    net.run(until=3.0)
    # PRACK lost at 0.02, resent on Timer E at 0.52, reaches bob at 0.53: then the 200 goes.
    assert net.times("bob", "200")[0] == 0.53
    ok_invite = [s for s in net.sends("bob", "200") if s.message.cseq.method == "INVITE"]
    assert [round(s.t, 3) for s in ok_invite] == [0.53]
    assert net.app("alice", "call-ended") == []


def test_final_without_sdp_stops_retransmission_but_prack_answered_rfc3262_3() -> None:
    """RFC 3262 §3: a final may go while a reliable 1xx (no SDP) is unacked; stop resending, still 200 the PRACK."""
    net, alice, bob = pair(alice={"auto_prack": False})
    call_id = dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.1, 200, {})])
    net.run(until=0.2)
    net.do("alice", lambda now: alice.prack(now, call_id))
    net.run(until=5.0)
    assert net.times("bob", "180") == [0.01]
    prack_ok = [s for s in net.sends("bob", "200") if s.message.cseq.method == "PRACK"]
    assert len(prack_ok) == 1


def test_100_is_never_reliable_rfc3262_3() -> None:
    """RFC 3262 §3: a UAS never sends 100 reliably."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 100, {"reliable": True})])
    net.run(until=2.0)
    trying = net.sends("bob", "100")[0].message
    assert trying.rseq is None and trying.require == []
    assert net.sends("alice", "PRACK") == []


def test_require_100rel_unsupported_gets_420_rfc3262_3() -> None:
    """RFC 3262 §3 / RFC 3261 §8.2.2.3: Require: 100rel at a UAS without it -> 420 + Unsupported."""
    net, alice, bob = pair(bob={"supports_100rel": False})
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", require_100rel=True))
    net.run(until=1.0)
    rejection = net.sends("bob", "420")[0].message
    assert rejection.unsupported == ["100rel"]
    assert net.app("alice", "call-ended")[0].detail == {
        "outcome": "rejected", "final_code": 420, "by": "remote", "reason": "420 received"}


def test_require_100rel_forces_reliable_provisionals_rfc3262_3() -> None:
    """RFC 3262 §3: with Require: 100rel every non-100 provisional is sent reliably."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", require_100rel=True))
    call_id = wait_request(net, "bob").call_id
    net.do("bob", lambda now: bob.respond(now, call_id, 180))
    net.run(until=1.0)
    assert net.sends("bob", "180")[0].message.rseq is not None
    invite = net.sends("alice", "INVITE")[0].message
    assert invite.require == ["100rel"] and invite.supported == ["100rel"]


def test_call_requiring_100rel_pracks_without_ua_support_rfc3262_4() -> None:
    """RFC 3262 §4: a reliable 1xx to an INVITE sent with Require: 100rel is PRACKed, UA option or not."""
    net, alice, bob = pair(alice={"supports_100rel": False})
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", require_100rel=True))
    call_id = wait_request(net, "bob").call_id
    net.do("bob", lambda now: bob.respond(now, call_id, 180, reliable=True))
    net.run(until=40.0)
    invite = net.sends("alice", "INVITE")[0].message
    assert invite.require == ["100rel"] and invite.supported == ["100rel"]
    r180 = net.sends("bob", "180")[0].message
    # Before the fix alice never PRACKed: the 180 went at 0.01, 0.51, 1.51, ... and bob sent 500 at 32.01.
    assert net.times("bob", "180") == [0.01]
    assert net.times("alice", "PRACK") == [0.02]
    assert net.sends("alice", "PRACK")[0].message.rack == RAck(r180.rseq, 1, "INVITE")
    assert [(s.t, s.message.cseq.method) for s in net.sends("bob", "200")] == [(0.03, "PRACK")]
    assert net.sends("bob", "500") == [] and net.app("bob", "reliability-failure") == []


def test_no_100rel_in_invite_means_unreliable_rfc3262_3() -> None:
    """RFC 3262 §3: an INVITE without Supported/Require 100rel never gets a reliable provisional."""
    net, alice, bob = pair(alice={"supports_100rel": False})
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=5.0)
    r180 = net.sends("bob", "180")
    assert len(r180) == 1 and r180[0].message.rseq is None
    assert net.sends("alice", "INVITE")[0].message.supported == []


def test_auto_prack_off_then_manual_prack() -> None:
    """RFC 3262 §4: with auto PRACK off, the application's prack() sends the PRACK."""
    net, alice, bob = pair(alice={"auto_prack": False})
    call_id = dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=1.0)
    assert net.times("bob", "180") == [0.01, 0.51]
    net.do("alice", lambda now: alice.prack(now, call_id))
    net.run(until=10.0)
    assert net.times("bob", "180") == [0.01, 0.51]
    assert net.times("alice", "PRACK") == [1.0]
    assert net.do("alice", lambda now: alice.prack(now, call_id)) is None
    assert net.app("alice", "app-error")[-1].detail["reason"] == "no reliable provisional awaiting PRACK"


def test_prack_answer_carries_sdp_when_1xx_had_offer_rfc3262_5() -> None:
    """RFC 3262 §5: INVITE without offer, reliable 1xx carries the offer, the PRACK the answer."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", sdp=""))
    call_id = wait_request(net, "bob").call_id
    net.do("bob", lambda now: bob.respond(now, call_id, 183, reliable=True, sdp=SDP))
    net.run(until=1.0)
    prack = net.sends("alice", "PRACK")[0].message
    assert prack.body.startswith(b"v=0") and prack.content_type == "application/sdp"


def test_offerless_invite_gets_offer_in_first_reliable_1xx_rfc3262_5() -> None:
    """RFC 3262 §5, RFC 3261 §13.2.1: INVITE without offer: the first reliable 1xx carries the offer, not the 2xx."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", sdp=""))
    call_id = wait_request(net, "bob").call_id
    net.do("bob", lambda now: bob.respond(now, call_id, 180, reliable=True))
    net.run(until=0.5)
    net.do("bob", lambda now: bob.respond(now, call_id, 200))
    net.run(until=2.0)
    # Before the fix the 180 (RSeq, the first reliable non-failure response) had no body and the
    # offer came in the 200 at 0.5, answered in the ACK.
    r180 = net.sends("bob", "180")[0]
    assert r180.t == 0.01 and r180.message.rseq is not None
    assert r180.message.content_type == "application/sdp" and r180.message.body.startswith(b"v=0")
    prack = net.sends("alice", "PRACK")[0]
    assert prack.t == 0.02 and prack.message.body.startswith(b"v=0")  # the answer
    ok = [s for s in net.sends("bob", "200") if s.message.cseq.method == "INVITE"]
    assert [(s.t, s.message.body) for s in ok] == [(0.5, b"")]
    assert [(s.t, s.message.body) for s in net.sends("alice", "ACK")] == [(0.51, b"")]


def _rel_states(net, node: str = "bob") -> dict[str, list[tuple[str, str]]]:
    """StateChanges of each reliable provisional machine at ``node``."""
    out: dict[str, list[tuple[str, str]]] = {}
    for _, n, change in net.states:
        if n == node and change.machine.startswith("reliable "):
            out.setdefault(change.machine.split(" ")[1] + change.machine.split(" ")[2], []).append(
                (change.old, change.new))
    return out


def test_reliable_1xx_machine_paths_rfc3262_3() -> None:
    """RFC 3262 §3 as RELIABLE_1XX_TRANSITIONS: queued 183 waits for the 180's PRACK; both PRACKed."""
    net, alice, bob = pair()
    dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.0, 183, {"reliable": True})])
    net.run(until=1.0)
    assert _rel_states(net) == {
        "180#1": [("Pending", "Unacknowledged"), ("Unacknowledged", "PRACKed")],
        "183#2": [("Pending", "Unacknowledged"), ("Unacknowledged", "PRACKed")],
    }


def test_reliable_1xx_machine_stopped_failed_discarded_rfc3262_3() -> None:
    """RFC 3262 §3: a final stops (or discards a queued) reliable 1xx; 64*T1 without PRACK fails it."""
    net, alice, bob = pair(alice={"auto_prack": False})
    dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.0, 183, {"reliable": True}), (0.1, 486, {})])
    net.run(until=1.0)
    assert _rel_states(net) == {
        "180#1": [("Pending", "Unacknowledged"), ("Unacknowledged", "Stopped")],
        "183#2": [("Pending", "Discarded")],
    }
    net2, alice2, bob2 = pair(alice={"auto_prack": False})
    dial(net2, alice2, bob2, [(0.0, 180, {"reliable": True})])
    net2.run(until=40.0)
    assert _rel_states(net2) == {"180#1": [("Pending", "Unacknowledged"), ("Unacknowledged", "Failed")]}


@pytest.mark.parametrize("states", [True, False])
def test_layer_without_states_gives_no_state_change_at_all_rfc3262_3(states: bool) -> None:
    """A core whose layer builds no StateChange (a driver tracing none) gets none from dialogs or reliable 1xx."""
    net, alice, bob = pair()
    alice.layer.states = bob.layer.states = states
    call_id = dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.3, 200, {})])
    net.run(until=1.0)
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run(until=40.0)
    machines = {change.machine.split(" ")[0] for _, _, change in net.states}
    assert machines == ({"dialog", "reliable", "INVITE", "non-INVITE"} if states else set())
    assert [s.label for s in net.sent] == ["INVITE", "180", "PRACK", "200", "200", "ACK", "BYE", "200"]


def test_reliable_1xx_table_is_published_for_statecharts() -> None:
    """The UA core publishes its RFC 3262 machine like the transaction tables (h11 style)."""
    from simsip.sip.ua import RELIABLE_1XX_INITIAL, RELIABLE_1XX_TRANSITIONS, Rel1xxState

    states = {s for s, _ in RELIABLE_1XX_TRANSITIONS} | set(RELIABLE_1XX_TRANSITIONS.values())
    assert states == set(Rel1xxState) and RELIABLE_1XX_INITIAL is Rel1xxState.PENDING


def test_prack_with_lower_cseq_gets_500_rfc3261_12_2_2() -> None:
    """RFC 3261 §12.2.2: a PRACK with a CSeq lower than the remote CSeq is out of order: 500, 1xx still unacked."""
    net, alice, bob = pair(alice={"auto_prack": False})
    call_id = dial(net, alice, bob, [(0.0, 180, {"reliable": True}), (0.0, 183, {"reliable": True})])
    net.run(until=0.2)
    net.do("alice", lambda now: alice.prack(now, call_id))  # CSeq 2 PRACKs the 180; the 183 goes
    net.run(until=0.3)
    r183 = net.sends("bob", "183")[0].message
    stale = net.sends("alice", "PRACK")[0].message.copy()
    stale.headers.set("Via", "SIP/2.0/UDP alice;branch=z9hG4bKstale1")
    stale.headers.set("CSeq", "1 PRACK")  # lower than the remote CSeq 2 of the first PRACK
    stale.headers.set("RAck", str(RAck(r183.rseq, 1, "INVITE")))
    net.apply("bob", bob.receive(0.3, stale, Address("alice")))
    assert [(s.message.cseq.seq, s.message.status) for s in net.sends("bob") if s.t == 0.3] == [(1, 500)]
    # The 183 was not acknowledged by the rejected PRACK: alice's own PRACK (CSeq 3) still gets 200.
    net.do("alice", lambda now: alice.prack(now, call_id))
    net.run(until=0.4)
    assert [(s.message.cseq.seq, s.message.status) for s in net.sends("bob") if s.label.isdigit()
            and s.message.cseq.method == "PRACK"] == [(2, 200), (1, 500), (3, 200)]


def test_offer_in_prack_after_1xx_answer_is_answered_in_its_200_rfc3262_5() -> None:
    """RFC 3262 §5: the reliable 1xx carried the answer, the PRACK a new offer: the 200 to the PRACK has the answer."""
    net, alice, bob = pair(alice={"auto_prack": False}, drop=lambda s: s.label == "PRACK")
    call_id = dial(net, alice, bob, [(0.0, 183, {"reliable": True, "sdp": SDP})])
    net.run(until=0.2)
    assert net.sends("alice", "INVITE")[0].message.body.startswith(b"v=0")  # the offer was in the INVITE
    net.do("alice", lambda now: alice.prack(now, call_id))  # lost on the way: re-sent below with an offer
    offer = net.sends("alice", "PRACK")[0].message.copy()
    offer.headers.set("Content-Type", "application/sdp")
    offer.body = SDP.replace(b"o=bob 1 1", b"o=alice 2 2").replace(b"bob", b"alice")
    net.apply("bob", bob.receive(0.2, offer, Address("alice")))
    (ok,) = [s.message for s in net.sends("bob", "200") if s.message.cseq.method == "PRACK"]
    assert ok.content_type == "application/sdp" and ok.body.startswith(b"v=0\r\no=bob ")
