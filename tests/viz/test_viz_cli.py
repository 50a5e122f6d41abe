"""`simsip ladder`, `simsip pcap`, `simsip explain`: outputs, filters, bad input (exit 2, one line, no file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from simsip.cli import main

DATA = Path(__file__).parent / "data"
SCENARIO = str(DATA / "reliable_180_proxy.sip")
LOSSY = ("--param", "loss=30%", "--seed", "3")


def invoke(*args: str):
    """Run one simsip command in-process."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_ladder_time_window_and_call_filter():
    full = invoke("ladder", SCENARIO, *LOSSY).output
    window = invoke("ladder", SCENARIO, *LOSSY, "--from", "500ms", "--to", "1s").output
    rows = [ln for ln in window.splitlines()[3:]]
    assert rows and all(0.5 <= float(ln.split()[0]) <= 1.0 for ln in rows)
    assert len(rows) < len(full.splitlines()) - 3
    assert "X lost on edge-bob" in full and "(retx 1, RFC 3262 timer)" in full


def test_call_label_of_the_ladder_selects_that_call(tmp_path):
    """`--call c2` is the call the ladder tags [c2]: the same picture as its full Call-ID; a label past the
    last call is one line naming the labels there are."""
    two = tmp_path / "two.sip"
    two.write_text("ua alice\nua bob\nlink alice <-> bob delay 10ms\non bob INVITE: send 200\n"
                   "on alice 200: hangup\ncall alice -> bob at 0s\ncall alice -> bob at 5ms\n")
    full = invoke("ladder", str(two)).output
    assert [ln.split()[-2:] for ln in full.splitlines()[3:5]] == [["[c1]", "INVITE"], ["[c2]", "INVITE"]]
    import simsip

    trace = simsip.run(simsip.load(two), trace="full").trace
    second = next(e.call_id for e in trace if e.event == "send" and e.t == 0.005)
    by_label = invoke("ladder", str(two), "--call", "c2").output
    assert by_label == invoke("ladder", str(two), "--call", second).output
    assert [ln.split()[0] for ln in by_label.splitlines()[3:]] == ["0.005", "0.015", "0.025", "0.025", "0.035"]
    assert invoke("explain", str(two), "--call", "c2").output == invoke("explain", str(two), "--call", second).output
    res = CliRunner().invoke(main, ["ladder", str(two), "--call", "c3"])
    assert (res.exit_code, res.stderr) == (2, "simsip: error: --call 'c3': no such Call-ID in run 0 "
                                              "(or a call label c1, c2)\n")


def test_ladder_formats_to_files(tmp_path):
    for fmt, start in (("svg", "<svg"), ("html", "<!DOCTYPE html>"), ("mermaid", "sequenceDiagram")):
        out = tmp_path / f"l.{fmt}"
        res = invoke("ladder", SCENARIO, *LOSSY, "--format", fmt, "-o", str(out))
        assert res.exit_code == 0 and res.output == ""
        assert out.read_text(encoding="utf-8").startswith(start)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.html", "l.mermaid", "l.svg"]  # no temp files left


def test_explain_cites_rfc_sections():
    out = invoke("explain", SCENARIO, *LOSSY, "--no-recv").output
    assert "RFC 3262 §3: reliable 180 retransmitted after 500 ms, no PRACK yet" in out
    assert "RFC 3261 §17.1.2.2: Timer E: PRACK retransmitted after 500 ms, no final response yet" in out
    assert "network: link edge-bob lost the packet" in out
    assert "network: delivered" not in out


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `simsip` entry point (exit status and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "simsip", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path):
    out = tmp_path / "out.pcapng"
    cases = [
        ("pcap", SCENARIO, "-o", str(out), "--param", "loss"),
        ("pcap", SCENARIO, "-o", str(out), "--run", "-1"),
        ("ladder", SCENARIO, "--from", "soon"),
        ("ladder", SCENARIO, "--from", "2s", "--to", "1s"),
        ("ladder", SCENARIO, "--call", "no-such-call"),
        ("ladder", SCENARIO, "--format", "png"),
        ("pcap", SCENARIO, "-o", str(tmp_path / "no-dir" / "x.pcapng")),
    ]
    for args in cases:
        res = CliRunner().invoke(main, list(args))
        assert res.exit_code == 2, (args, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("simsip: error: "), (args, res.stderr)
        assert "Traceback" not in res.stderr and res.stdout == ""
    # A missing file or a scenario problem is reported by the loader itself, as `simsip run` reports it
    # (every command: tests/test_cli_inputs.py).
    res = CliRunner().invoke(main, ["explain", SCENARIO, "--param", "nosuchparam=1"])
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == f"{SCENARIO}: --param nosuchparam: the scenario has no param `nosuchparam`\n"
    assert list(tmp_path.iterdir()) == []


def test_run_index_beyond_the_call_table_is_one_line_exit_2(tmp_path):
    """--run 2**31 would overflow the call table's run column: a one-line error naming the option, not a traceback."""
    out = tmp_path / "out.pcapng"
    for args in [("ladder", SCENARIO, "--run", str(2**31)), ("pcap", SCENARIO, "-o", str(out), "--run", str(2**31))]:
        res = CliRunner().invoke(main, list(args))
        assert res.exit_code == 2, (args, res.stderr)
        assert res.stderr == "simsip: error: --run 2147483648: run indices go up to 2147483647\n"
    assert list(tmp_path.iterdir()) == []


def test_packet_later_than_a_pcapng_timestamp_is_one_line_exit_2(tmp_path):
    """A message after 2**64 microseconds overflows the EPB's timestamp: one line, not a struct.error traceback.

    One time in a scenario is at most 2**32-1 s, so the late 180 comes after 4295 such waits."""
    late = tmp_path / "late.sip"
    waits = "; ".join(["wait 4294967295s"] * 4295)
    late.write_text('scenario "x"\nua alice\nua bob\nlink alice <-> bob delay 10ms\n'
                    f"on bob INVITE: {waits}; send 180\ncall alice -> bob\n", encoding="utf-8")
    out = tmp_path / "out.pcapng"
    res = CliRunner().invoke(main, ["pcap", str(late), "-o", str(out)])
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"simsip: error: {late}: a packet at 1.84469e+13 s is later than a pcapng timestamp can "
                          "hold (18444976848110 s)\n")
    assert not out.exists()


def test_bad_scenario_reports_file_line_col(tmp_path):
    bad = tmp_path / "bad.sip"
    bad.write_text('scenario "x"\nua alice\nlink alice <-> nobody delay 10ms\n', encoding="utf-8")
    res = _run_cli("pcap", str(bad), "-o", str(tmp_path / "x.pcapng"), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{bad}:3:" in res.stderr
    assert not (tmp_path / "x.pcapng").exists()


def test_pcap_cli_writes_the_run_it_names(tmp_path):
    """`simsip pcap --run 1` is byte for byte the export of run 1 of the same scenario."""
    import io

    import simsip
    from simsip.viz.pcap import write_pcapng

    out = tmp_path / "call.pcapng"
    res = invoke("pcap", SCENARIO, "--param", "loss=30%", "--seed", "3", "--run", "1", "-o", str(out))
    assert res.exit_code == 0 and res.stderr.startswith("wrote ") and f"of run 1 to {out}" in res.stderr
    scenario = simsip.load(SCENARIO, params={"loss": "30%"})
    result = simsip.run(scenario, runs=2, seed=3, trace="full")
    direct = io.BytesIO()
    write_pcapng(result.trace, direct, nodes=[n.name for n in scenario.nodes], run=1)
    assert out.read_bytes() == direct.getvalue()
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng Section Header Block
