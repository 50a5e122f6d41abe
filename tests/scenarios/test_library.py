"""Every shipped scenario checks, runs, and keeps its `expect` lines (issue 6 item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

import simsip
from tests.scenarios.helpers import SCENARIOS, lossy_settings, quick_params, scenario_files

FILES = scenario_files()

# Scenarios the engine cannot run yet: each fails until the feature lands, and
# then the strict xfail tells us to drop it from this list.
NOT_YET = {
}


def _id(path: Path) -> str:
    """Test id: the path under scenarios/."""
    return str(path.relative_to(SCENARIOS))


def _failed(result: simsip.engine.Result) -> str:
    """The expectations that did not hold, one per line."""
    return "\n".join(f"{e['text']}: {e['detail']}" for e in result.expectations if not e["held"])


def test_library_is_not_empty() -> None:
    """The glob finds the scenario library."""
    assert len(FILES) >= 2


def _params(paths: list[Path]) -> list:
    """Paths as pytest params, the NOT_YET ones marked strict xfail with their reason."""
    return [pytest.param(p, id=_id(p), marks=[pytest.mark.xfail(strict=True, reason=NOT_YET[_id(p)])]
                         if _id(p) in NOT_YET else []) for p in paths]


def test_every_scenario_checks() -> None:
    """`simsip check` accepts every shipped scenario (exit status 0), the unsupported ones too."""
    from click.testing import CliRunner

    from simsip.cli import main

    result = CliRunner().invoke(main, ["check", *map(str, FILES)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", _params(FILES))
def test_scenario_holds_without_loss(path: Path) -> None:
    """Each scenario loads, runs once with its defaults (or its `# quick:` params), and its expectations hold."""
    scenario = simsip.load(path, quick_params(path) or None)
    assert scenario.expectations, f"{path} has no `expect` line"
    result = simsip.run(scenario, runs=1, seed=0)
    assert result.ok, _failed(result)


LOSSY = [(path, params, runs) for path in FILES for params, runs in lossy_settings(path)]


@pytest.mark.parametrize("path,params,runs", LOSSY,
                         ids=[f"{_id(p)}-{','.join(f'{k}={v}' for k, v in q.items())}" for p, q, _ in LOSSY])
def test_scenario_holds_with_lossy_params(path: Path, params: dict[str, str], runs: int) -> None:
    """Scenarios marked `# lossy:` keep their expectations under those params over several runs."""
    result = simsip.run(simsip.load(path, params), runs=runs, seed=0)
    assert result.ok, _failed(result)
