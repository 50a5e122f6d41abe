"""Helpers for the scenario-library tests: find scenarios, read their lossy params, read flows."""

from __future__ import annotations

import re
from pathlib import Path

from simsip.metrics.trace import TraceEvent

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

# A scenario that should also hold under loss says so in a comment line:
# `# lossy: loss=10% runs=30` (params to override, and how many runs).
_LOSSY = re.compile(r"^#\s*lossy:\s*(.+)$", re.MULTILINE)


def scenario_files() -> list[Path]:
    """Every shipped scenario (``.sip`` and YAML), sorted."""
    return sorted(p for p in SCENARIOS.rglob("*") if p.suffix in (".sip", ".yaml", ".yml"))


def lossy_settings(path: Path) -> list[tuple[dict[str, str], int]]:
    """The ``# lossy:`` lines of a scenario: (param overrides, runs) per line."""
    settings = []
    for match in _LOSSY.finditer(path.read_text()):
        params: dict[str, str] = {}
        runs = 20
        for word in match.group(1).split():
            key, _, value = word.partition("=")
            if key == "runs":
                runs = int(value)
            else:
                params[key] = value
        settings.append((params, runs))
    return settings


def quick_params(path: Path) -> dict[str, str]:
    """Param overrides from a ``# quick: calls=100`` line: how the suite runs a big scenario fast."""
    match = re.search(r"^#\s*quick:\s*(.+)$", path.read_text(), re.MULTILINE)
    if match is None:
        return {}
    return dict(word.partition("=")[::2] for word in match.group(1).split())


def label_code(label: str) -> str:
    """``"180 Ringing"`` -> ``"180"``; ``"INVITE"`` -> ``"INVITE"``."""
    return label.split(" ", 1)[0]


def sends(trace: list[TraceEvent], run: int = 0) -> list[TraceEvent]:
    """The send events of one run, in time order (the engine emits them in order)."""
    return [e for e in trace if e.event == "send" and e.run == run]


def flow(trace: list[TraceEvent], run: int = 0) -> list[str]:
    """Every transmission of one run as ``src->dst WHAT`` (WHAT: method or status code)."""
    return [f"{e.src}->{e.dst} {label_code(e.message or '')}" for e in sends(trace, run)]


def send_times(trace: list[TraceEvent], src: str, what: str, run: int = 0) -> list[float]:
    """Times (s, rounded to the µs) at which ``src`` transmitted messages labelled ``what``."""
    return [round(e.t, 6) for e in sends(trace, run)
            if e.src == src and label_code(e.message or "") == what]


def format_table(expected: list[tuple[str, str]], got: list[str]) -> str:
    """Expected F-numbered rows beside what the trace shows, for failure messages."""
    lines = []
    for i in range(max(len(expected), len(got))):
        want = f"{expected[i][0]:>4} {expected[i][1]}" if i < len(expected) else ""
        have = got[i] if i < len(got) else "-"
        mark = "  " if i < len(expected) and i < len(got) and expected[i][1] == got[i] else "!!"
        lines.append(f"{mark} {want:<40} | {have}")
    return "\n".join(lines)


def rows(text: str) -> list[tuple[str, str]]:
    """``"F1 alice->bob INVITE; F2 ..."`` -> [("F1", "alice->bob INVITE"), ...]."""
    out = []
    for item in text.split(";"):
        label, _, what = item.strip().partition(" ")
        out.append((label, what.strip()))
    return out


def align(trace: list, expected: list[tuple[str, str]], after: float = 0.0) -> list[str]:
    """The trace's transmissions from ``after`` on, sends at the same instant put in the RFC's order."""
    events = [e for e in sends(trace) if e.t >= after - 1e-9]
    wanted = [what for _, what in expected]
    used: set[int] = set()

    def rank(text: str) -> int:
        for i, what in enumerate(wanted):
            if what == text and i not in used:
                used.add(i)
                return i
        return len(wanted)

    keyed = []
    for e in events:
        text = f"{e.src}->{e.dst} {label_code(e.message or '')}"
        keyed.append((round(e.t, 9), rank(text), text))
    return [text for _, _, text in sorted(keyed)]


def check_flow(expected: list[tuple[str, str]], got: list[str]) -> None:
    """The trace equals the RFC's table; print both when not."""
    assert got == [what for _, what in expected], "\n" + format_table(expected, got)
