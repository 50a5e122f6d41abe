"""RFC 5407 race conditions through two UA cores on a hand-stepped clock."""

from __future__ import annotations

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import dial, drop_first, established, pair  # noqa: E402

from simsip.sip.events import Address  # noqa: E402


def test_invite_retransmission_in_moratorium_absorbed_rfc5407_3_1_1() -> None:
    """RFC 5407 §3.1.1 / RFC 6026 §7.1: 180 lost, INVITE retransmission crosses the 200: no new call."""
    net, alice, bob = pair(drop=lambda s: s.label == "180")
    dial(net, alice, bob, [(0.0, 180, {}), (0.49, 200, {})])
    net.run(until=5.0)
    assert net.times("alice", "INVITE") == [0.0, 0.5]
    # The retransmitted INVITE reached bob at 0.51, after his 200 at 0.5: absorbed in Accepted.
    assert len(net.app("bob", "request")) == 2  # INVITE, ACK
    assert [s.message.status for s in net.sends("bob")] == [180, 200]
    assert net.app("alice", "response")[-1].detail["code"] == 200


def test_simultaneous_bye_rfc5407_3_2_1() -> None:
    """RFC 5407 §3.2.1: both send BYE; each, Mortal, answers the other's BYE with 200."""
    net, alice, bob, call_id = established()
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.do("bob", lambda now: bob.hangup(now, call_id))
    net.run(until=40.0)
    oks = sorted((s.node, s.message.cseq.method, s.message.status) for s in net.sent if s.label == "200"
                 and s.message.cseq.method == "BYE")
    assert oks == [("alice", "BYE", 200), ("bob", "BYE", 200)]
    for node in ("alice", "bob"):
        assert len(net.app(node, "call-ended")) == 1


def test_reinvite_while_mortal_gets_481_rfc5407_3_2_2() -> None:
    """RFC 5407 §3.2.2: a re-INVITE crossing our BYE is answered 481 (only BYE is accepted when Mortal)."""
    net, alice, bob, call_id = established()
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.do("bob", lambda now: bob.reinvite(now, call_id))
    net.run(until=40.0)
    reinvite_answers = [s.message.status for s in net.sends("alice") if s.label.isdigit()
                        and s.message.cseq.method == "INVITE"]
    assert reinvite_answers == [481]
    # bob still ACKs the 481 (transaction layer) and answers alice's BYE.
    reinvite = net.sends("bob", "INVITE")[0].message
    assert [s.message.cseq for s in net.sends("bob", "ACK")] == [(reinvite.cseq.seq, "ACK")]
    assert [s.message.status for s in net.sends("bob") if s.label.isdigit()] == [200, 200]


def test_bye_in_early_dialog_gets_487_for_invite_rfc3261_15_1_2() -> None:
    """RFC 3261 §15.1.2 / RFC 5407 App. A: a BYE in an early dialog: 200 to BYE, 487 to the INVITE."""
    net, alice, bob = pair()
    call_id = dial(net, alice, bob, [(0.0, 180, {})])
    net.run(until=1.0)
    dialog = next(iter(alice.calls[call_id].dialogs.values()))
    from simsip.sip.transaction import MAGIC_COOKIE

    bye = dialog.build_request("BYE", f"SIP/2.0/UDP alice;branch={MAGIC_COOKIE}earlybye")
    net.apply("bob", bob.receive(1.0, bye, Address("alice")))
    net.run(until=2.0)
    statuses = [(s.message.cseq.method, s.message.status) for s in net.sends("bob") if s.t >= 1.0]
    assert statuses == [("BYE", 200), ("INVITE", 487)]
    assert net.app("bob", "call-ended")[0].detail["outcome"] == "cancelled"


def test_bye_timeout_still_ends_call_rfc3261_15_1_1() -> None:
    """RFC 3261 §15.1.1: a BYE that gets no answer (Timer F) still ends the dialog."""
    net, alice, bob, call_id = established(drop=lambda s: s.label == "BYE")
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run(until=100.0)
    assert net.app_at("alice", "timeout")[0][1].detail["method"] == "BYE"
    assert net.app_at("alice", "call-ended")[0][0] == 33.0
    assert net.times("alice", "BYE") == [round(1.0 + t, 3) for t in
                                         (0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)]


