"""``simsip convert FILE --to yaml|sip [-o OUT]``: the same scenario in the other surface.

The output loads back to an equal model (``$param`` references and param
defaults are kept); comments are not part of the model and are dropped.
``-o`` writes atomically: on any problem nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from simsip.cli import EXIT_OK, bad_scenario, fail, main, write_or_fail


@main.command("convert")
@click.argument("file")
@click.option("--to", "surface", type=click.Choice(["yaml", "sip"]), required=True,
              help="The surface to write.")
@click.option("-o", "--output", default=None, metavar="FILE", help="Write here (atomically) instead of stdout.")
def convert_command(file: str, surface: str, output: str | None) -> int:
    """Convert the scenario FILE to YAML or to the .sip language."""
    from simsip.scenario import ScenarioError, load
    from simsip.scenario.writer import write

    if output is not None:
        target = Path(output)
        if target.is_dir():
            raise fail(f"-o {output}: is a directory")
        if not target.parent.is_dir():
            raise fail(f"-o {output}: directory {target.parent} does not exist")
    try:
        scenario = load(Path(file))
    except ScenarioError as exc:
        raise bad_scenario(exc) from None
    text = write(scenario, surface)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return EXIT_OK
    from simsip.experiment import write_atomic

    write_or_fail("-o", output, f"the {surface} scenario",
                  lambda: write_atomic(output, lambda tmp: tmp.write_text(text, encoding="utf-8")))
    return EXIT_OK
