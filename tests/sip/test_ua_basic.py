"""UA core: the basic call (RFC 3261 §13, §15; RFC 3665 §3.1), driven by a hand-stepped clock."""

from __future__ import annotations

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import answer_on, pair  # noqa: E402

from simsip.sip.events import Transport  # noqa: E402


def test_basic_call_uac_and_uas_rfc3665_3_1() -> None:
    """RFC 3261 §13.2-13.3, §15 / RFC 3665 §3.1: INVITE, 180, 200, ACK, BYE, 200."""
    net, alice, bob = pair()
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(0.1, 180, {}), (1.0, 200, {})])
    net.run(until=3.0)
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run(until=3.1)
    assert [(s.node, s.label) for s in net.sent] == [
        ("alice", "INVITE"), ("bob", "180"), ("bob", "200"), ("alice", "ACK"), ("alice", "BYE"), ("bob", "200"),
    ]
    assert net.times("bob", "180") == [0.11]  # 10 ms link + 100 ms
    assert net.times("bob", "200") == [1.01, 3.01]
    assert net.times("alice", "ACK") == [1.02]
    # No retransmission, no 100 Trying (the TU answered within 200 ms, §17.2.1).
    assert all(s.retransmission == 0 for s in net.sent)
    ended = {n: e.detail for _, n, e in net.events if e.kind == "call-ended"}
    assert ended == {
        "alice": {"outcome": "answered", "final_code": 200, "by": "local", "reason": "BYE sent"},
        "bob": {"outcome": "answered", "final_code": 200, "by": "remote", "reason": "BYE received"},
    }
    codes = [e.detail["code"] for e in net.app("alice", "response") if e.detail["method"] == "INVITE"]
    assert codes == [180, 200]
    assert [e.detail["method"] for e in net.app("bob", "request")] == ["INVITE", "ACK", "BYE"]


def test_dialog_states_rfc5407_both_sides() -> None:
    """RFC 5407 §2: Early -> Moratorium -> Established -> Mortal -> Morgue at both ends."""
    net, alice, bob = pair()
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(0.0, 180, {}), (0.5, 200, {})])
    net.run(until=2.0)
    net.do("bob", lambda now: bob.hangup(now, call_id))
    net.run()
    for node in ("alice", "bob"):
        path = [(s.old, s.new) for _, n, s in net.states if n == node and s.machine.startswith("dialog")]
        assert path == [
            ("Preparative", "Early"), ("Early", "Moratorium"), ("Moratorium", "Established"),
            ("Established", "Mortal"), ("Mortal", "Morgue"),
        ], node


def test_100_trying_after_200ms_rfc3261_17_2_1() -> None:
    """RFC 3261 §17.2.1: the server transaction sends 100 Trying when the TU is silent for 200 ms."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(1.0, 180, {})])
    net.run(until=2.0)
    assert net.times("bob", "100") == [0.21]
    assert net.times("bob", "180") == [1.01]
    # alice's INVITE client moved to Proceeding on the 100 (no retransmission at 0.5 s).
    assert net.times("alice", "INVITE") == [0.0]


def test_uac_builds_ack_for_2xx_per_rfc3261_13_2_2_4() -> None:
    """RFC 3261 §13.2.2.4: the ACK has the INVITE's CSeq number, method ACK, a new branch, the dialog's tags."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(0.0, 200, {})])
    net.run()
    invite = net.sends("alice", "INVITE")[0].message
    ok = net.sends("bob", "200")[0].message
    ack = net.sends("alice", "ACK")[0].message
    assert ack.cseq.seq == invite.cseq.seq and ack.cseq.method == "ACK"
    assert ack.top_via.branch != invite.top_via.branch
    assert ack.to.tag == ok.to.tag and ack.from_.tag == invite.from_.tag
    assert str(ack.uri) == "sip:bob@bob"  # remote target from the 2xx Contact


def test_rejected_call_ack_by_transaction_rfc3261_17_1_1_3() -> None:
    """RFC 3261 §17.1.1.3: a 486 is ACKed by the INVITE client transaction; outcome rejected."""
    net, alice, bob = pair()
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(0.0, 486, {})])
    net.run()
    assert [(s.node, s.label) for s in net.sent] == [("alice", "INVITE"), ("bob", "486"), ("alice", "ACK")]
    ack = net.sends("alice", "ACK")[0].message
    invite = net.sends("alice", "INVITE")[0].message
    assert ack.top_via.branch == invite.top_via.branch  # same transaction
    ended = net.app("alice", "call-ended")[0].detail
    assert ended["outcome"] == "rejected" and ended["final_code"] == 486
    assert net.app("bob", "call-ended")[0].detail["outcome"] == "rejected"


@pytest.mark.parametrize("transport", [Transport.UDP, Transport.TCP])
def test_basic_call_over_both_transports(transport: Transport) -> None:
    """RFC 3261 §17: the same call over UDP and TCP, no retransmission without loss."""
    net, alice, bob = pair(transport)
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    answer_on(net, "bob", bob, [(0.0, 180, {}), (0.1, 200, {})])
    net.run(until=1.0)
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run()
    assert [s.label for s in net.sent] == ["INVITE", "180", "200", "ACK", "BYE", "200"]
    assert net.app("alice", "call-ended")[0].detail["outcome"] == "answered"
    # Everything is cleaned up: no transaction left, no timer pending.
    assert not alice.layer.clients and not alice.layer.servers
    assert not bob.layer.clients and not bob.layer.servers
