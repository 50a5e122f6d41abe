"""``load(path_or_text, params=None)``: read either surface, build and validate the model.

Whatever the input (a path, a `.sip` or YAML text, a missing file, a
directory, binary junk, an empty or huge file) the outcome is a
:class:`~simsip.scenario.model.Scenario` or a :class:`ScenarioError`; nothing
else escapes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from simsip.scenario.build import build
from simsip.scenario.errors import Problem, ScenarioError
from simsip.scenario.model import Scenario, Span
from simsip.scenario.sip_surface import parse_sip
from simsip.scenario.yaml_surface import parse_yaml

MAX_BYTES = 8 * 1024 * 1024
"""Larger inputs are refused: a scenario is a few hundred lines, not megabytes."""
YAML_SUFFIXES = (".yaml", ".yml")
_YAML_START = re.compile(r"^(---|%YAML|\{|[A-Za-z_][\w-]*\s*:(\s|$))")


def detect_surface(text: str) -> str:
    """``"yaml"`` or ``"sip"`` for a text without a file name, from its first real line."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return "yaml" if _YAML_START.match(stripped) else "sip"
    return "sip"


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a scenario file, or a ScenarioError saying why it cannot be read."""
    name = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise _unreadable(name, "is a directory, not a scenario file")
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise _unreadable(name, f"is {size // (1024 * 1024)} MB; a scenario may be at most "
                                    f"{MAX_BYTES // (1024 * 1024)} MB")
        data = p.read_bytes()
    except FileNotFoundError:
        raise _unreadable(name, "no such file") from None
    except PermissionError:
        raise _unreadable(name, "permission denied") from None
    except OSError as exc:
        raise _unreadable(name, f"cannot read: {exc.strerror or exc}") from None
    return decode(data, name)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a BOM is dropped), or a ScenarioError pointing at the first bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ScenarioError([Problem(Span(name, line, col),
                                     f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the scenario as UTF-8")])


def _unreadable(name: str, why: str) -> ScenarioError:
    """A ScenarioError for a file that cannot be read at all."""
    return ScenarioError([Problem(Span(name, 0, 0), why)])


def _looks_like_path(value: str) -> bool:
    """True if a string names a file rather than holding scenario text."""
    return "\n" not in value and len(value) < 4096 and (
        value.endswith((".sip", *YAML_SUFFIXES)) or os.path.exists(value)
    )


def load(path_or_text: str | os.PathLike[str], params: Mapping[str, Any] | None = None) -> Scenario:
    """Load a scenario from a path or from `.sip` / YAML text, applying ``params`` overrides.

    Overrides are strings parsed by the param's declared type (``"20%"``,
    ``"300ms"``); Python numbers are taken in model units (seconds, fractions).
    Raises :class:`ScenarioError` listing every problem.
    """
    if isinstance(path_or_text, os.PathLike) or (isinstance(path_or_text, str) and _looks_like_path(path_or_text)):
        file = str(path_or_text)
        text = read_source(path_or_text)
        surface = "yaml" if file.lower().endswith(YAML_SUFFIXES) else (
            "sip" if file.lower().endswith(".sip") else detect_surface(text))
    elif isinstance(path_or_text, str):
        file = "<text>"
        text = path_or_text
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            raise _unreadable(file, f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
        surface = detect_surface(text)
    else:
        raise ScenarioError([Problem(Span("<input>", 0, 0),
                                     f"cannot load a scenario from a {type(path_or_text).__name__}")])
    return load_text(text, file, surface, params)


def load_text(text: str, file: str, surface: str, params: Mapping[str, Any] | None = None) -> Scenario:
    """Load scenario ``text`` of the given surface (``"sip"`` or ``"yaml"``), naming ``file`` in errors."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    try:
        if surface == "yaml":
            stmts, problems = parse_yaml(text, file)
        else:
            stmts, problems = parse_sip(text, file)
        if problems:
            raise ScenarioError(problems)
        if not stmts:
            raise ScenarioError([Problem(Span(file, 1, 1), "empty scenario: nothing to simulate (start with "
                                                         "`scenario \"name\"`, nodes and links)",
                                         lines[0] if lines else None)])
        scenario, problems = build(stmts, file, lines, params)
    except RecursionError:
        raise ScenarioError([Problem(Span(file, 1, 1), "nested too deeply to read")]) from None
    if problems or scenario is None:
        raise ScenarioError(problems or [Problem(Span(file, 1, 1), "scenario could not be built")])
    return scenario
