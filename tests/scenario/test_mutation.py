"""Mutated scenarios load or fail with ScenarioError, never with anything else.

Hypothesis deletes, duplicates and swaps lines, inserts tokens and random
bytes, truncates; plus empty, non-UTF-8, huge inputs and odd paths. Every
failure must be the project's own error with ``file:line:col`` messages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simsip.scenario import ScenarioError, load, load_text
from simsip.scenario.loader import MAX_BYTES

from tests.scenario.sources import SOURCES

TEXTS = [(p.suffix.lstrip("."), p.read_text(encoding="utf-8")) for p in SOURCES]
TOKENS = [
    "ua", "proxy", "link", "on", "send", "wait", "call", "calls", "expect", "at", "drop", "->", "<->", ":",
    "$", "$delay", "$nope", "180", "-5ms", "0", "1e9", "999999999999999999999s", "10%", "200%", "20/s",
    "uniform(", ")", "(", "[", "]", ",", "\"", '"""', "#", "\t", "    ", "\n", "\\\n", "reliable", "INVITE",
    "2xx", "x", "-", ": :", "- ", "{", "}", "&a", "*a", "!!python/object:os.system", "%YAML 1.1", "---",
    "gilbert(p=1%, r=0%)", "lognormal(0s, 0s)", "sip:", "sip:@", "é", "\x00", "\ufeff",
]
MESSAGE = re.compile(r"^[^\n]+?(:\d+:\d+)?: \S")

mutation_settings = settings(max_examples=120, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _must_load_or_fail_cleanly(text: str, surface: str) -> None:
    """load_text gives a Scenario or a ScenarioError with well-formed messages."""
    try:
        load_text(text, f"m.{surface}", surface)
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError lists at least one problem"
        for message in exc.messages:
            assert MESSAGE.match(message), message
        assert str(exc)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """A shipped or golden scenario with a few random edits."""
    surface, text = draw(st.sampled_from(TEXTS))
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "bytes", "truncate", "replace"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "token" and lines:
            line = lines[i]
            pos = draw(st.integers(0, len(line)))
            lines[i] = line[:pos] + draw(st.sampled_from(TOKENS)) + line[pos:]
        elif op == "bytes" and lines:
            line = lines[i]
            pos = draw(st.integers(0, len(line)))
            junk = draw(st.binary(min_size=1, max_size=8)).decode("latin-1")
            lines[i] = line[:pos] + junk + line[pos:]
        elif op == "replace" and lines:
            lines[i] = draw(st.text(max_size=30))
        elif op == "truncate":
            joined = "\n".join(lines)
            lines = joined[: draw(st.integers(0, len(joined)))].split("\n")
    return surface, "\n".join(lines)


@mutation_settings
@given(mutated())
def test_mutated_scenarios_load_or_raise_scenario_error(case: tuple[str, str]) -> None:
    """Any mutation loads or raises ScenarioError (no other exception)."""
    surface, text = case
    _must_load_or_fail_cleanly(text, surface)


@mutation_settings
@given(st.sampled_from(TEXTS), st.data())
def test_mutated_text_in_the_other_surface(case: tuple[str, str], data: st.DataObject) -> None:
    """A file read as the wrong surface fails cleanly too."""
    surface, text = case
    cut = data.draw(st.integers(0, len(text)))
    _must_load_or_fail_cleanly(text[:cut], "yaml" if surface == "sip" else "sip")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_from_a_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """Random bytes in a .sip or .yaml file: a scenario or a ScenarioError."""
    folder = tmp_path_factory.mktemp("bytes")
    for suffix in (".sip", ".yaml"):
        path = folder / f"junk{suffix}"
        path.write_bytes(data)
        try:
            load(path)
        except ScenarioError as exc:
            assert exc.messages


@pytest.mark.parametrize("surface", ["sip", "yaml"])
def test_empty_input(surface: str) -> None:
    """An empty file is an error, with a position."""
    with pytest.raises(ScenarioError) as info:
        load_text("", f"e.{surface}", surface)
    assert info.value.messages[0].startswith(f"e.{surface}:1:1: ")


def test_non_utf8_file_points_at_the_byte(tmp_path: Path) -> None:
    """Latin-1 text is refused with the line and column of the first bad byte."""
    path = tmp_path / "latin.sip"
    path.write_bytes(b'scenario "x"\nua caf\xe9\n')
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert info.value.messages == [f"{path}:2:7: not UTF-8 text (byte 0xe9); save the scenario as UTF-8"]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A missing path and a directory are errors, not tracebacks."""
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "nope.sip")
    assert info.value.messages == [f"{tmp_path / 'nope.sip'}: no such file"]
    with pytest.raises(ScenarioError) as info:
        load(tmp_path)
    assert info.value.messages == [f"{tmp_path}: is a directory, not a scenario file"]


def test_huge_file_is_refused_quickly(tmp_path: Path) -> None:
    """A file above the size limit is refused before parsing."""
    path = tmp_path / "huge.sip"
    path.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert "a scenario may be at most" in info.value.messages[0]


def test_many_broken_lines_report_a_bounded_number_of_errors() -> None:
    """A long file of junk reports its first syntax errors, not thousands."""
    with pytest.raises(ScenarioError) as info:
        load_text("ua\n" * 5000, "j.sip", "sip")
    assert 1 <= len(info.value.problems) <= 20


def test_long_line_is_shown_as_a_window() -> None:
    """A 100 kB line is quoted around the error, not whole."""
    with pytest.raises(ScenarioError) as info:
        load_text('scenario "' + "a" * 100_000 + '" x\n', "l.sip", "sip")
    assert max(len(line) for line in str(info.value).split("\n")) < 400


def test_deeply_nested_yaml() -> None:
    """Deep YAML nesting fails cleanly."""
    _must_load_or_fail_cleanly("nodes: " + "[" * 5000 + "]" * 5000 + "\n", "yaml")
    _must_load_or_fail_cleanly("x: &a [*a]\n", "yaml")
