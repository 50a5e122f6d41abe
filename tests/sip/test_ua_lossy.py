"""Two UA cores over a lossy link, many seeds: invariants that must hold whatever is lost.

RFC 3261 §17 and §13.3.1.4, RFC 3262 §3: every retransmission is numbered in
order, every machine ends (no timer left, no transaction left), each side
reports the call's end once, and the two sides agree on the outcome when both
saw the final response.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import pair, wait_request  # noqa: E402

from simsip.sip.events import Transport  # noqa: E402


def lossy_call(seed: int, loss: float, reliable: bool, transport: Transport, t1: float) -> tuple:
    """alice calls bob (180 [reliable], 200 after 1 s, alice hangs up 2 s later) over a lossy link."""
    rng = random.Random(seed)
    net, alice, bob = pair(transport, t1, drop=lambda sent: rng.random() < loss)
    call_id = net.do("alice", lambda now: alice.invite(now, "sip:bob@bob"))
    try:
        wait_request(net, "bob")
    except AssertionError:
        net.run()
        return net, alice, bob, call_id  # the INVITE never got through: Timer B ended it
    start = net.now
    net.do("bob", lambda now: bob.respond(now, call_id, 180, reliable=reliable))
    net.run(until=start + 1.0)
    net.do("bob", lambda now: bob.respond(now, call_id, 200))
    net.run(until=start + 3.0)
    net.do("alice", lambda now: alice.hangup(now, call_id))
    net.run()
    return net, alice, bob, call_id


CASES = [(seed, loss, reliable, transport, t1)
         for loss in (0.5, 0.8)
         for seed in range(30)
         for reliable, transport, t1 in ((True, Transport.UDP, 0.5), (False, Transport.UDP, 0.1),
                                         (True, Transport.TCP, 0.5))]


@pytest.mark.parametrize("seed,loss,reliable,transport,t1", CASES)
def test_lossy_call_invariants_rfc3261_17(seed: int, loss: float, reliable: bool, transport: Transport,
                                          t1: float) -> None:
    """Whatever is lost: ordered retransmission counts, nothing left running, one end per side."""
    net, alice, bob, call_id = lossy_call(seed, loss, reliable, transport, t1)
    # The network went idle: no timer pending anywhere, no transaction left.
    assert net._peek() is None
    for ua in (alice, bob):
        assert not ua.layer.clients and not ua.layer.servers, ua.name
        assert not [n for n in ua._core_timers], ua.name
    # Each distinct message object is numbered 0, 1, 2 ... by its sender.
    counts: dict[int, list[int]] = defaultdict(list)
    for sent in net.sent:
        counts[id(sent.message)].append(sent.retransmission)
    for numbers in counts.values():
        assert numbers == list(range(len(numbers)))
    # At most one call-ended per side; alice always has one (every call ends at the UAC).
    ended = {node: [e for e in net.app(node, "call-ended")] for node in ("alice", "bob")}
    assert len(ended["alice"]) == 1 and len(ended["bob"]) <= 1
    a = ended["alice"][0].detail
    if a["outcome"] == "answered":
        assert bob.calls[call_id].outcome == "answered"
    if ended["bob"] and ended["bob"][0].detail["outcome"] == "reliability_failure":
        assert a["outcome"] in ("reliability_failure", "timeout", "answered")
    # Over TCP nothing is retransmitted by the transaction layer.
    if transport is Transport.TCP:
        assert not [s for s in net.sent if s.timer in ("A", "E", "G")]
