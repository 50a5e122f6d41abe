"""``simsip sweep FILE --param loss=0:30%:5% --runs 500``: a replicated parameter sweep.

Runs the scenario ``--runs`` times at every point of the grid (one ``--param``
per axis, see :mod:`simsip.experiment`), on a process pool (default), Dask or
serially, shows a progress bar on a terminal, prints a summary table per point,
and writes the per-call table atomically to ``--out`` (.csv or .parquet).
Interrupted with Ctrl-C, it stops the workers and leaves no output file behind.
The scenario's ``expect`` lines are not checked (a sweep explores beyond them;
``simsip run`` checks them): the exit status is 0, or 2 for bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from simsip.cli import ProgressBar, bad_scenario, fail, main, write_or_fail
from simsip.cli.ladder import MAX_RUN

# Measures shown in the table, with their column titles; the full set is in --out.
TABLE_MEASURES = (
    ("final_ms", "final ms"),
    ("pdd_ms", "PDD ms"),
    ("invite_retransmissions", "INVITE rtx"),
    ("reliable_1xx_retransmissions", "1xx rtx"),
    ("prack_retransmissions", "PRACK rtx"),
)


@main.command("sweep")
@click.argument("file", type=click.Path())
@click.option("--param", "params", multiple=True, metavar="NAME=VALUES",
              help="An axis: 20ms,300ms | 0:30%:5% | log:10ms:1s:5 | one value. Repeat per param.")
# Run indices 0..N-1 must fit the call table's run column; a huge N would also build its batches first.
@click.option("--runs", type=click.IntRange(min=1, max=MAX_RUN + 1), default=100, show_default=True,
              help="Runs at every point.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed of every run.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (Dask: local workers). Default: all cores.")
@click.option("--executor", type=click.Choice(["process", "dask", "serial"]), default=None,
              help="Where runs execute. Default: process (dask when --scheduler is given).")
@click.option("--scheduler", metavar="URL", default=None,
              help="An existing Dask scheduler, tcp://HOST:PORT.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Per-call table, written atomically: results.csv or results.parquet.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sweep_command(
    file: str,
    params: tuple[str, ...],
    runs: int,
    seed: int,
    jobs: int | None,
    executor: str | None,
    scheduler: str | None,
    out: str | None,
    quiet: bool,
) -> None:
    """Run FILE --runs times at every point of a param grid and summarise each point."""
    from simsip.experiment import Grid, SweepError, check_output_path, make_executor, sweep
    from simsip.scenario import ScenarioError
    from simsip.scenario.loader import read_source

    if executor is None:
        executor = "dask" if scheduler else "process"
    try:
        if not Path(file).is_file():
            read_source(file)  # the loader's reason: no such file, a directory, permission denied
            # Each point loads the file again with its own params, and a pipe can be read only once.
            raise SweepError(f"{file}: not a regular file; a sweep reads the scenario once per point, "
                             "so save it to a file first")
        Grid.parse(params)  # axis errors before anything else is loaded
        out_path = check_output_path(out) if out is not None else None
        chosen = make_executor(executor, jobs, scheduler)
    except SweepError as exc:
        raise fail(str(exc)) from None
    except ScenarioError as exc:
        raise bad_scenario(exc) from None

    show_progress = not quiet and sys.stderr.isatty()
    try:
        with ProgressBar(show_progress, Path(file).name) as progress:
            result = sweep(file, params, runs=runs, seed=seed, executor=chosen, progress=progress)
        if out_path is not None:
            write_or_fail("--out", out_path, "the call table", lambda: result.save(out_path))
    except SweepError as exc:
        raise fail(str(exc)) from None
    except ScenarioError as exc:
        raise bad_scenario(exc) from None
    _print_table(result)
    if out_path is not None and not quiet:
        click.echo(f"wrote {len(result.calls)} calls to {out_path}", err=True)


def _cell(row: Any) -> str:
    """``mean ± half-width`` of one summary row's 95 % CI."""
    from simsip.experiment import mean_ci_text

    return mean_ci_text(row["mean"], row["ci_low"], row["ci_high"], compact=True)


def _print_table(result: Any) -> None:
    """One row per point: the params, calls, answered share, and mean [95 % CI] of key measures."""
    from rich.console import Console
    from rich.table import Table

    summary = result.summary
    outcomes = result.outcomes
    from rich import box

    table = Table(title=f"{result.name}: {result.runs} runs per point, seed {result.seed}",
                  caption="mean ± half-width of its 95 % confidence interval", box=box.SIMPLE_HEAD)
    for axis in result.grid.axes:
        table.add_column(axis.name, justify="right", no_wrap=True)
    table.add_column("calls", justify="right", no_wrap=True)
    table.add_column("answered", justify="right", no_wrap=True)
    shown = list(TABLE_MEASURES)
    for _measure, title in shown:
        table.add_column(title, justify="right", no_wrap=True)
    for point, values in enumerate(result.grid.points()):
        at_point = summary[summary["point"] == point].set_index("measure")
        answered = outcomes[(outcomes["point"] == point) & (outcomes["outcome"] == "answered")]
        calls = len(result.records[point])
        share = f"{100.0 * answered['share'].iloc[0]:.1f}%" if len(answered) else "0.0%"
        cells = [values[axis.name] for axis in result.grid.axes] + [str(calls), share]
        cells += [_cell(at_point.loc[m]) for m, _ in shown]
        table.add_row(*cells)
    # Never squeeze the numbers into ellipses: use the table's full width even
    # when a terminal (or a pipe's default 80 columns) is narrower.
    console = Console()
    needed = console.measure(table, options=console.options.update_width(1000)).maximum
    Console(width=max(console.width, needed)).print(table)
