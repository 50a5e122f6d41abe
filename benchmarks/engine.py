"""Engine throughput: simulated SIP messages per second versus bare SimPy.

Prints, measured in the same process one after the other:

* the bare SimPy baseline: messages delivered as timeout callbacks (one
  ``env.timeout(d).callbacks.append(fn)`` per message, nothing else), the
  ceiling DESIGN.md "Performance" quotes (~550 000 messages/s);
* simsip: a direct-call scenario (INVITE, 200, ACK, BYE, 200 over one 20 ms
  link, no loss) with ``--calls`` calls arriving every ``--interval``, tracing
  off; messages = every SIP transmission (the ``send`` events);
* their ratio;
* for diagnosis, the engine alone: the same agents, network and trace sink
  (tracing off) driving a stub core that bounces one real SIP request back
  and forth, so the SIP cores' own cost is left out.

Times are the CPU time of this process (``time.process_time``), so other
work on a shared machine does not distort the figures or their ratio.

Run: ``python benchmarks/engine.py [--calls 10000] [--interval 50ms] [--repeat 3]``
(best of ``--repeat`` for each figure).
"""

from __future__ import annotations

import argparse
import time

import simpy

SCENARIO = """
scenario "engine benchmark: direct calls"
ua alice
ua bob
link alice <-> bob delay 20ms
on bob INVITE:
    send 200
on alice 200:
    wait 1s
    hangup
calls alice -> bob every {interval} count {calls}
"""


def bare_simpy(messages: int, in_flight: int = 100, delay: float = 0.02) -> float:
    """Messages per second when each delivery is one SimPy timeout callback."""
    env = simpy.Environment()
    delivered = 0

    def deliver(event: simpy.Event) -> None:
        nonlocal delivered
        delivered += 1
        if delivered + in_flight <= messages:
            env.timeout(delay, event.value).callbacks.append(deliver)

    for i in range(in_flight):
        env.timeout(delay * i / in_flight, i).callbacks.append(deliver)
    start = time.process_time()
    env.run()
    return delivered / (time.process_time() - start)


def simsip_run(calls: int, interval: str) -> tuple[float, int, float]:
    """(messages per second, messages, seconds) of one simsip run of ``calls`` direct calls."""
    import simsip

    scenario = simsip.load(SCENARIO.format(calls=calls, interval=interval))
    start = time.process_time()
    result = simsip.run(scenario, runs=1, seed=0, trace="off")
    elapsed = time.process_time() - start
    messages = sum(result.calls.column("messages_sent"))
    assert len(result.calls) == calls, "every call must be recorded"
    assert set(result.calls.column("outcome")) == {"answered"}
    return messages / elapsed, messages, elapsed


class _BounceCore:
    """A stand-in core: sends every message it receives back to its peer, ``left`` times."""

    def __init__(self, peer: object, left: int) -> None:
        self.peer = peer
        self.left = left

    def receive(self, now: float, message: object, source: object) -> list:
        """Bounce the message back while the budget lasts."""
        from simsip.sip.events import SendMessage

        self.left -= 1
        return [SendMessage(message, self.peer)] if self.left > 0 else []

    def timer_fired(self, now: float, name: str) -> list:
        """No timers."""
        return []


def engine_only(messages: int, in_flight: int = 100) -> float:
    """Messages per second through agents, network and the off sink with a stub core."""
    import random

    from simsip.agents.base import Agent, Describer
    from simsip.metrics import make_sink
    from simsip.net import ConstantDelay, HopSpec, Network
    from simsip.sip.events import Address, SendMessage
    from simsip.sip.message import Request

    env = simpy.Environment()
    net = Network(env)
    spec = HopSpec(delay=ConstantDelay(0.02))
    net.add_link("a", "b", spec, spec, random.Random(1), random.Random(2))
    sink, describe, hosts = make_sink("off"), Describer(), {"a": "a", "b": "b"}
    a = Agent("a", "a", env, net, hosts, sink, describe)
    b = Agent("b", "b", env, net, hosts, sink, describe)
    a.core = _BounceCore(Address("b"), messages // 2)
    b.core = _BounceCore(Address("a"), messages // 2)
    for i in range(in_flight):
        request = Request("OPTIONS", "sip:b@b", [
            ("Via", f"SIP/2.0/UDP a;branch=z9hG4bK{i}"), ("From", "<sip:a@a>;tag=1"),
            ("To", "<sip:b@b>"), ("Call-ID", f"c{i}"), ("CSeq", "1 OPTIONS"),
            ("Max-Forwards", "70")])
        a.execute([SendMessage(request, Address("b"))])
    start = time.process_time()
    env.run()
    elapsed = time.process_time() - start
    sent = sum(counts[0] for counts in sink.nodes.nodes.values())
    return sent / elapsed


def main() -> None:
    """Measure both, print them and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--interval", default="50ms")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    baseline = max(bare_simpy(500_000) for _ in range(args.repeat))
    best = max((simsip_run(args.calls, args.interval) for _ in range(args.repeat)),
               key=lambda r: r[0])
    rate, messages, elapsed = best
    print(f"bare SimPy timeout callbacks : {baseline:12,.0f} messages/s")
    print(f"simsip, {args.calls:,} direct calls   : {rate:12,.0f} messages/s "
          f"({messages:,} SIP messages in {elapsed:.2f} s, tracing off)")
    print(f"ratio simsip / bare SimPy    : {rate / baseline:12.3%}")
    alone = max(engine_only(200_000) for _ in range(args.repeat))
    print(f"engine alone (stub SIP core) : {alone:12,.0f} messages/s "
          f"({alone / baseline:.1%} of bare SimPy)")


if __name__ == "__main__":
    main()
