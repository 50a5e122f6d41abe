"""The simulated network: exact delays, routing, loss models, TCP recovery, faults."""

from __future__ import annotations

import gc
import random

import pytest
import simpy

from simsip.net import (
    TCP_MIN_RTO,
    BernoulliLoss,
    ConstantDelay,
    GilbertElliottLoss,
    HopSpec,
    Network,
    UniformDelay,
)
from simsip.net.network import Packet, _TcpConnection
from simsip.sip.events import Transport


class Sink:
    """Records (time, message, source) of every delivery to one node."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.got: list[tuple[float, object, str]] = []

    def __call__(self, message: object, source: str, transport: Transport) -> None:
        self.got.append((round(self.env.now, 9), message, source))


def build(links: list[tuple[str, str, HopSpec]], seed: int = 1):
    """A network with the given symmetric links and a Sink on every node."""
    env = simpy.Environment()
    drops: list[tuple[float, object, str | None, str]] = []
    net = Network(env, on_drop=lambda p, h, r: drops.append(
        (round(env.now, 9), p.message, h.name if h else None, r)))
    sinks: dict[str, Sink] = {}
    for i, (a, b, spec) in enumerate(links):
        net.add_link(a, b, spec, spec, random.Random(seed * 100 + 2 * i),
                     random.Random(seed * 100 + 2 * i + 1))
        for node in (a, b):
            if node not in sinks:
                sinks[node] = Sink(env)
                net.attach(node, sinks[node])
    return env, net, sinks, drops


def test_one_hop_constant_delay_exact() -> None:
    env, net, sinks, drops = build([("a", "b", HopSpec(delay=ConstantDelay(0.05)))])
    net.send("a", "b", "m1", Transport.UDP)
    env.run()
    assert sinks["b"].got == [(0.05, "m1", "a")]
    assert drops == []


def test_lowest_delay_path_sums_each_hop() -> None:
    env, net, sinks, _ = build([
        ("a", "r", HopSpec(delay=ConstantDelay(0.010))),
        ("r", "b", HopSpec(delay=ConstantDelay(0.020))),
        ("a", "b", HopSpec(delay=ConstantDelay(0.100))),
    ])
    assert [h.dst for h in net.path("a", "b")] == ["r", "b"]
    net.send("a", "b", "m", Transport.UDP)
    env.run()
    assert sinks["b"].got == [(0.03, "m", "a")]
    assert sinks["r"].got == []  # routers forward, they do not receive


def test_unreachable_is_dropped_no_route() -> None:
    env, net, sinks, drops = build([("a", "b", HopSpec())])
    net.add_node("island")
    net.send("a", "island", "m", Transport.UDP)
    env.run()
    assert drops == [(0.0, "m", None, "no route")]


def test_bernoulli_loss_rate_and_monotone_coupling() -> None:
    """Same stream, higher p: the packets lost at 10 % are a subset of those lost at 30 %."""
    lost = {}
    for p in (0.1, 0.3):
        env, net, sinks, drops = build([("a", "b", HopSpec(loss=BernoulliLoss(p)))])
        for i in range(4000):
            net.send("a", "b", i, Transport.UDP)
        env.run()
        lost[p] = {m for _, m, _, _ in drops}
        assert abs(len(lost[p]) / 4000 - p) < 4 * (p * (1 - p) / 4000) ** 0.5
    assert lost[0.1] <= lost[0.3]


def test_gilbert_elliott_rate_and_burst() -> None:
    model = GilbertElliottLoss.from_rate_burst(0.1, 4.0)
    assert model.r == pytest.approx(0.25) and model.rate == pytest.approx(0.1)
    rng = random.Random(7)
    fates = [model.lost(rng) for _ in range(200_000)]
    rate = sum(fates) / len(fates)
    bursts, run = [], 0
    for f in fates:
        if f:
            run += 1
        elif run:
            bursts.append(run)
            run = 0
    assert rate == pytest.approx(0.1, abs=0.006)
    assert sum(bursts) / len(bursts) == pytest.approx(4.0, abs=0.15)


def test_jitter_bounds_and_reordering_over_udp() -> None:
    env, net, sinks, _ = build([("a", "b", HopSpec(delay=ConstantDelay(0.05), jitter=0.01))])
    for i in range(200):
        env.timeout(i * 0.001).callbacks.append(lambda e, i=i: net.send("a", "b", i, Transport.UDP))
    env.run()
    got = sinks["b"].got
    assert len(got) == 200
    for t, m, _ in got:
        assert 0.04 - 1e-9 <= t - m * 0.001 <= 0.06 + 1e-9
    assert [m for _, m, _ in got] != sorted(m for _, m, _ in got)  # jitter reorders UDP


def test_tcp_in_order_no_loss_and_rto_cost() -> None:
    """TCP: SIP sees every message, in order; a lost segment costs RTO = max(1 s, 3 RTT)."""
    env, net, sinks, drops = build([("a", "b", HopSpec(delay=ConstantDelay(0.05), jitter=0.02,
                                                       loss=BernoulliLoss(0.3)))])
    for i in range(300):
        env.timeout(i * 0.01).callbacks.append(lambda e, i=i: net.send("a", "b", i, Transport.TCP))
    env.run()
    got = [m for _, m, _ in sinks["b"].got]
    assert got == list(range(300))
    assert drops and all("TCP retransmits" in r for *_, r in drops)


def test_tcp_single_loss_exact_delay() -> None:
    spec = HopSpec(delay=ConstantDelay(0.05), loss=BernoulliLoss(1.0))
    env, net, sinks, drops = build([("a", "b", spec)])
    hop = net.hop("a", "b")
    net.send("a", "b", "m", Transport.TCP)
    # Heal the link just after the first loss: the retransmission goes through.
    env.timeout(0.5).callbacks.append(lambda e: setattr(hop, "loss", BernoulliLoss(0.0)))
    env.run()
    assert sinks["b"].got == [(TCP_MIN_RTO + 0.05, "m", "a")]
    assert len(drops) == 1


def test_release_frees_held_tcp_segments_without_the_cyclic_collector() -> None:
    """A run cut short while TCP holds a segment behind a gap leaves no packet or connection to the collector."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage, to be looked at
    try:
        env, net, sinks, drops = build([("a", "b", HopSpec(delay=ConstantDelay(0.05), loss=BernoulliLoss(1.0)))])
        hop = net.hop("a", "b")
        net.send("a", "b", "first", Transport.TCP)  # lost: resent after the RTO, 1 s
        hop.loss = BernoulliLoss(0.0)
        net.send("a", "b", "second", Transport.TCP)  # arrives at 0.05 s, held behind the gap
        env.run(until=0.5)
        assert [packet.message for packet in net.held()] == ["second"] and sinks["b"].got == []
        net.release()
        del env, net, sinks, drops, hop
        gc.collect()
        left = sorted(type(obj).__name__ for obj in gc.garbage if isinstance(obj, (Packet, _TcpConnection)))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def test_tcp_segment_held_for_a_node_that_went_down_is_reported_lost() -> None:
    """DESIGN.md "reports ... every message": a held segment released while its node is down is a drop, not nothing.

    "second" arrives behind the lost "first" and waits for it; b goes down; TCP gives
    "first" up at 63 s and the gap closes with b still down: "second" is lost at b.
    """
    env, net, sinks, drops = build([("a", "b", HopSpec(delay=ConstantDelay(0.05), loss=BernoulliLoss(1.0)))])
    hop = net.hop("a", "b")
    net.send("a", "b", "first", Transport.TCP)  # lost: resent at 1, 3, 7, 15, 31 and 63 s
    hop.loss = BernoulliLoss(0.0)
    net.send("a", "b", "second", Transport.TCP)  # arrives at 0.05 s, held behind the gap
    env.timeout(0.2).callbacks.append(lambda e: net.set_node_up("b", False))
    env.run()
    assert sinks["b"].got == []
    assert drops[-2:] == [(63.05, "first", "a-b", "node down; TCP gave up after 6 retransmissions"),
                          (63.05, "second", "a-b", "node down")]
    assert hop.lost == 8  # the first loss, six node-down losses of "first", and "second" at b


