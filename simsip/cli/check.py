"""``simsip check FILE...``: parse and validate scenarios, report every problem.

Prints ``FILE: OK`` for each good file; for a bad one every problem as
``file:line:col: message`` with the source line and a caret, on stderr.
Exit status 2 if any file has a problem. A directory stands for the
``.sip`` / ``.yaml`` / ``.yml`` files under it; documentation and data files
(README.md, notebooks, CSV...) named among the files are skipped with a note.
"""

from __future__ import annotations

from pathlib import Path

import click

from simsip.cli import EXIT_BAD_INPUT, EXIT_OK, main

SCENARIO_SUFFIXES = (".sip", ".yaml", ".yml")
# Documentation and data that sit beside scenarios (`simsip check scenarios/**/*`
# with globstar also lists README.md): skipped with a note, not read as scenarios.
NOT_SCENARIOS = (".md", ".rst", ".ipynb", ".json", ".jsonl", ".csv", ".parquet", ".py", ".png", ".svg", ".pcapng")


def expand(paths: tuple[str, ...]) -> list[str]:
    """The files to check, each once, in a stable order; a directory stands for its scenario files."""
    out: list[str] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCENARIO_SUFFIXES)
            out.extend(str(p) for p in found)
            if not found:
                out.append(text)  # reported as "is a directory" by the loader
        else:
            out.append(text)
    return list(dict.fromkeys(out))


@main.command("check")
@click.argument("files", nargs=-1, required=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a scenario param (repeatable), e.g. --param loss=20%.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the problems, not `FILE: OK`.")
def check_command(files: tuple[str, ...], params: tuple[str, ...], quiet: bool) -> int:
    """Parse and validate scenario FILEs (.sip or YAML); exit 2 on any problem."""
    from simsip.cli.ladder import parse_params
    from simsip.scenario import ScenarioError, load

    values = parse_params(params)
    status = EXIT_OK
    for file in expand(files):
        if Path(file).suffix.lower() in NOT_SCENARIOS:
            if not quiet:
                click.echo(f"{file}: skipped (not a scenario)")
            continue
        try:
            load(Path(file), params=values or None)
        except ScenarioError as exc:
            click.echo(exc.render(), err=True)
            status = EXIT_BAD_INPUT
            continue
        except Exception as exc:  # noqa: BLE001 - a loader bug must still end in one line, not a traceback
            click.echo(f"{file}: internal error while checking ({type(exc).__name__}: {exc}); please report it",
                       err=True)
            status = EXIT_BAD_INPUT
            continue
        if not quiet:
            click.echo(f"{file}: OK")
    return status
