"""`--until` on the per-run views (ladder, explain, pcap) and the checks simsip.run makes of its arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from simsip.cli import main

# Each re-INVITE's 200 triggers the next re-INVITE: without a stop time the run never ends.
ENDLESS = """scenario "endless"
ua alice
ua bob
link alice <-> bob delay 10ms
on alice 200: reinvite
on alice 200 to re-INVITE: wait 450ms; reinvite
call alice -> bob
"""


def _invoke(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; (exit code, stdout + stderr)."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture
def endless(tmp_path: Path) -> Path:
    """The endless scenario as a file."""
    path = tmp_path / "endless.sip"
    path.write_text(ENDLESS, encoding="utf-8")
    return path


def test_ladder_until_stops_the_run(endless: Path) -> None:
    """`simsip ladder --until 1s`: INVITE at 0, re-INVITEs at 20 ms and 490 ms (+450 ms), nothing after 1 s."""
    code, out = _invoke("ladder", str(endless), "--until", "1s")
    assert code == 0, out
    invites = [line.split()[0] for line in out.splitlines() if line.rstrip().endswith("INVITE")]
    assert invites == ["0.000", "0.020", "0.490", "0.960"]


def test_explain_until_stops_the_run(endless: Path) -> None:
    """`simsip explain --until 500ms` explains nothing after 0.5 s."""
    code, out = _invoke("explain", str(endless), "--until", "500ms")
    assert code == 0, out
    times = [float(line.split()[0]) for line in out.splitlines() if line[:1] == " " and line.split()
             and line.split()[0].replace(".", "", 1).isdigit()]
    assert times and max(times) <= 0.5


def test_pcap_until_stops_the_run(endless: Path, tmp_path: Path) -> None:
    """`simsip pcap --until 1s` writes the messages sent by 1 s: 4 INVITEs, 4 200s, 4 ACKs."""
    target = tmp_path / "out.pcapng"
    code, out = _invoke("pcap", str(endless), "--until", "1s", "-o", str(target))
    assert code == 0, out
    assert "wrote 12 SIP messages" in out and target.is_file()


@pytest.mark.parametrize("command", ["ladder", "explain"])
def test_bad_until_is_a_usage_error(endless: Path, command: str) -> None:
    """A bad --until is reported as `simsip run` reports it, exit status 2."""
    code, out = _invoke(command, str(endless), "--until", "soon")
    assert code == 2
    assert "--until 'soon' is not a duration" in out


@pytest.mark.parametrize("command", ["run", "ladder", "explain"])
@pytest.mark.parametrize("until", ["0s", "0ms", "0"])
def test_until_at_zero_is_a_usage_error(endless: Path, command: str, until: str) -> None:
    """`--until 0s` would stop before anything happens: exit 2 with the option named, no traceback."""
    code, out = _invoke(command, str(endless), "--until", until)
    assert code == 2
    assert out.strip().splitlines()[-1] == (
        f"simsip: error: --until '{until}': the runs stop at a time after 0 s (e.g. 30s)")


@pytest.mark.parametrize("until", [0, -1.0, float("nan")])
def test_run_until_must_be_after_zero(endless: Path, until: float) -> None:
    """simsip.run(until=...) takes a time after 0 s; NaN, which compares false to every time, is refused too."""
    import simsip

    with pytest.raises(ValueError, match=r"^until must be a time after 0 s, got "):
        simsip.run(simsip.load(endless), until=until)


@pytest.mark.parametrize(("keywords", "message"), [
    ({"trace": "summary"}, r"^unknown trace level 'summary' \(expected one of off, full\)$"),
    ({"runs": 0}, r"^runs must be >= 1$"),
])
def test_run_refuses_bad_arguments_before_loading(keywords: dict, message: str) -> None:
    """simsip.run checks its own arguments first: a path that does not exist is never read."""
    import simsip

    with pytest.raises(ValueError, match=message):
        simsip.run("no/such/scenario.sip", **keywords)


@pytest.mark.parametrize(("text", "seconds"), [("1.5", 1.5), ("1500ms", 1.5), ("250us", 0.00025),
                                               ("2s", 2.0), ("2min", 120.0), ("0.5h", 1800.0), (" 3 s ", 3.0)])
def test_times_and_durations_read_alike(text: str, seconds: float) -> None:
    """--from/--to (ladder, explain) and --until read times with one parser: the same units, the same values."""
    from simsip.cli.ladder import SimTime, parse_until

    assert SimTime().convert(text, None, None) == parse_until(text) == pytest.approx(seconds, rel=1e-12)


def test_a_time_that_is_not_one_is_a_usage_error(endless: Path) -> None:
    """`ladder --from 2 s x`: one line naming the option, exit 2."""
    code, out = _invoke("ladder", str(endless), "--until", "1s", "--from", "2 s x")
    assert code == 2
    assert out.strip().splitlines()[-1] == (
        "simsip: error: Invalid value for '--from': '2 s x' is not a time (e.g. 1.5, 1500ms, 2s)")
