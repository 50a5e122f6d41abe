"""``simsip sweep`` on the real engine: table, --out, executors agree, bad input, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from simsip.cli import main
from simsip.experiment import DaskExecutor, ProcessExecutor, sweep

SCENARIO = """\
scenario "Reliable 180 on a lossy hop"
param loss = 10%
param delay = 20ms
ua alice supports 100rel
ua bob supports 100rel
link alice <-> bob delay $delay loss $loss
on bob INVITE:
    send 180 reliable
    wait 1s
    send 200
call alice -> bob at 0s require 100rel
"""


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    """The scenario above, as a file."""
    path = tmp_path / "reliable.sip"
    path.write_text(SCENARIO)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``simsip ARGS``; return exit status, stdout and stderr."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_sweep_prints_a_table_and_writes_the_calls(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    code, stdout, _ = invoke(
        "sweep", str(scenario), "--param", "loss=0:20%:10%", "--param", "delay=20ms,300ms",
        "--runs", "4", "--seed", "3", "--executor", "serial", "--out", str(out),
    )
    assert code == 0
    assert "Reliable 180 on a lossy hop: 4 runs per point, seed 3" in stdout
    assert "20ms" in stdout and "300ms" in stdout and "final ms" in stdout
    calls = pd.read_csv(out)
    assert len(calls) == 6 * 4
    assert list(calls.columns[:4]) == ["point", "loss", "delay", "run"]
    assert sorted(set(calls["loss"])) == [0.0, 10.0, 20.0]
    assert set(calls.loc[calls["loss"] == 0.0, "final_ms"]) == {1040.0, 1600.0}  # 1 s + 2 x delay
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.csv", "reliable.sip"]


def test_a_bare_zero_in_a_list_runs_as_zero_percent(scenario: Path, tmp_path: Path) -> None:
    """DESIGN.md's `simsip sweep FILE --param loss=0,5%,10%`: the 0 is handed to the scenario as 0%
    (it stopped with "`loss` is a percentage (default 10%), not a whole number")."""
    out = tmp_path / "calls.csv"
    code, _, stderr = invoke("sweep", str(scenario), "--param", "loss=0,5%,10%", "--runs", "2",
                             "--executor", "serial", "--out", str(out), "--quiet")
    assert (code, stderr) == (0, "")
    calls = pd.read_csv(out)
    assert list(calls["loss"]) == [0.0, 0.0, 5.0, 5.0, 10.0, 10.0]
    assert list(calls.loc[calls["loss"] == 0.0, "messages_lost"]) == [0, 0]


def test_every_executor_gives_identical_calls_on_the_engine(scenario: Path) -> None:
    params = {"loss": "0:30%:15%", "delay": "20ms,300ms"}
    serial = sweep(scenario, params, runs=8, seed=5, executor="serial").calls.to_csv(index=False)
    pool = sweep(scenario, params, runs=8, seed=5, executor=ProcessExecutor(jobs=2, min_pool_runs=0), chunk=3)
    dask = sweep(scenario, params, runs=8, seed=5, executor=DaskExecutor(workers=2, processes=False), chunk=3)
    assert pool.calls.to_csv(index=False) == serial
    assert dask.calls.to_csv(index=False) == serial


def test_run_r_is_run_r_of_simsip_run(scenario: Path) -> None:
    """Common random numbers: the sweep's run 5 at 10 % loss is simsip.run's run 5 there."""
    import simsip

    calls = sweep(scenario, {"loss": "0%,10%"}, runs=6, seed=2, executor="serial", chunk=4).calls
    direct = simsip.run(simsip.load(scenario, params={"loss": "10%"}), runs=6, seed=2)
    assert list(calls.loc[calls["point"] == 1, "call_id"]) == [r["call_id"] for r in direct.calls]
    assert list(calls.loc[calls["point"] == 1, "messages_lost"]) == [r["messages_lost"] for r in direct.calls]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "loss=0:30%:0"], "simsip: error: param loss=0:30%:0: the step is zero\n"),
        (["--param", "loss=lots"], "loss"),
        (["--param", "jitter=5ms"], "jitter"),
        (["--param", "loss"], "--param 'loss': expected NAME=VALUES"),
        (["--out", "calls.txt"], "unknown format '.txt'"),
        (["--executor", "serial", "--scheduler", "tcp://127.0.0.1:9"], "--scheduler needs --executor dask"),
        (["--param", "delay=0:1e400ms:1e399ms"],
         "simsip: error: param delay=0:1e400ms:1e399ms: a value too large to compute with (over 1e308)\n"),
        (["--executor", "dask", "--scheduler", "nonsense"],
         "simsip: error: --scheduler nonsense: cannot connect (missing port number in address 'nonsense')\n"),
    ],
)
def test_bad_input_exits_2_with_one_line(scenario: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = invoke("sweep", str(scenario), "--runs", "2", "--executor", "serial", *args)
    assert code == 2
    assert stdout == ""
    assert message in stderr and stderr.count("\n") == 1 and "Traceback" not in stderr


@pytest.mark.parametrize("name", ["calls", "share", "outcome", "mean", "n", "p99"])
def test_a_param_named_like_a_result_column_is_refused_before_the_runs(name: str, tmp_path: Path) -> None:
    """call_centre.sip's own `param calls`: sweeping it ran every run, then ended in pandas'
    `ValueError: cannot insert calls, already exists` (the outcomes table's calls column)."""
    path = tmp_path / "centre.sip"
    path.write_text(SCENARIO.replace("param delay = 20ms", f"param delay = 20ms\nparam {name} = 10"))
    code, stdout, stderr = invoke("sweep", str(path), "--param", f"{name}=10,20", "--runs", "2",
                                  "--executor", "serial")
    assert (code, stdout) == (2, "")
    assert stderr == (f"simsip: error: param {name}: the name clashes with the {name!r} result column; "
                      "rename the param in the scenario to sweep it\n")


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, stderr = invoke("sweep", str(tmp_path / "nope.sip"))
    assert code == 2 and "nope.sip: no such file" in stderr


def test_unwritable_out_exits_2_with_one_line(scenario: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """--out where no file can be made (/proc, a read-only mount): one line, exit 2, no table."""
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / "calls.csv"
    code, stdout, stderr = invoke("sweep", str(scenario), "--param", "loss=0%,5%", "--runs", "2",
                                  "--executor", "serial", "--out", str(out))
    assert (code, stdout, stderr) == (2, "", f"simsip: error: --out {out}: cannot write the call table: "
                                             "Permission denied\n")
    assert not out.exists()


def test_ctrl_c_stops_the_workers_and_leaves_no_output(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "simsip", "sweep", str(scenario), "--param", "loss=0:30%:1%",
         "--runs", "2000", "--jobs", "2", "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    # Interrupt once the workers run (the pool exists), not at a fixed time: on a loaded
    # machine the command may still be importing after a few seconds.
    import psutil

    deadline = time.monotonic() + 60.0
    while not psutil.Process(process.pid).children() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    time.sleep(1.0)
    assert process.poll() is None, process.communicate()
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "simsip: aborted" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reliable.sip"]
    # No worker outlives the command: its process group empties (helpers such as
    # multiprocessing's resource tracker may take a moment to notice the exit).
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a process of the interrupted sweep is still running")
