"""Golden files: each construct's source in both surfaces, the expected model as JSON.

``golden/NAME.sip`` and ``golden/NAME.yaml`` must both load to the model in
``golden/NAME.json`` (spans left out). Regenerate after a deliberate model
change with ``SIMSIP_UPDATE_GOLDEN=1 pytest tests/scenario/test_golden.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from simsip.scenario import load
from simsip.scenario.model import to_json

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.sip"))


def _expected(name: str) -> object:
    """The golden JSON (written from the .sip when updating)."""
    path = GOLDEN / f"{name}.json"
    if os.environ.get("SIMSIP_UPDATE_GOLDEN"):
        path.write_text(json.dumps(to_json(load(GOLDEN / f"{name}.sip")), indent=2) + "\n", encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_case_has_both_surfaces_and_a_model() -> None:
    """Each golden case exists as .sip, .yaml and .json."""
    assert len(CASES) >= 7
    for name in CASES:
        assert (GOLDEN / f"{name}.yaml").is_file(), name
        assert (GOLDEN / f"{name}.json").is_file(), name


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("surface", ["sip", "yaml"])
def test_golden_model(name: str, surface: str) -> None:
    """The source in each surface loads to exactly the golden model."""
    got = to_json(load(GOLDEN / f"{name}.{surface}"))
    assert got == _expected(name)
