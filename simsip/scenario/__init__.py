"""Scenarios: the typed model (IR), its `.sip` and YAML surfaces, validation.

``load(path_or_text, params=None) -> Scenario`` reads either surface and
raises :class:`ScenarioError` listing every problem as ``file:line:col: message``.
"""

from __future__ import annotations

from simsip.scenario.errors import Problem, ScenarioError
from simsip.scenario.loader import load, load_text
from simsip.scenario.model import Scenario

__all__ = ["Problem", "Scenario", "ScenarioError", "load", "load_text"]
