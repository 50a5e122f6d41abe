"""Engine throughput: simulated SIP messages per second versus bare SimPy.

Prints, measured in the same process one after the other:

* the bare SimPy baseline: messages delivered as timeout callbacks (one
  ``env.timeout(d).callbacks.append(fn)`` per message, nothing else), the
  ceiling DESIGN.md "Performance" quotes (~550 000 messages/s);
* simsip: a direct-call scenario (INVITE, 200, ACK, BYE, 200 over one 20 ms
  link, no loss) with ``--calls`` calls arriving every ``--interval``, tracing
  off; messages = every SIP transmission (the ``send`` events);
* their ratio.

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
    start = time.perf_counter()
    env.run()
    return delivered / (time.perf_counter() - start)


def simsip_run(calls: int, interval: str) -> tuple[float, int, float]:
    """(messages per second, messages, seconds) of one simsip run of ``calls`` direct calls."""
    import simsip

    scenario = simsip.load(SCENARIO.format(calls=calls, interval=interval))
    start = time.perf_counter()
    result = simsip.run(scenario, runs=1, seed=0, trace="off")
    elapsed = time.perf_counter() - start
    messages = sum(result.calls.column("messages_sent"))
    assert len(result.calls) == calls, "every call must be recorded"
    assert set(result.calls.column("outcome")) == {"answered"}
    return messages / elapsed, messages, elapsed


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


if __name__ == "__main__":
    main()
