"""All of issue 9's figures in one run, each as a ratio to bare SimPy measured in the same run.

``python -m benchmarks [--quick] [--out benchmarks/results.json]`` measures:

(a) the bare SimPy baseline: messages/s when each delivery is one timeout
    with a callback (:func:`benchmarks.engine.bare_simpy`, DESIGN.md
    "Performance");
(b) simsip's simulated SIP messages/s (every transmission, retransmissions
    included) on ``scenarios/basic/direct_call.sip`` and
    ``scenarios/rfc3262/reliable_180.sip`` at 0 % and 10 % loss, one call per
    run, 10,000 runs (``--quick``: 2,000), tracing off;
(c) peak RSS against the number of calls: a sweep of direct_call over 10 loss
    points (0..9 %) with 10k, 100k and 1M calls in all (``--quick``: 2k, 20k),
    each in a fresh subprocess on the process executor with every core, which
    reads its own and its workers' ``ru_maxrss``; the 1M point is also the
    "1,000,000 calls in under 90 s on 2 cores" figure; and one long run of
    10k and 100k calls (``--quick``: 2k, 20k) in one simulation, whose peak RSS
    grows only with the stored per-call measures (finished calls are released);
(d) a sweep's calls/s on 1 process and on all cores (``simsip.sweep``, the
    function behind ``simsip sweep``).

Rates in (a), (b) are per CPU second of this process (``time.process_time``)
so that other work on a shared machine changes the figures little and their
ratios less; sweeps are timed on the wall clock (that is what a user waits
for) and also report the CPU seconds of the parent and its workers.
Everything is printed and written as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import simsip
from benchmarks.engine import bare_simpy

ROOT = Path(__file__).resolve().parent.parent
DIRECT = ROOT / "scenarios" / "basic" / "direct_call.sip"
RELIABLE = ROOT / "scenarios" / "rfc3262" / "reliable_180.sip"
# Ten loss points, 0..9 %: the "10 loss points x 100,000 runs" shape of issue 9.
SWEEP_LOSS = "0:9%:1%"
SWEEP_POINTS = 10
GIB = 1 << 30


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def baseline(messages: int, repeat: int) -> float:
    """(a) Bare SimPy timeout-callback messages/s, best of ``repeat``."""
    return max(bare_simpy(messages) for _ in range(repeat))


def scenario_rate(path: Path, loss: str, runs: int, repeat: int) -> dict[str, Any]:
    """(b) simsip messages/s and calls/s of ``runs`` one-call runs of ``path`` at ``loss``, tracing off."""
    scenario = simsip.load(path, {"loss": loss})
    best: dict[str, Any] = {}
    for _ in range(repeat):
        start = time.process_time()
        result = simsip.run(scenario, runs=runs, seed=0, trace="off")
        cpu = time.process_time() - start
        messages = sum(result.calls.column("messages_sent"))
        calls = len(result.calls)
        if not best or messages / cpu > best["messages_per_s"]:
            best = {"scenario": str(path.relative_to(ROOT)), "loss": loss, "runs": runs,
                    "calls": calls, "messages": messages, "cpu_s": round(cpu, 3),
                    "messages_per_s": messages / cpu, "calls_per_s": calls / cpu,
                    "answered": result.calls.column("outcome").count("answered")}
    return best


def sweep_once(calls: int, jobs: int | None) -> dict[str, Any]:
    """One sweep of direct_call over SWEEP_POINTS loss points with ``calls`` calls in all, in this process."""
    from simsip.experiment import ProcessExecutor

    runs = max(1, calls // SWEEP_POINTS)
    cpu0, wall0 = _cpu(), time.perf_counter()
    result = simsip.sweep(DIRECT, {"loss": SWEEP_LOSS}, runs=runs, seed=0,
                          executor=ProcessExecutor(jobs=jobs))
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    done = sum(len(r) for r in result.records)
    messages = sum(sum(r.column("messages_sent")) for r in result.records)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"calls": done, "points": SWEEP_POINTS, "runs_per_point": runs,
            "jobs": ProcessExecutor(jobs=jobs).workers, "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3), "calls_per_s": done / wall, "messages": messages,
            "messages_per_s": messages / wall, "parent_peak_rss_bytes": own,
            "worker_peak_rss_bytes": workers}


# One long run: direct_call's agents and link with a fixed-rate call stream (item 3 of
# issue 9: finished calls are released, so memory grows only by the stored measures).
STREAM = """
scenario "benchmark: one long run of direct calls"
ua alice
ua bob
link alice <-> bob delay 50ms loss 10%
on bob INVITE:
    send 200
