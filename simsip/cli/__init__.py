"""The ``simsip`` command: one click group, one module per subcommand.

Each subcommand lives in its own module under ``simsip/cli/`` and registers
itself on :data:`main` when imported; the imports at the bottom list them.
Exit status (DESIGN.md): 0 all ran and every expectation held, 1 an
expectation failed, 2 bad input (scenario, parameter or option).
"""

from __future__ import annotations

import contextlib
import errno
import sys
from typing import Any, Callable

import click

EXIT_OK = 0
EXIT_EXPECTATION_FAILED = 1
EXIT_BAD_INPUT = 2
# Errors only a write can raise: stdout on a full disk (`simsip run f.sip --format csv > out.csv`).
# The output files (--out, --trace, -o) are checked where they are written (write_or_fail);
# a closed pipe (EPIPE, `| head`) click handles itself.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class SimsipGroup(click.Group):
    """A click group whose usage errors end in one line and exit status 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Run the group, turning click usage errors into one-line messages."""
        kwargs.setdefault("standalone_mode", False)
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            click.echo(f"simsip: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as exc:
            click.echo(f"simsip: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.Abort:
            click.echo("simsip: aborted", err=True)
            sys.exit(130)
        except OSError as exc:
            if exc.errno not in _WRITE_ERRNOS:
                raise
            with contextlib.suppress(OSError):  # stderr may sit on the same full disk
                click.echo(f"simsip: error: cannot write the output: {exc.strerror}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def fail(message: str) -> "click.exceptions.Exit":
    """Print a one-line error to stderr and return an Exit(2) to raise."""
    click.echo(f"simsip: error: {message}", err=True)
    return click.exceptions.Exit(EXIT_BAD_INPUT)


def bad_scenario(exc: Any) -> "click.exceptions.Exit":
    """Print a ScenarioError as DESIGN.md asks (``file:line:col: message``, the line, a caret); return Exit(2)."""
    click.echo(exc.render(), err=True)
    return click.exceptions.Exit(EXIT_BAD_INPUT)


def write_or_fail(option: str, path: object, what: str, write: Callable[[], None]) -> None:
    """Run ``write`` (an atomic write of ``path``); an OSError is a one-line error naming the option (exit 2)."""
    try:
        write()
    except OSError as exc:
        # The pre-checks (a directory, a missing parent) cannot see every unwritable place: /proc, a
        # read-only mount, a full disk. write_atomic has already removed its temp file.
        raise fail(f"{option} {path}: cannot write {what}: {exc.strerror or exc}") from None


class ProgressBar:
    """A rich progress bar on stderr, or nothing; used as ``progress(done, total)``."""

    def __init__(self, enabled: bool, title: str) -> None:
        """Build the bar only when it will be shown (stderr is a terminal, and no --quiet)."""
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(f"[bold]{title}[/bold]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )

    def __enter__(self) -> ProgressBar | None:
        """Start the bar; the callback is None when there is no bar."""
        if self._bar is None:
            return None
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the bar (also on Ctrl-C, so the terminal is left clean)."""
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, done: int, total: int) -> None:
        """Move the bar to ``done`` of ``total`` runs."""
        if self._task is None:
            self._task = self._bar.add_task("runs", total=total)
        self._bar.update(self._task, completed=done)


@click.group(cls=SimsipGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="simsip")
def main() -> None:
    """simsip: a SIP signalling simulator (RFC 3261 / RFC 3262 on SimPy)."""


# Subcommands register themselves on `main` when imported; one line each.
from simsip.cli import sweep as _sweep  # noqa: E402,F401
from simsip.cli import ladder as _ladder  # noqa: E402,F401
from simsip.cli import pcap as _pcap  # noqa: E402,F401
from simsip.cli import explain as _explain  # noqa: E402,F401
from simsip.cli import codes as _codes  # noqa: E402,F401
from simsip.cli import run as _run  # noqa: E402,F401
from simsip.cli import check as _check  # noqa: E402,F401
from simsip.cli import convert as _convert  # noqa: E402,F401
