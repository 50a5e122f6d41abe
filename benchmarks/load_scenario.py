"""Loading speed: a generated 1,000-line scenario in both surfaces (issue 4 "Must show").

Generates a scenario of about 1,000 lines (UAs, proxies, links with
distributions and loss, handlers, calls, faults, expectations), then times:
building the `.sip` parser once (a per-process cost, cached afterwards),
``load`` of the `.sip` text, and ``load`` of the same scenario written as YAML
by ``simsip convert``'s writer. Each load is parse + build + every
validation. Prints the median of several loads; "well under a second" is
the target. CPU time is printed beside wall time because on a shared,
busy machine the wall time mostly measures the other processes.

    python benchmarks/load_scenario.py [--lines 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time


def generate(lines: int) -> str:
    """A valid scenario text of about ``lines`` lines."""
    out = ['scenario "generated load test"', "param loss = 1%", "param delay = 20ms", "timers T1=500ms",
           "proxy core stateful record-route domain example.com registrar"]
    groups = max(1, (lines - len(out)) // 10)
    for i in range(groups):
        out += [
            f"ua caller{i} supports 100rel outbound core",
            f"ua callee{i} supports 100rel",
            f"link caller{i} <-> core delay uniform(5ms, $delay) jitter 1ms loss $loss",
            f"link callee{i} <-> core delay normal(20ms, 2ms) loss gilbert(p=1%, r=40%)",
            f"on callee{i} INVITE:",
            "    send 180 reliable",
            "    wait 2s; send 200",
            f"call caller{i} -> callee{i} at {i * 10}ms require 100rel",
            f"at {i + 5}s link callee{i} <-> core down for 1s",
            f"expect call {i + 1} final_ms < 30s",
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    """Time the loads and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    start = time.perf_counter()
    from simsip.scenario.sip_surface import _example_states, parser as sip_parser

    sip_parser()
    _example_states()
    build_s = time.perf_counter() - start

    from simsip.scenario import load_text
    from simsip.scenario.writer import to_yaml

    text = generate(args.lines)
    n_lines = text.count("\n")
    scenario = load_text(text, "generated.sip", "sip")
    yaml_text = to_yaml(scenario)

    def timed(source: str, surface: str) -> tuple[float, float]:
        """Median wall and CPU seconds of ``repeat`` loads."""
        wall, cpu = [], []
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            load_text(source, f"generated.{surface}", surface)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        return statistics.median(wall), statistics.median(cpu)

    (sip_s, sip_cpu), (yaml_s, yaml_cpu) = timed(text, "sip"), timed(yaml_text, "yaml")
    print(f"scenario: {n_lines} .sip lines ({yaml_text.count(chr(10))} YAML lines), "
          f"{len(scenario.nodes)} nodes, {len(scenario.links)} links, {len(scenario.handlers)} handlers, "
          f"{len(scenario.calls)} calls, {len(scenario.expectations)} expectations")
    print(f"parser build (once per process): {build_s * 1000:8.1f} ms")
    print(f"load .sip  (median of {args.repeat}): {sip_s * 1000:8.1f} ms wall, {sip_cpu * 1000:8.1f} ms CPU "
          f"({n_lines / sip_cpu:,.0f} lines per CPU second)")
    print(f"load YAML  (median of {args.repeat}): {yaml_s * 1000:8.1f} ms wall, {yaml_cpu * 1000:8.1f} ms CPU")
    # CPU time is what a load costs; wall time also shows how busy the machine is.
    print("target, well under 1 s per load (CPU):", "met" if max(sip_cpu, yaml_cpu) < 0.5 else "NOT met")


if __name__ == "__main__":
    main()
