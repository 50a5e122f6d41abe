"""``simsip run FILE``: run a scenario and report its measures and expectations.

Output formats: ``table`` (rich tables of outcomes and each measure's mean,
95 % CI and percentiles, then the expectations), ``json`` (one object, issue 5
item 6: scenario, file, seed, runs, params, calls, summary, expectations) and
``csv`` (one row per call). ``--trace FILE.jsonl`` runs with the full trace and
writes one JSON object per event, atomically (a temp file renamed over it).
Exit status: 0 every expectation held, 1 one failed, 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from simsip.cli import EXIT_EXPECTATION_FAILED, EXIT_OK, ProgressBar, bad_scenario, fail, main, write_or_fail
from simsip.cli.ladder import MAX_RUN, parse_params, parse_until


@main.command("run")
@click.argument("file")
# Run indices 0..N-1 must fit the call table's run column (MAX_RUN): refused here, not after the runs.
@click.option("--runs", type=click.IntRange(min=1, max=MAX_RUN + 1), default=1, show_default=True,
              help="Replications (run indices 0..N-1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random stream.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a scenario param (repeatable), e.g. --param loss=20%.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format on stdout.")
@click.option("--trace", "trace_file", metavar="FILE.jsonl", default=None,
              help="Write every trace event as JSON lines to this file.")
@click.option("--until", "until", metavar="DURATION", default=None,
              help="Stop every run at this simulated time (e.g. 60s).")
def run_command(file: str, runs: int, seed: int, params: tuple[str, ...], fmt: str,
                trace_file: str | None, until: str | None) -> int:
    """Run the scenario FILE and report per-call measures, summaries and expectations."""
    import simsip
    from simsip.scenario import ScenarioError

    values = parse_params(params)
    stop = parse_until(until)
    if trace_file is not None:
        target = Path(trace_file)
        if target.is_dir():
            raise fail(f"--trace {trace_file}: is a directory")
        if not target.parent.is_dir():
            raise fail(f"--trace {trace_file}: directory {target.parent} does not exist")
    try:
        # A Path is always read as a file (a pipe too); the loader says why one can't be read.
        scenario = simsip.load(Path(file), params=values or None)
        # A bar on a terminal only when there are runs to count (stdout stays the report).
        with ProgressBar(runs > 1 and sys.stderr.isatty(), Path(file).name) as progress:
            result = simsip.run(scenario, runs=runs, seed=seed, trace="full" if trace_file else "off",
                                until=stop, progress=progress)
    except ScenarioError as exc:
        raise bad_scenario(exc) from None
    except ValueError as exc:
        raise fail(f"{file}: {exc}") from None

    if trace_file is not None:
        from simsip.experiment import write_atomic
        from simsip.metrics import write_jsonl

        write_or_fail("--trace", trace_file, "the trace",
                      lambda: write_atomic(trace_file, lambda tmp: write_jsonl(result.trace, tmp)))

    out = sys.stdout
    if fmt == "json":
        out.write(result.to_json(file=file))
        out.write("\n")
    elif fmt == "csv":
        from simsip.metrics import write_csv

        write_csv(result.calls, out)
    else:
        from simsip.metrics import render_table
        from simsip.metrics.summary import counted

        title = scenario.name or Path(file).name
        out.write(f"{title}: {counted(runs, 'run')}, seed {seed}, {counted(len(result.calls), 'call')}\n")
        render_table(result.summary, out, calls=len(result.calls))
        for expectation in result.expectations:
            mark = "held  " if expectation["held"] else "FAILED"
            out.write(f"{mark} expect {expectation['text']}: {expectation['detail']}\n")
    out.flush()
    return EXIT_OK if result.ok else EXIT_EXPECTATION_FAILED