def test_reliable_1xx_resent_for_invite_retransmission_rfc3261_17_2_1() -> None:
    """PRACK.md §9 / RFC 3261 §17.2.1: a retransmitted INVITE makes the server resend the reliable 1xx too."""
    net, alice, bob = pair(drop=drop_first("180"))
    dial(net, alice, bob, [(0.0, 180, {"reliable": True})])
    net.run(until=2.0)
    sends = net.sends("bob", "180")
    # 0.01 first (lost); 0.51 INVITE retransmission arrives -> resend (no timer) then the RFC 3262 timer at 0.51.
    assert [(round(s.t, 3), s.retransmission, s.timer) for s in sends][:3] == [
        (0.01, 0, None), (0.51, 1, "1xx-rel"), (0.51, 2, None)]
    assert len(net.sends("alice", "PRACK")) == 1


def test_reinvite_while_initial_2xx_unacked_rfc5407_3_1_4() -> None:
    """RFC 5407 §3.1.4: ACK lost, 200 retransmitted while alice re-INVITEs: each 2xx gets its own ACK."""
    net, alice, bob = pair(drop=drop_first("ACK"))
    call_id = dial(net, alice, bob, [(0.0, 200, {})])
    net.run(until=0.3)
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.run(until=5.0)
    acks = [(round(s.t, 3), s.message.cseq.seq, s.retransmission) for s in net.sends("alice", "ACK")]
    # 0.02 ACK(1) lost; 0.32 ACK(2) for the re-INVITE's 200; 0.52 ACK(1) again for the retransmitted 200.
    assert acks == [(0.02, 1, 0), (0.32, 2, 0), (0.52, 1, 1)]
    assert [e.detail["code"] for e in net.app("alice", "response")] == [200, 200]
    assert net.sends("bob", "491") == []


def test_2xx_lost_crossing_early_bye_still_retransmitted_rfc3261_13_3_1_4_rfc5407_3_1_3() -> None:
    """RFC 3261 §13.3.1.4 / RFC 5407 §3.1.3: the 200 crossing alice's early BYE is lost; bob, Mortal, retransmits it.

    "Response retransmissions cease when an ACK request for the response is received": not when a BYE is.
    """
    net, alice, bob = pair(drop=lambda s: s.label == "200" and s.message.cseq.method == "INVITE"
                           and s.retransmission == 0)
    call_id = dial(net, alice, bob, [(0.0, 180, {})])
    net.run(until=0.5)
    net.do("alice", lambda now: alice.bye(now, call_id))
    net.do("bob", lambda now: bob.respond(now, call_id, 200))
    net.run(until=40.0)
    # 0.5 200 lost, BYE at bob 0.51 (200 at 0.51); the 2xx timer resends at 1.0; alice ACKs at 1.01; no more.
    assert [(round(s.t, 3), s.message.status) for s in net.sends("bob") if s.t >= 0.5] == [
        (0.5, 200), (0.51, 200), (1.0, 200)]
    assert [(round(s.t, 3), s.message.cseq.seq) for s in net.sends("alice", "ACK")] == [(1.01, 1)]
    assert [e.detail["code"] for e in net.app("alice", "response") if e.detail["method"] == "INVITE"] == [180, 200]


def test_reinvite_2xx_lost_crossing_bye_still_retransmitted_rfc3261_13_3_1_4_rfc5407_3_2_3() -> None:
    """RFC 3261 §13.3.1.4 / RFC 5407 §3.2.3: bob re-INVITEs then BYEs; alice's 200 to the re-INVITE is lost.

    Alice must go on retransmitting that 200 after answering the BYE, so that bob's re-INVITE gets its
    final response and is ACKed (F7, F9) instead of timing out on Timer B.
    """
    net, alice, bob, call_id = established(
        drop=lambda s: s.node == "alice" and s.label == "200" and s.message.cseq.method == "INVITE"
        and s.retransmission == 0 and s.t > 0.5)
    net.do("bob", lambda now: bob.reinvite(now, call_id))
    net.do("bob", lambda now: bob.hangup(now, call_id))
    net.run(until=40.0)
    # re-INVITE and BYE at 1.0; alice answers both at 1.01 (the re-INVITE's 200 lost), resends that 200 at 1.51.
    assert [(round(s.t, 3), s.message.cseq.method, s.message.status) for s in net.sends("alice")
            if s.t >= 1.0] == [(1.01, "INVITE", 200), (1.01, "BYE", 200), (1.51, "INVITE", 200)]
    reinvite = net.sends("bob", "INVITE")[0].message
    assert [(round(s.t, 3), s.message.cseq) for s in net.sends("bob", "ACK")] == [(1.52, (reinvite.cseq.seq, "ACK"))]
    assert net.app("bob", "timeout") == []