def test_tcp_does_not_resend_a_segment_its_sender_sent_before_a_crash_and_restart() -> None:
    """A crash closes the sender's connections, whether or not it is up again when the RTO fires.

    Down at the RTO (1 s) the segment was already given up; down at 0.2 s and up
    at 0.5 s, the restarted node resent what its crashed incarnation had sent, and
    held what it sent itself behind it.
    """
    env, net, sinks, drops = build([("a", "b", HopSpec(delay=ConstantDelay(0.05), loss=BernoulliLoss(1.0)))])
    hop = net.hop("a", "b")
    net.send("a", "b", "before", Transport.TCP)  # lost; due again at 1 s
    hop.loss = BernoulliLoss(0.0)
    env.timeout(0.2).callbacks.append(lambda e: net.set_node_up("a", False))
    env.timeout(0.5).callbacks.append(lambda e: net.set_node_up("a", True))
    env.timeout(0.6).callbacks.append(lambda e: net.send("a", "b", "after", Transport.TCP))
    env.run()
    assert sinks["b"].got == [(0.65, "after", "a")]
    assert drops == [(0.0, "before", "a-b", "loss; TCP retransmits the segment"),
                     (1.0, "before", None, "node down")]


def test_link_down_drops_in_flight_and_new_packets() -> None:
    env, net, sinks, drops = build([("a", "b", HopSpec(delay=ConstantDelay(0.1)))])
    net.send("a", "b", "in-flight", Transport.UDP)
    env.timeout(0.05).callbacks.append(lambda e: net.set_link_up("a-b", False))
    env.timeout(0.06).callbacks.append(lambda e: net.send("a", "b", "while-down", Transport.UDP))
    env.timeout(0.2).callbacks.append(lambda e: net.set_link_up("a-b", True))
    env.timeout(0.3).callbacks.append(lambda e: net.send("a", "b", "after", Transport.UDP))
    env.run()
    assert sinks["b"].got == [(0.4, "after", "a")]
    assert [(t, m, r) for t, m, _, r in drops] == [(0.06, "while-down", "link down"),
                                                 (0.1, "in-flight", "link down")]


