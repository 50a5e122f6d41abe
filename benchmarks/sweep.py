"""Sweep throughput: runs per second on 1 worker, on all cores, and on Dask with 2 local workers.

The sweep of issue 7's "Must show":

    simsip sweep scenarios/rfc3262/reliable_180.sip --param loss=0:30%:5% --runs 1000

run three ways through ``simsip.sweep`` (the function behind the command):
one worker (in this process), a process pool on every core, and an embedded
Dask LocalCluster with 2 worker processes. Every way gives the same calls
(checked here); the figures are runs/s, the parallel speed-up against one
worker, and, as DESIGN.md "Performance" asks of every benchmark, the
simulator's messages/s as a ratio of bare SimPy's messages/s (a delivery
as a timeout with a callback) measured in the same run. The CPU seconds
(this process and its workers) show how much of the wall time was ours: on a
busy machine the speed-up measures the other processes, not simsip.

    python benchmarks/sweep.py [--runs 1000] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "rfc3262" / "reliable_180.sip"
if str(ROOT) not in sys.path:  # run as `python benchmarks/sweep.py`
    sys.path.insert(0, str(ROOT))
PARAMS = {"loss": "0:30%:5%"}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (pool and Dask workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed_sweep(scenario: Path, runs: int, executor: object) -> tuple[float, float, object]:
    """Run the sweep once; return wall seconds, CPU seconds and the result."""
    import simsip

    start, cpu = time.perf_counter(), cpu_seconds()
    result = simsip.sweep(scenario, PARAMS, runs=runs, seed=1, executor=executor)
    return time.perf_counter() - start, cpu_seconds() - cpu, result


def main() -> int:
    """Time the three ways and print runs/s, speed-ups and the SimPy ratio."""
    from benchmarks.engine import bare_simpy
    from simsip.experiment import DaskExecutor, ProcessExecutor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs per point (default 1000)")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario file to sweep")
    args = parser.parse_args()

    scenario = args.scenario or SCENARIO
    cores = os.cpu_count() or 1
    points = 7  # loss 0, 5, ..., 30 %
    total = points * args.runs
    baseline = bare_simpy(200_000)
    print(f"sweep: {scenario.relative_to(ROOT) if scenario.is_relative_to(ROOT) else scenario} "
          f"--param loss={PARAMS['loss']} --runs {args.runs}  ({total} runs, {cores} cores)")
    print(f"bare SimPy baseline: {baseline:,.0f} messages/s")
    load = os.getloadavg()[0]
    if load > 0.5:
        # Other processes share the cores: the speed-up then shows contention, not simsip.
        print(f"warning: load average {load:.1f} before starting; figures need an idle machine")

    ways = [
        ("1 worker", ProcessExecutor(jobs=1)),
        (f"process pool, {cores} workers", ProcessExecutor(jobs=None)),
        ("dask LocalCluster, 2 workers", DaskExecutor(workers=2)),
    ]
    reference = None
    one_worker = None
    print(f"{'executor':32} {'seconds':>8} {'cpu s':>7} {'runs/s':>9} {'speed-up':>9} {'msgs/s':>10} {'vs SimPy':>9}")
    for name, executor in ways:
        seconds, cpu, result = timed_sweep(scenario, args.runs, executor)
        table = result.calls.to_csv(index=False)
        if reference is None:
            reference = table
        elif table != reference:
            print(f"error: {name} gave different calls from 1 worker", file=sys.stderr)
            return 1
        rate = total / seconds
        one_worker = one_worker or rate
        messages = float(result.calls["messages_sent"].sum()) / seconds
        print(f"{name:32} {seconds:8.2f} {cpu:7.1f} {rate:9.0f} {rate / one_worker:8.2f}x "
              f"{messages:10,.0f} {messages / baseline:8.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