def test_491_retry_waits_while_peer_reinvite_unanswered_rfc3261_14_1() -> None:
    """RFC 3261 §14.1 / RFC 5407 §3.3.1: glare, then bob's retry is still unanswered when alice's timer fires.

    "The UAC MUST NOT initiate a new INVITE transaction within a dialog while another INVITE transaction
    is in progress in either direction": alice backs off again instead of sending her retry (which bob,
    his own retry pending, would only answer 491 again), and re-INVITEs once she has answered bob's.
    """
    net, alice, bob, call_id = established(alice={"auto_answer_reinvite": False})
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.do("bob", lambda now: bob.reinvite(now, call_id))
    # Glare at 1.01; bob retries 0-2 s after 1.02 (reaching alice by 3.03), alice's first timer fires
    # 2.1-4 s after 1.02 (3.12 or later), while bob's retry is still unanswered.
    net.run(until=10.0)
    assert net.times("alice", "INVITE") == [0.0, 1.0]  # the call's INVITE, her re-INVITE
    assert [round(s.t, 3) for s in net.sends("bob", "491")] == [1.01]
    assert len(net.sends("bob", "INVITE")) == 2
    net.do("alice", lambda now: alice.respond(now, call_id, 200))
    net.run(until=60.0)
    retries = [(round(t, 3), round(a.delay, 3)) for t, node, a in net.timers_started
               if node == "alice" and a.label == "491-retry"]
    assert len(retries) >= 2 and all(2.1 <= delay <= 4.0 for _, delay in retries)
    # Her re-INVITE goes when the last backoff ends (after she answered bob at 10.0), and succeeds.
    last = round(retries[-1][0] + retries[-1][1], 3)
    assert last > 10.0 and net.times("alice", "INVITE") == [0.0, 1.0, last]
    assert net.sends("bob", "491")[1:] == [] and net.sends("alice", "491")[1:] == []
    assert [e.detail["code"] for e in net.app("alice", "response") if e.detail["reinvite"]] == [491, 200]


def test_reinvite_refused_while_peer_reinvite_unanswered_rfc3261_14_1() -> None:
    """RFC 3261 §14.1: the application cannot re-INVITE while the peer's re-INVITE awaits our answer."""
    net, alice, bob, call_id = established(alice={"auto_answer_reinvite": False})
    net.do("bob", lambda now: bob.reinvite(now, call_id))
    net.run(until=1.5)
    net.do("alice", lambda now: alice.reinvite(now, call_id))
    net.run(until=5.0)
    assert net.times("alice", "INVITE") == [0.0]  # only the initial INVITE
    assert [e.detail["reason"] for e in net.app("alice", "app-error")] == ["an INVITE of theirs is still pending (§14.1)"]


def test_bye_answers_pending_reinvite_487_rfc3261_15_1_2() -> None:
    """RFC 3261 §15.1.2: "The UAS MUST still respond to any pending requests received for that dialog".

    Bob re-INVITEs and at once BYEs; alice's application has not answered the re-INVITE. Alice answers the
    BYE 200 and the re-INVITE 487 (as for a pending initial INVITE); bob ACKs the 487, nothing times out.
    """
    net, alice, bob, call_id = established(alice={"auto_answer_reinvite": False})
    net.do("bob", lambda now: bob.reinvite(now, call_id))
    net.do("bob", lambda now: bob.hangup(now, call_id))
    net.run(until=40.0)
    assert [(round(s.t, 3), s.message.cseq.method, s.message.status) for s in net.sends("alice")
            if s.t >= 1.0] == [(1.01, "BYE", 200), (1.01, "INVITE", 487)]
    reinvite = net.sends("bob", "INVITE")[-1].message
    assert [(round(s.t, 3), s.message.cseq) for s in net.sends("bob", "ACK") if s.t >= 1.0] == [
        (1.02, (reinvite.cseq.seq, "ACK"))]
    assert [e.detail["code"] for e in net.app("bob", "response") if e.detail["reinvite"]] == [487]
    assert net.app("bob", "timeout") == []
    # The application's late answer finds the re-INVITE answered.
    net.do("alice", lambda now: alice.respond(now, call_id, 200))
    assert net.app("alice", "app-error")[-1].detail["reason"] == "INVITE already answered 487"
