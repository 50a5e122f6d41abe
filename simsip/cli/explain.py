"""``simsip explain FILE``: every event of one run with the rule behind it and its RFC section."""

from __future__ import annotations

import click

from simsip.cli import main
from simsip.cli.ladder import SimTime, run_options, traced_window, write_output


@main.command("explain")
@click.argument("file", type=click.Path())
@run_options
@click.option("--from", "t_from", type=SimTime(), default=None, help="Explain events from this time.")
@click.option("--to", "t_to", type=SimTime(), default=None, help="Explain events up to this time.")
@click.option("--call", "call_id", default=None, metavar="CALL-ID",
              help="Explain one call only: its Call-ID, or the label the ladder tags it with (c2).")
@click.option("--no-recv", is_flag=True, help="Leave out deliveries (show sends, losses, timers, states).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (atomically) instead of standard output.")
def explain_command(file: str, run: int, seed: int, params: tuple[str, ...], until: str | None, t_from: float | None,
                    t_to: float | None, call_id: str | None, no_recv: bool, output: str | None) -> None:
    """Explain one run of FILE: each event annotated with its rule and RFC section."""
    from simsip.viz.explain import explain, explain_text

    traced = traced_window(file, run, seed, params, until, t_from, t_to, call_id)
    text = explain_text(explain(traced.trace, nodes=traced.nodes, run=run, t_from=t_from, t_to=t_to,
                                call_id=traced.call_id, include_recv=not no_recv))
    if output is not None:
        write_output(output, text, "the explanation")
    else:
        click.echo(text, nl=False)
