"""``simsip check`` and ``simsip convert``: output, exit status 2, atomic -o."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from simsip.cli import main
from simsip.scenario import load

ROOT = Path(__file__).resolve().parents[2]
DIRECT = ROOT / "scenarios" / "basic" / "direct_call.sip"
GOOD = 'scenario "g"\nua a\nua b\nlink a <-> b delay 5ms\ncall a -> b\n'


def run(*args: str) -> tuple[int, str, str]:
    """Invoke ``simsip ARGS``; return (exit code, stdout, stderr); no exception may escape."""
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_check_ok(tmp_path: Path) -> None:
    """Good files print `FILE: OK` and exit 0."""
    good = tmp_path / "good.sip"
    good.write_text(GOOD)
    code, out, err = run("check", str(good), str(DIRECT))
    assert (code, out, err) == (0, f"{good}: OK\n{DIRECT}: OK\n", "")


def test_check_every_shipped_scenario() -> None:
    """`simsip check scenarios` (a directory: every scenario file under it) exits 0."""
    code, out, err = run("check", str(ROOT / "scenarios"))
    assert code == 0, err
    assert f"{DIRECT}: OK" in out.splitlines()


def test_check_reports_every_problem_with_caret(tmp_path: Path) -> None:
    """A bad file: each problem with file:line:col, its line and a caret; exit 2."""
    bad = tmp_path / "bad.sip"
    bad.write_text('scenario "b"\nua a\nua a\nlink a <-> c delay 5\n')
    code, out, err = run("check", str(bad))
    assert code == 2 and out == ""
    assert err == (
        f"{bad}:3:4: duplicate node name `a` (first declared at line 2)\n"
        "    ua a\n"
        "       ^\n"
        f"{bad}:4:12: unknown node `c` in a link\n"
        "    link a <-> c delay 5\n"
        "               ^\n"
    )


def test_check_mixed_files_exit_2(tmp_path: Path) -> None:
    """One bad file among good ones still makes the exit status 2; the good ones print OK."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [\n")
    code, out, err = run("check", str(DIRECT), str(bad))
    assert code == 2
    assert out == f"{DIRECT}: OK\n"
    assert err.startswith(f"{bad}:2:1: YAML: ")


def test_check_missing_directory_binary(tmp_path: Path) -> None:
    """Missing files, empty directories and binary files are one-line errors, exit 2."""
    (tmp_path / "empty").mkdir()
    binary = tmp_path / "b.sip"
    binary.write_bytes(b"\x00\xff\xfe")
    code, out, err = run("check", str(tmp_path / "missing.sip"), str(tmp_path / "empty"), str(binary))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{tmp_path / 'missing.sip'}: no such file",
        f"{tmp_path / 'empty'}: is a directory, not a scenario file",
        f"{binary}:1:2: not UTF-8 text (byte 0xff); save the scenario as UTF-8",
    ]


def test_check_param_override(tmp_path: Path) -> None:
    """--param is applied and checked against the param's type."""
    code, _, err = run("check", str(DIRECT), "--param", "loss=20%")
    assert code == 0 and err == ""
    code, _, err = run("check", str(DIRECT), "--param", "loss=20ms")
    assert code == 2
    assert err == f"{DIRECT}: --param loss=20ms: `loss` is a percentage (default 0%), not a duration\n"
    code, _, err = run("check", str(DIRECT), "--param", "los")
    assert code == 2 and "expected NAME=VALUE" in err


@pytest.mark.parametrize("command", [["check"], ["run"], ["ladder"], ["explain"], ["pcap", "-o", "x.pcapng"]])
def test_param_given_twice_is_refused(command: list[str], tmp_path: Path) -> None:
    """`--param loss=5% --param loss=20%` ran with 20 %, silently; sweep already refused a param given twice."""
    args = [a if a != "x.pcapng" else str(tmp_path / a) for a in command[1:]]
    code, out, err = run(command[0], str(DIRECT), *args, "--param", "loss=5%", "--param", "loss=20%")
    assert (code, out, err) == (2, "", "simsip: error: --param 'loss=20%': param loss is given twice\n")
    assert not (tmp_path / "x.pcapng").exists()


@pytest.mark.parametrize("command", [["check"], ["run"], ["sweep", "--runs", "1", "--executor", "serial"]])
@pytest.mark.parametrize(("param", "message"), [
    ("delay=-5ms", "--param delay=-5ms: `delay` cannot be negative"),
    ("loss=150%", "--param loss=150%: `loss` must be between 0% and 100%"),
])
def test_param_override_out_of_range_names_the_option(command: list[str], param: str, message: str) -> None:
    """An override out of range is the option's fault: one line naming it, not a caret under the file's default."""
    code, out, err = run(command[0], str(DIRECT), *command[1:], "--param", param)
    assert (code, out, err) == (2, "", f"{DIRECT}: {message}\n")


