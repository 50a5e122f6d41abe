"""`simsip run`: formats, JSON shape, trace file, exit status, and the shipped direct call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import simsip
from simsip.cli import main
from simsip.metrics import read_jsonl

ROOT = Path(__file__).resolve().parents[2]
DIRECT = ROOT / "scenarios" / "basic" / "direct_call.sip"

RECORD_KEYS = {"run", "call_id", "outcome", "final_code", "final_ms", "pdd_ms",
               "invite_retransmissions", "reliable_1xx_retransmissions", "prack_retransmissions",
               "prack_count", "ok_retransmissions", "messages_sent", "messages_lost"}
STAT_KEYS = {"n", "mean", "std", "ci95", "p50", "p90", "p99", "max"}


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames \
        else CliRunner()
    result = runner.invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_shipped_direct_call_flow_exact() -> None:
    """scenarios/basic/direct_call.sip, no loss: INVITE, 200, ACK, BYE, 200 at exact times."""
    result = simsip.run(simsip.load(DIRECT), trace="full")
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace if e.event == "send"]
    assert flow == [(0.0, "alice", "bob", "INVITE"), (0.05, "bob", "alice", "200 OK"),
                    (0.1, "alice", "bob", "ACK"), (1.1, "alice", "bob", "BYE"),
                    (1.15, "bob", "alice", "200 OK")]
    assert result.ok and [e["held"] for e in result.expectations] == [True, True]


def test_json_shape_and_identical_bytes_for_identical_seed() -> None:
    args = ("run", str(DIRECT), "--runs", "5", "--seed", "11", "--param", "loss=20%",
            "--format", "json")
    code, out, _ = invoke(*args)
    assert code == 0
    again = invoke(*args)[1]
    assert out == again
    data = json.loads(out)
    assert list(data) == ["scenario", "file", "seed", "runs", "params", "calls", "summary",
                          "expectations"]
    assert data["scenario"] == "Direct call" and data["seed"] == 11 and data["runs"] == 5
    assert data["params"]["loss"] == pytest.approx(0.2)
    assert len(data["calls"]) == 5 and RECORD_KEYS <= set(data["calls"][0])
    assert STAT_KEYS == set(data["summary"]["final_ms"])
    assert {"outcomes", "rfc6076"} <= set(data["summary"])
    assert all(set(e) == {"text", "held", "detail"} for e in data["expectations"])


def test_trace_file_jsonl(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    code, _, _ = invoke("run", str(DIRECT), "--trace", str(trace), "--format", "csv")
    assert code == 0
    lines = trace.read_text().splitlines()
    first = json.loads(lines[0])
    assert {"run", "t", "event", "node", "from", "to", "message", "call_id", "cseq", "rseq",
            "retransmission", "timer"} <= set(first)
    assert (first["event"], first["node"], first["message"], first["retransmission"]) == \
        ("send", "alice", "INVITE", 0)
    events = read_jsonl(trace)
    assert [e.message for e in events if e.event == "send"] == \
        ["INVITE", "200 OK", "ACK", "BYE", "200 OK"]
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]  # no temp file left behind


def test_csv_one_row_per_call() -> None:
    code, out, _ = invoke("run", str(DIRECT), "--runs", "3", "--format", "csv")
    assert code == 0
    rows = out.strip().splitlines()
    assert rows[0].startswith("run,call_id,outcome,final_code,final_ms")
    assert len(rows) == 4


def test_table_lists_expectations() -> None:
    code, out, _ = invoke("run", str(DIRECT))
    assert code == 0
    assert "held   expect outcome == answered" in out
    assert "final_ms" in out


def test_failed_expectation_exits_1(tmp_path: Path) -> None:
    scenario = tmp_path / "fail.sip"
    scenario.write_text(DIRECT.read_text() + "\nexpect final_ms < 50ms\n")
    code, out, _ = invoke("run", str(scenario))
    assert code == 1
    assert "FAILED expect final_ms < 50ms" in out


def test_bad_input_exits_2_without_output(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert invoke("run", str(tmp_path / "missing.sip"))[0] == 2
    assert invoke("run", str(DIRECT), "--param", "loss=20ms", "--trace", str(trace))[0] == 2
    assert invoke("run", str(DIRECT), "--until", "soon")[0] == 2
    bad = tmp_path / "bad.sip"
    bad.write_text("ua alice\nlink alice <-> nobody delay 10ms\n")
    code, _, err = invoke("run", str(bad))
    assert code == 2 and f"{bad}:2:" in err and "Traceback" not in err
    assert not trace.exists()


def test_unwritable_trace_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--trace where no file can be made (/proc, a read-only mount): one line, exit 2, no table."""
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    trace = tmp_path / "t.jsonl"
    code, out, err = invoke("run", str(DIRECT), "--trace", str(trace))
    assert (code, out, err) == (2, "", f"simsip: error: --trace {trace}: cannot write the trace: Permission denied\n")
    assert list(tmp_path.iterdir()) == []


def test_until_stops_the_clock() -> None:
    code, out, _ = invoke("run", str(DIRECT), "--until", "0.5s", "--format", "json")
    data = json.loads(out)
    # Stopped after the ACK, before the BYE: answered, but no disconnect yet.
    [call] = data["calls"]
    assert call["outcome"] == "answered" and call["messages_sent"] == 3
    assert code == 0


def test_identical_json_across_processes(tmp_path: Path) -> None:
    """Same seed, different interpreter hash seeds: byte-identical JSON (wire sizes included)."""
    import os
    import subprocess
    import sys

    scenario = tmp_path / "bw.sip"
    scenario.write_text(DIRECT.read_text().replace(
        "link alice <-> bob delay $delay jitter $jitter loss $loss",
        "link alice <-> bob delay $delay jitter 5ms loss 20% bandwidth 64kbps"))
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-m", "simsip", "run", str(scenario), "--runs", "4",
                               "--seed", "3", "--format", "json"],
                              capture_output=True, env=env, cwd=ROOT, check=False)
        assert done.returncode in (0, 1), done.stderr.decode()
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["summary"]["final_ms"]["n"] >= 1
