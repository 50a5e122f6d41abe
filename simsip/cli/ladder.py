"""``simsip ladder FILE``: the ladder diagram of one run (text, SVG, Mermaid or HTML).

Also home of what ``simsip pcap`` and ``simsip explain`` share: running one
traced run of a scenario, the ``--from``/``--to`` time options, and writing an
output file atomically.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import click

from simsip.cli import bad_scenario, fail, main, write_or_fail

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(us|ms|s|min|h)?\s*")
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}
MAX_RUN = 2**31 - 1
"""The last run index: the call table keeps run indices in a 32-bit column."""


def parse_duration(text: str) -> float:
    """``30s``, ``500ms``, ``2min`` or a bare number of seconds -> seconds."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 500ms, 2min)")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def parse_until(until: str | None) -> float | None:
    """The ``--until`` option in seconds (None when not given); a bad duration is a usage error."""
    if until is None:
        return None
    try:
        stop = parse_duration(until)
    except ValueError as exc:
        raise fail(f"--until {exc}") from None
    if stop <= 0:
        raise fail(f"--until {until!r}: the runs stop at a time after 0 s (e.g. 30s)")
    return stop


class SimTime(click.ParamType):
    """A point in simulated time: ``1.5`` (seconds), ``1500ms``, ``2s``, ``1min``."""

    name = "TIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        """Seconds as a float; a usage error (exit 2) for anything else."""
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a time (e.g. 1.5, 1500ms, 2s)", param, ctx)


@dataclass(frozen=True, slots=True)
class TracedRun:
    """One run of a scenario with its full trace."""

    scenario: Any
    trace: list[Any]
    run: int
    nodes: list[str]
    addresses: dict[str, str]
    call_id: str | None = None
    """The Call-ID ``--call`` chose (given as a Call-ID or as the ladder's label c1, c2, ...)."""


def parse_params(params: tuple[str, ...]) -> dict[str, str]:
    """``--param k=v`` options as a dict; a bad one fails with exit 2."""
    out: dict[str, str] = {}
    for text in params:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise fail(f"--param {text!r}: expected NAME=VALUE, e.g. loss=20%")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise fail(f"--param {text!r}: {name!r} is not a param name")
        if name in out:
            # The last one silently winning hides a typo; sweep refuses it too.
            raise fail(f"--param {text!r}: param {name} is given twice")
        out[name] = value.strip()
    return out


def scenario_addresses(scenario: Any) -> dict[str, str]:
    """IPv4 addresses the scenario gives its nodes (a ``host`` that is an IPv4 literal)."""
    import ipaddress

    out: dict[str, str] = {}
    for node in getattr(scenario, "nodes", ()):
        host = getattr(node, "host", None)
        if host:
            try:
                out[node.name] = str(ipaddress.IPv4Address(host))
            except ValueError:
                pass
    return out


def traced_run(file: str, run: int, seed: int, params: tuple[str, ...], until: str | None = None) -> TracedRun:
    """Load FILE and run it with a full trace up to run index ``run``; keep that run's events.

    ``until`` (``--until``, as ``simsip run`` reads it) stops the run at that simulated time,
    so a scenario whose handlers never stop can still be drawn.
    """
    import simsip
    from simsip.engine import run as engine_run
    from simsip.scenario import ScenarioError

    values = parse_params(params)
    stop = parse_until(until)
    if run < 0:
        raise fail(f"--run {run}: run indices start at 0")
    if run > MAX_RUN:
        raise fail(f"--run {run}: run indices go up to {MAX_RUN}")
    try:
        scenario = simsip.load(Path(file), params=values or None)
        # Run index r draws its own streams from (seed, r, source): running r alone is run r.
        result = engine_run(scenario, runs=1, seed=seed, trace="full", first_run=run, until=stop)
    except ScenarioError as exc:
        raise bad_scenario(exc) from None
    except ValueError as exc:
        raise fail(f"{file}: {exc}") from None
    trace = [ev for ev in (result.trace or []) if ev.run == run]
    nodes = [node.name for node in getattr(scenario, "nodes", ())]
    return TracedRun(scenario, trace, run, nodes, scenario_addresses(scenario))


def traced_window(file: str, run: int, seed: int, params: tuple[str, ...], until: str | None,
                  t_from: float | None, t_to: float | None, call_id: str | None) -> TracedRun:
    """:func:`traced_run` for a view of ``[t_from, t_to]`` and one call, both checked first."""
    if t_from is not None and t_to is not None and t_to < t_from:
        raise fail(f"--to {t_to:g} s is before --from {t_from:g} s")
    traced = traced_run(file, run, seed, params, until)
    if call_id is not None and not any(ev.call_id == call_id for ev in traced.trace):
        from simsip.viz.ladder import Ladder

        # The label the run's ladder tags the call's rows with ([c2]) names it too.
        labels = Ladder(traced.trace, nodes=traced.nodes, run=run).call_labels()
        if call_id not in labels:
            raise fail(f"--call {call_id!r}: no such Call-ID in run {run}"
                       + (f" (or a call label {', '.join(labels)})" if labels else ""))
        call_id = labels[call_id]
    return replace(traced, call_id=call_id)


def write_output(path: str, data: bytes | str, what: str) -> None:
    """Write ``data`` to ``path`` atomically (a temp file renamed over it)."""
    from simsip.experiment import write_atomic

    target = Path(path)
    if target.is_dir():
        raise fail(f"-o {path}: is a directory")
    if not target.parent.is_dir():
        raise fail(f"-o {path}: directory {target.parent} does not exist")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_or_fail("-o", path, what, lambda: write_atomic(target, lambda tmp: tmp.write_bytes(payload)))


def run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every per-run view takes: --run, --seed, --param, --until."""
    func = click.option("--until", "until", metavar="DURATION", default=None,
                        help="Stop the run at this simulated time (e.g. 60s), as `simsip run --until`.")(func)
    func = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                        help="Override a scenario param, e.g. loss=20%. Repeatable.")(func)
    func = click.option("--seed", type=int, default=0, show_default=True, help="Base seed.")(func)
    func = click.option("--run", "run", type=int, default=0, show_default=True,
                        help="Run index to show (0 is the first).")(func)
    return func


@main.command("ladder")
@click.argument("file", type=click.Path())
@run_options
@click.option("--format", "fmt", type=click.Choice(["text", "svg", "mermaid", "html"]), default="text",
              show_default=True, help="Terminal text (colour on a TTY), SVG, Mermaid sequenceDiagram or HTML.")
@click.option("--from", "t_from", type=SimTime(), default=None, help="Show rows from this time (1.5, 1500ms).")
@click.option("--to", "t_to", type=SimTime(), default=None, help="Show rows up to this time.")
@click.option("--call", "call_id", default=None, metavar="CALL-ID",
              help="Show one call only: its Call-ID, or the label the ladder tags it with (c2).")
@click.option("--notes", is_flag=True, help="Add timer firings, state changes and app events as side notes.")
@click.option("--details", is_flag=True, help="Add CSeq, RSeq, RAck and Call-ID to every arrow.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (atomically) instead of standard output.")
def ladder_command(file: str, run: int, seed: int, params: tuple[str, ...], until: str | None, fmt: str,
                   t_from: float | None, t_to: float | None, call_id: str | None, notes: bool,
                   details: bool, output: str | None) -> None:
    """Draw the ladder diagram of one run of FILE."""
    from simsip.viz.ladder import Ladder

    traced = traced_window(file, run, seed, params, until, t_from, t_to, call_id)
    title = f"{getattr(traced.scenario, 'name', '') or Path(file).name}: run {run}, seed {seed}"
    lad = Ladder(traced.trace, nodes=traced.nodes, run=run, t_from=t_from, t_to=t_to, call_id=traced.call_id,
                 notes=notes, details=details, title=title)
    if output is not None:
        write_output(output, lad.render(fmt), f"the {fmt} ladder")
        return
    if fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        Console(soft_wrap=True, highlight=False).print(lad.rich_text(), end="")
        return
    click.echo(lad.render(fmt), nl=False)