on alice 200:
    wait 1s
    hangup
calls alice -> bob every 50ms count {calls}
"""


def stream_once(calls: int) -> dict[str, Any]:
    """One run of ``calls`` direct calls at 10 % loss, tracing off, in this process."""
    scenario = simsip.load(STREAM.format(calls=calls))
    cpu0 = _cpu()
    result = simsip.run(scenario, runs=1, seed=0, trace="off")
    cpu = _cpu() - cpu0
    assert len(result.calls) == calls, "every call must be recorded"
    return {"calls": calls, "cpu_s": round(cpu, 3), "calls_per_s": calls / cpu,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def stream_in_subprocess(calls: int) -> dict[str, Any]:
    """:func:`stream_once` in a fresh interpreter, so its peak RSS is its own."""
    cmd = [sys.executable, "-m", "benchmarks.run", "--child-stream", str(calls)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"long run of {calls} calls failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sweep_in_subprocess(calls: int, jobs: int | None) -> dict[str, Any]:
    """:func:`sweep_once` in a fresh interpreter, so its peak RSS is its own."""
    cmd = [sys.executable, "-m", "benchmarks.run", "--child-sweep", str(calls),
           "--child-jobs", str(jobs or 0)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sweep of {calls} calls failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stored_bytes_per_call() -> float:
    """Bytes a CallTable holds per call (its columns and Call-ID strings), for the RSS slope."""
    from array import array

    table = simsip.run(simsip.load(DIRECT), runs=100, seed=0).calls
    size = 0
    for column in table._cols.values():
        if isinstance(column, array):
            size += column.itemsize * len(column)
        else:  # Call-IDs: one list slot plus the string
            size += 8 * len(column) + sum(sys.getsizeof(v) for v in column)
    return size / len(table)


def _ratio(rate: float, base: float) -> str:
    """A rate as a percentage of the baseline."""
    return f"{rate / base:7.2%}"


def _mib(n: int) -> str:
    """Bytes as MiB text."""
    return f"{n / (1 << 20):8.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    """Measure (a)-(d), print each figure with its ratio to bare SimPy, write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (about a minute)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json",
                        help="JSON file to write (default benchmarks/results.json)")
    parser.add_argument("--skip-rss", action="store_true", help="leave out (c), the RSS growth sweeps")
    parser.add_argument("--child-sweep", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-jobs", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-stream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_stream is not None:
        print(json.dumps(stream_once(args.child_stream)))
        return 0
    if args.child_sweep is not None:
        print(json.dumps(sweep_once(args.child_sweep, args.child_jobs or None)))
        return 0
    out = args.out
    if out.parent and not out.parent.is_dir():
        print(f"error: --out {out}: directory {out.parent} does not exist", file=sys.stderr)
        return 2

    quick = args.quick
    runs = 2_000 if quick else 10_000
    repeat = 1 if quick else 2
    cores = os.cpu_count() or 1
    results: dict[str, Any] = {
        "quick": quick, "python": platform.python_version(), "cores": cores,
        "build": "mypyc" if simsip.compiled() else "pure Python",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    print(f"simsip {simsip.__version__}, hot path {results['build']}, Python {results['python']}, "
          f"{cores} cores")
    base = baseline(200_000 if quick else 500_000, repeat + 1)
    results["baseline"] = {"what": "bare SimPy, one timeout callback per message", "messages_per_s": base}
    print(f"(a) bare SimPy timeout callbacks: {base:12,.0f} messages/s (CPU time)")

    print(f"(b) simsip, one call per run, {runs:,} runs, tracing off (ratio to bare SimPy):")
    results["scenarios"] = []
    for path in (DIRECT, RELIABLE):
        for loss in ("0%", "10%"):
            r = scenario_rate(path, loss, runs, repeat)
            r["ratio"] = r["messages_per_s"] / base
            results["scenarios"].append(r)
            print(f"    {r['scenario']:36} loss {loss:>3}: {r['messages_per_s']:10,.0f} messages/s "
                  f"{_ratio(r['messages_per_s'], base)}   {r['calls_per_s']:8,.0f} calls/s "
                  f"({r['messages']:,} messages, {r['answered']:,}/{r['calls']:,} answered)")

    results["rss"] = []
    if not args.skip_rss:
        sizes = (2_000, 20_000) if quick else (10_000, 100_000, 1_000_000)
        print(f"(c) peak RSS against calls: sweep of direct_call, {SWEEP_POINTS} loss points "
              f"({SWEEP_LOSS}), all {cores} cores, each size in a fresh process:")
        for calls in sizes:
            r = sweep_in_subprocess(calls, None)
            r["ratio"] = r["messages_per_s"] / base
            results["rss"].append(r)
            print(f"    {r['calls']:>9,} calls: parent {_mib(r['parent_peak_rss_bytes'])}, "
                  f"largest worker {_mib(r['worker_peak_rss_bytes'])}; {r['wall_s']:7.1f} s wall, "
                  f"{r['calls_per_s']:8,.0f} calls/s, messages/s {_ratio(r['messages_per_s'], base)}")
        for smaller, larger in zip(results["rss"], results["rss"][1:]):
            extra = larger["calls"] - smaller["calls"]
            per_call = (larger["parent_peak_rss_bytes"] - smaller["parent_peak_rss_bytes"]) / extra
            larger["parent_bytes_per_extra_call"] = per_call
            print(f"    {smaller['calls']:,} -> {larger['calls']:,} calls: parent grows "
                  f"{per_call:,.0f} bytes per call (stored per-call measures: "
                  f"{_stored_bytes_per_call():,.0f} bytes per call)")
        top = results["rss"][-1]
        results["must_show_1m"] = {
            "calls": top["calls"], "wall_s": top["wall_s"], "under_90_s": top["wall_s"] < 90,
            "peak_rss_under_1_gib": top["parent_peak_rss_bytes"] < GIB
            and top["worker_peak_rss_bytes"] < GIB,
        } if top["calls"] >= 1_000_000 else None
        lengths = (2_000, 20_000) if quick else (10_000, 100_000)
        print("    one long run (a call every 50 ms, 10 % loss, tracing off), each in a fresh process:")
        results["rss_long_run"] = []
        for calls in lengths:
            r = stream_in_subprocess(calls)
            results["rss_long_run"].append(r)
            print(f"    {r['calls']:>9,} calls: peak {_mib(r['peak_rss_bytes'])}, "
                  f"{r['calls_per_s']:8,.0f} calls/s (CPU)")
        short, long = results["rss_long_run"]
        per_call = (long["peak_rss_bytes"] - short["peak_rss_bytes"]) / (long["calls"] - short["calls"])
        long["bytes_per_extra_call"] = per_call
        print(f"    {short['calls']:,} -> {long['calls']:,} calls: grows {per_call:,.0f} bytes per call")

    sweep_calls = 2_000 if quick else 20_000
    print(f"(d) sweep calls/s, direct_call, {sweep_calls:,} calls over {SWEEP_POINTS} loss points:")
    results["sweep"] = []
    for jobs in (1, None):
        r = sweep_once(sweep_calls, jobs)
        r["ratio"] = r["messages_per_s"] / base
        results["sweep"].append(r)
        print(f"    {r['jobs']} process{'es' if r['jobs'] > 1 else ''}: {r['calls_per_s']:8,.0f} calls/s "
              f"({r['wall_s']:.1f} s wall), messages/s {_ratio(r['messages_per_s'], base)} of bare SimPy")
    one, every = results["sweep"]
    results["sweep_speedup"] = every["calls_per_s"] / one["calls_per_s"]
    print(f"    speed-up on {every['jobs']} cores: {results['sweep_speedup']:.2f}x")

    direct_lossy = next(r for r in results["scenarios"] if r["scenario"].endswith("direct_call.sip")
                        and r["loss"] == "10%")
    results["must_show_ratio"] = {"direct_call_10pct_ratio": direct_lossy["ratio"],
                                  "at_least_10pct": direct_lossy["ratio"] >= 0.10}
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
