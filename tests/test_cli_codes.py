"""``simsip codes``: the response-code teaching aid, and its one-line errors (exit 2)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from simsip.cli import main


def run(*args: str) -> tuple[int, str, str]:
    """Invoke ``simsip codes ARGS``; return (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, ["codes", *args])
    return result.exit_code, result.stdout, result.stderr


def test_one_code() -> None:
    """``simsip codes 503`` prints code, reason, class, provisional/final and RFC."""
    code, out, err = run("503")
    assert code == 0 and err == ""
    assert out == (
        "503 Service Unavailable\n"
        "  class: Server Error (5xx)\n"
        "  kind:  final\n"
        "  RFC:   RFC 3261 §21.5.4\n"
    )


def test_class_1xx_lists_the_provisional_codes() -> None:
    """``simsip codes 1xx`` lists 100, 180, 181, 182, 183, 199."""
    code, out, _ = run("1xx")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["code", "reason", "class", "kind", "RFC"]
    assert [line.split()[0] for line in lines[1:]] == ["100", "180", "181", "182", "183", "199"]
    assert lines[-1].split() == ["199", "Early", "Dialog", "Terminated", "Informational", "provisional", "RFC", "6228"]


@pytest.mark.parametrize("query", ["client-error", "Client Error", "client_error", "4xx"])
def test_class_names(query: str) -> None:
    """A class may be named by its digit pattern or its name in any spelling."""
    code, out, _ = run(query)
    codes = [line.split()[0] for line in out.splitlines()[1:]]
    assert code == 0 and codes[0] == "400" and codes[-1] == "494" and len(codes) == 46


def test_pattern_and_all() -> None:
    """``18x`` matches a pattern; no argument lists every code."""
    assert [line.split()[0] for line in run("18x")[1].splitlines()[1:]] == ["180", "181", "182", "183"]
    assert len(run()[1].splitlines()) == 1 + 75


def test_methods() -> None:
    """``--methods`` lists the methods; a method name shows one."""
    code, out, _ = run("--methods")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]][:3] == ["INVITE", "ACK", "BYE"]
    assert run("prack")[1] == "PRACK\n  RFC:     RFC 3262\n  purpose: acknowledge a reliable provisional response\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["299"], "simsip: error: 299 is not a registered SIP response code (it would be treated as 200, Success (2xx))\n"),
        (["999"], "simsip: error: '999' is not a SIP response code (100-699)\n"),
        (["7xx"], None),
        (["--bogus"], "simsip: error: No such option '--bogus'.\n"),
        (["--methods", "503"], "simsip: error: --methods takes no CODE or CLASS\n"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str | None) -> None:
    """Unknown codes and bad options: one line on stderr, exit status 2, nothing on stdout."""
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("simsip: error: ") and "Traceback" not in err
    if message is not None:
        assert err == message