def test_node_down_drops_arrivals_and_transit() -> None:
    env, net, sinks, drops = build([
        ("a", "r", HopSpec(delay=ConstantDelay(0.01))),
        ("r", "b", HopSpec(delay=ConstantDelay(0.01))),
    ])
    net.set_node_up("r", False)
    net.send("a", "b", "m", Transport.UDP)
    env.run()
    assert sinks["b"].got == []
    assert drops == [(0.01, "m", "a-r", "node down")]


def test_duplication_delivers_twice() -> None:
    env, net, sinks, _ = build([("a", "b", HopSpec(delay=UniformDelay(0.01, 0.02), duplicate=1.0))])
    net.send("a", "b", "m", Transport.UDP)
    env.run()
    assert [m for _, m, _ in sinks["b"].got] == ["m", "m"]


def test_bandwidth_serialisation_from_wire_bytes() -> None:
    class Msg:
        def __bytes__(self) -> bytes:
            return b"x" * 1000

    env, net, sinks, _ = build([("a", "b", HopSpec(delay=ConstantDelay(0.01), bandwidth=80_000.0))])
    m1, m2 = Msg(), Msg()
    net.send("a", "b", m1, Transport.UDP)
    net.send("a", "b", m2, Transport.UDP)
    env.run()
    # 1000 bytes at 80 kbit/s = 0.1 s each, queued FIFO, then 10 ms propagation.
    assert [t for t, _, _ in sinks["b"].got] == [0.11, 0.21]


def test_streams_per_direction_are_independent() -> None:
    """Traffic b->a does not move the draws of a->b."""
    results = []
    for extra in (False, True):
        env, net, sinks, drops = build([("a", "b", HopSpec(loss=BernoulliLoss(0.5)))])
        for i in range(100):
            net.send("a", "b", i, Transport.UDP)
            if extra:
                net.send("b", "a", i, Transport.UDP)
        env.run()
        results.append([m for _, m, _ in sinks["b"].got])
    assert results[0] == results[1]


def test_a_fork_keeps_routing_on_its_own_links_after_its_topology_grows() -> None:
    """A fork is the topology as it was when forked: a link added to the topology later is not in it.

    The fork's paths must stay on its own hops (they were mapped through the topology's
    paths, which now use a hop the fork does not have), and forks made afterwards see the new link.
    """
    slow, fast = HopSpec(delay=ConstantDelay(0.05)), HopSpec(delay=ConstantDelay(0.001))
    topology = Network(simpy.Environment())
    for a, b in (("a", "b"), ("b", "c")):
        topology.add_link(a, b, slow, slow, random.Random(1), random.Random(2))

    def fork() -> Network:
        return topology.fork(simpy.Environment(), None, [random.Random(i) for i in range(6)])

    before, other = fork(), fork()
    assert [(h.src, h.dst) for h in other.path("a", "b")] == [("a", "b")]
    topology.add_link("a", "c", fast, fast, random.Random(5), random.Random(6))
    for net in (before, other):
        assert [(h.src, h.dst) for h in net.path("a", "c")] == [("a", "b"), ("b", "c")]
        assert net.path("a", "c")[0] is net.hop("a", "b")
        assert [(h.src, h.dst) for h in net.path("c", "a")] == [("c", "b"), ("b", "a")]
    after = fork()
    for net in (after, topology):
        assert [(h.src, h.dst) for h in net.path("a", "c")] == [("a", "c")]
        assert net.path("a", "c")[0] is net.hop("a", "c")


def test_a_link_added_to_one_fork_leaves_the_topology_and_other_forks_routing_alone() -> None:
    """DESIGN.md "Randomness and reproducibility": a run is a function of its own inputs only.

    Forks of one topology share its routes cache; a link one run's fork adds must
    neither empty that cache nor leave its own paths in it for the other runs.
    """
    slow, fast = HopSpec(delay=ConstantDelay(0.05)), HopSpec(delay=ConstantDelay(0.001))
    topology = Network(simpy.Environment())
    for a, b in (("a", "b"), ("b", "c")):
        topology.add_link(a, b, slow, slow, random.Random(1), random.Random(2))
    assert [h.dst for h in topology.path("a", "b")] == ["b"]
    cached = dict(topology.routes)

    def fork() -> Network:
        return topology.fork(simpy.Environment(), None, [random.Random(i) for i in range(4)])

    mine, other = fork(), fork()
    mine.add_link("a", "c", fast, fast, random.Random(5), random.Random(6))
    assert [h.dst for h in mine.path("a", "c")] == ["c"]
    assert topology.routes == cached  # neither emptied nor given the fork's a -> c
    for net in (other, fork(), topology):
        assert [(h.src, h.dst) for h in net.path("a", "c")] == [("a", "b"), ("b", "c")]
        assert net.path("a", "c")[0] is net.hop("a", "b")  # each network's own hops
