"""Behaviour fingerprint of every shipped scenario, for changes that must not change behaviour.

``python -m benchmarks.fingerprint [CHECKOUT] > after.txt`` and ``diff before.txt after.txt``:
an empty diff means the same events, times, random draws, messages (rendered to wire text),
call tables, summaries, counters, link counts and expectation results. Performance work on the
hot path is checked this way (``CHECKOUT`` defaults to this one; give another to fingerprint a
second checkout or worktree with this script).

Each scenario is run at its default params and, where it has a ``loss`` param, at 20 % loss:
4 runs with the full trace and 30 runs with tracing off, seed 11. One line per
(scenario, params, trace level) with a SHA-256 prefix, or the error a run raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def digest(value: Any) -> str:
    """A short SHA-256 of ``value`` as canonical JSON."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def result_parts(result: Any, full: bool) -> dict[str, Any]:
    """What a run's result shows, as plain data (with every trace event and its message when ``full``)."""
    parts: dict[str, Any] = {
        "calls": [dict(record) for record in result.calls],
        "summary": result.summary,
        "counters": result.counters.to_dict(),
        "links": result.links,
        "expect": result.expectations,
    }
    if full:
        events = []
        for event in result.trace:
            entry = event.to_dict()
            entry["wire"] = bytes(event.msg).decode("utf-8", "replace") if event.msg is not None else None
            events.append(entry)
        parts["trace"] = events
    return parts


def fingerprint(checkout: Path) -> list[str]:
    """One line per shipped scenario, params variant and trace level of ``checkout``."""
    import simsip

    lines = []
    files = sorted([*checkout.glob("scenarios/**/*.sip"), *checkout.glob("scenarios/**/*.yaml")])
    for path in files:
        name = path.relative_to(checkout).as_posix()
        base = simsip.load(path)
        variants: list[tuple[str, dict[str, str] | None]] = [("default", None)]
        if any(p.name == "loss" for p in base.params):
            variants.append(("loss20", {"loss": "20%"}))
        for label, params in variants:
            scenario = simsip.load(path, params) if params else base
            for trace, runs in (("full", 4), ("off", 30)):
                try:
                    result = simsip.run(scenario, runs=runs, seed=11, trace=trace)
                    line = digest(result_parts(result, trace == "full"))
                except Exception as exc:  # a failing run is part of the behaviour too
                    line = f"ERROR {type(exc).__name__}: {exc}"
                lines.append(f"{name} {label} {trace} {line}")
    return lines


def main(argv: list[str]) -> int:
    """Print the fingerprint of the checkout named in ``argv`` (default: this one)."""
    checkout = Path(argv[0]).resolve() if argv else ROOT
    # The checkout's own simsip, not whichever one is installed.
    sys.path.insert(0, str(checkout))
    os.chdir(checkout)
    warnings.simplefilter("ignore")
    for line in fingerprint(checkout):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