def test_convert_to_stdout_round_trips(tmp_path: Path) -> None:
    """convert --to yaml prints YAML that loads to the same model."""
    code, out, err = run("convert", str(DIRECT), "--to", "yaml")
    assert code == 0 and err == ""
    converted = tmp_path / "direct.yaml"
    converted.write_text(out)
    assert load(converted) == load(DIRECT)
    assert "  - link: alice <-> bob\n    delay: $delay\n" in out


def test_convert_writes_output_file(tmp_path: Path) -> None:
    """-o writes the file (and nothing on stdout)."""
    target = tmp_path / "direct.sip"
    code, out, _ = run("convert", str(ROOT / "scenarios" / "basic" / "direct_call.yaml"), "--to", "sip",
                       "-o", str(target))
    assert (code, out) == (0, "")
    assert load(target) == load(DIRECT)


def test_convert_bad_input_writes_nothing(tmp_path: Path) -> None:
    """A bad scenario: errors on stderr, exit 2, the -o file is neither created nor touched."""
    bad = tmp_path / "bad.sip"
    bad.write_text("ua\n")
    target = tmp_path / "out.yaml"
    code, out, err = run("convert", str(bad), "--to", "yaml", "-o", str(target))
    assert code == 2 and out == ""
    assert err.startswith(f"{bad}:1:3: unexpected end of line; expected a node name")
    assert not target.exists()
    target.write_text("keep me")
    run("convert", str(bad), "--to", "yaml", "-o", str(target))
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sip", "out.yaml"]


def test_convert_bad_options(tmp_path: Path) -> None:
    """Unknown surface or an unwritable -o are one-line errors."""
    code, _, err = run("convert", str(DIRECT), "--to", "json")
    assert code == 2 and err.startswith("simsip: error: ")
    code, _, err = run("convert", str(DIRECT), "--to", "sip", "-o", str(tmp_path / "no" / "x.sip"))
    assert code == 2 and "does not exist" in err


def test_check_glob_with_directories_and_readme(tmp_path: Path) -> None:
    """A globstar expansion (directories, README.md, files twice) checks each scenario once."""
    (tmp_path / "basic").mkdir()
    good = tmp_path / "basic" / "g.sip"
    good.write_text(GOOD)
    readme = tmp_path / "README.md"
    readme.write_text("# scenarios\n")
    code, out, err = run("check", str(readme), str(tmp_path / "basic"), str(good))
    assert (code, err) == (0, "")
    assert out == f"{readme}: skipped (not a scenario)\n{good}: OK\n"


def test_convert_unwritable_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-o where no file can be made (/proc, a read-only mount): one line, exit 2, nothing written."""
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    target = tmp_path / "x.yaml"
    code, out, err = run("convert", str(DIRECT), "--to", "yaml", "-o", str(target))
    assert (code, out, err) == (2, "", f"simsip: error: -o {target}: cannot write the yaml scenario: Permission denied\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("line", "message"), [
    ("    delay: true", "6:12: delay needs a duration such as 50ms or 2s, not `true`"),
    ("    delay: yes", "6:12: delay needs a duration such as 50ms or 2s, not `true`"),
    ("    loss: true", "6:11: loss needs a percentage such as 5%, not `true`"),
    # `false` was dropped as if the option were absent: no jitter, no error.
    ("    jitter: false", "6:13: jitter needs a duration such as 50ms or 2s, not `false`"),
])
def test_check_yaml_boolean_where_a_value_is_expected(tmp_path: Path, line: str, message: str) -> None:
    """A YAML boolean given to a non-flag option is reported at its line and column, exit 2."""
    bad = tmp_path / "bool.yaml"
    bad.write_text(f"nodes:\n  - ua: a\n  - ua: b\nlinks:\n  - link: a <-> b\n{line}\n")
    col = int(message.split(":")[1])
    assert run("check", str(bad)) == (2, "", f"{bad}:{message}\n    {line}\n    {' ' * (col - 1)}^\n")


def test_check_yaml_boolean_as_a_call_time(tmp_path: Path) -> None:
    """`at: false` on a call was read as no `at` (0 s); it is a bad duration at its place."""
    bad = tmp_path / "at.yaml"
    bad.write_text("nodes:\n  - ua: a\n  - ua: b\nlinks:\n  - link: a <-> b\nworkload:\n  - call: a -> b\n"
                   "    at: false\n")
    assert run("check", str(bad)) == (2, "", f"{bad}:8:9: at needs a duration such as 50ms or 2s, not `false`\n"
                                             "        at: false\n"
                                             "            ^\n")


def test_check_yaml_false_flag_is_off(tmp_path: Path) -> None:
    """A flag's `false` still turns it off, as leaving it out does."""
    good = tmp_path / "flags.yaml"
    good.write_text("nodes:\n  - ua: a\n    no-auto-prack: false\n  - ua: b\n    no-auto-prack: true\n")
    assert run("check", str(good)) == (0, f"{good}: OK\n", "")
    nodes = load(good).nodes
    assert [n.auto_prack for n in nodes] == [True, False]
