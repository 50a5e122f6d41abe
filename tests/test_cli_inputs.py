"""Every command reads its scenario FILE the same way: a missing file or a directory is one line
and exit 2 with the loader's reason, a pipe (`simsip run <(gen)`) is read like a file, except by
sweep, which loads the file once per point and says so, and a problem in the scenario is shown
with its line and a caret (DESIGN.md)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from simsip.cli import main

DIRECT = Path(__file__).resolve().parents[1] / "scenarios" / "basic" / "direct_call.sip"

# Each command with the options it needs besides FILE (outputs under OUT).
COMMANDS = {
    "check": [],
    "convert": ["--to", "yaml"],
    "run": [],
    "ladder": [],
    "explain": [],
    "pcap": ["-o", "OUT/run.pcapng"],
    "sweep": ["--runs", "2", "--executor", "serial"],
}


def invoke(command: str, file: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run ``simsip COMMAND FILE ...`` in-process; (exit status, stdout, stderr)."""
    args = [command, file, *(a.replace("OUT", str(tmp_path)) for a in COMMANDS[command])]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_missing_file_is_one_line(command: str, tmp_path: Path) -> None:
    code, stdout, stderr = invoke(command, str(tmp_path / "nope.sip"), tmp_path)
    assert (code, stdout) == (2, "")
    assert stderr.count("\n") == 1
    assert stderr.rstrip("\n").endswith(f"{tmp_path / 'nope.sip'}: no such file")


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"check"}))
def test_directory_is_one_line_saying_so(command: str, tmp_path: Path) -> None:
    """check reads a directory as the scenarios under it, so it is left out here."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    code, stdout, stderr = invoke(command, str(folder), tmp_path)
    assert (code, stdout) == (2, "")
    assert stderr.count("\n") == 1
    assert stderr.rstrip("\n").endswith(f"{folder}: is a directory, not a scenario file")


def _pipe(tmp_path: Path) -> str:
    """A named pipe that yields direct_call.sip once, as `<(cat direct_call.sip)` would."""
    fifo = tmp_path / "scenario.fifo"
    os.mkfifo(fifo)
    text = DIRECT.read_bytes()

    def feed() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except OSError:
            return
        with os.fdopen(fd, "wb") as writer:
            try:
                writer.write(text)
            except BrokenPipeError:
                pass

    threading.Thread(target=feed, daemon=True).start()
    return str(fifo)


@pytest.mark.parametrize("command", ["check", "convert", "run", "ladder", "explain", "pcap"])
def test_pipe_is_read_like_a_file(command: str, tmp_path: Path) -> None:
    fifo = _pipe(tmp_path)
    code, stdout, stderr = invoke(command, fifo, tmp_path)
    assert code == 0
    assert stderr == (f"wrote 5 SIP messages (5 packets) of run 0 to {tmp_path / 'run.pcapng'}\n"
                      if command == "pcap" else "")
    if command == "check":
        assert stdout == f"{fifo}: OK\n"
    if command == "run":
        assert stdout.startswith("Direct call: 1 run, seed 0, 1 call\n") and "Outcomes (1 call)" in stdout
    if command == "ladder":
        assert stdout.startswith("Direct call: run 0, seed 0\n")
    if command == "convert":
        assert stdout.startswith("scenario: Direct call\n")


def test_sweep_refuses_a_pipe_and_says_why(tmp_path: Path) -> None:
    fifo = _pipe(tmp_path)
    code, stdout, stderr = invoke("sweep", fifo, tmp_path)
    assert (code, stdout) == (2, "")
    assert stderr == (f"simsip: error: {fifo}: not a regular file; a sweep reads the scenario once per point, "
                      "so save it to a file first\n")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_scenario_problem_shows_its_line_and_caret(command: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sip"
    bad.write_text("ua alice\nlink alice <-> bbo delay 10ms\n")
    code, stdout, stderr = invoke(command, str(bad), tmp_path)
    assert (code, stdout) == (2, "")
    assert stderr == (f"{bad}:2:16: unknown node `bbo` in a link\n"
                      "    link alice <-> bbo delay 10ms\n"
                      "                   ^\n")


@pytest.mark.parametrize(("line", "col", "message"), [
    ("ua bób", 5, "unexpected `ó` in `bób`"),
    ("proxy e@dge", 8, "unexpected `@` in `e@dge`"),
    ("on bo!b INVITE: send 200", 6, "unexpected `!` in `bo!b`"),
    ("call alice -> bo!b", 17, "unexpected `!` in `bo!b`"),
])
def test_stray_character_in_a_name_says_what_a_name_is(line: str, col: int, message: str, tmp_path: Path) -> None:
    """Not `expected <-> or -> between the two node names`, which the parser state after any name carried."""
    bad = tmp_path / "bad.sip"
    bad.write_text(f"ua alice\n{line}\n")
    code, stdout, stderr = invoke("check", str(bad), tmp_path)
    assert (code, stdout) == (2, "")
    assert stderr == (f"{bad}:2:{col}: {message}: a name is letters, digits, `_`, and `.` or `-` between them "
                      f"(ASCII only: it becomes part of a SIP URI)\n    {line}\n    {' ' * (col - 1)}^\n")


@pytest.mark.parametrize("command", ["ladder", "explain", "pcap"])
@pytest.mark.parametrize("run", ["2147483648", "99999999999999999999"])
def test_run_index_past_the_last_is_one_line_naming_the_option(command: str, run: str, tmp_path: Path) -> None:
    """Not the call table's `call measure 'run': ... out of range (its column holds ...)`; pcap writes nothing."""
    args = [command, str(DIRECT), "--run", run, *(a.replace("OUT", str(tmp_path)) for a in COMMANDS[command])]
    result = CliRunner().invoke(main, args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"simsip: error: --run {run}: run indices go up to 2147483647\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("runs", ["2147483649", "1000000000000"])
def test_runs_past_the_last_run_index_is_one_line_naming_the_option(command: str, runs: str, tmp_path: Path) -> None:
    """Runs 0..N-1 must fit the call table's run column: sweep built its batches first (MemoryError at 10**12)
    and run would end in `call measure 'run': ... out of range` after simulating 2**31 runs."""
    out = tmp_path / "calls.csv"
    extra = ["--executor", "serial", "--out", str(out)] if command == "sweep" else []
    result = CliRunner().invoke(main, [command, str(DIRECT), "--runs", runs, *extra])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"simsip: error: Invalid value for '--runs': {runs} is not in the range "
                             "1<=x<=2147483648.\n")
    assert not out.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["codes", "503"], ["run", str(DIRECT)], ["ladder", str(DIRECT)],
                                  ["sweep", str(DIRECT), "--runs", "2", "--executor", "serial"]])
def test_stdout_on_a_full_disk_is_one_line_exit_2(args: list[str]) -> None:
    """`simsip run f.sip > out` on a full disk: one line naming the OS reason, exit 2, as an unwritable
    --out is; it was an OSError traceback and exit 1 (which says an expectation failed)."""
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "simsip", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=DIRECT.parents[2], timeout=120)
    assert (done.returncode, done.stderr) == (2, "simsip: error: cannot write the output: No space left on device\n")
