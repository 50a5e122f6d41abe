"""simsip: a SIP signalling simulator with RFC 3261 / RFC 3262 state machines on SimPy.

The Python API::

    import simsip
    scenario = simsip.load("scenarios/basic/direct_call.sip", params={"loss": "5%"})
    result = simsip.run(scenario, runs=100, seed=1)
    result.calls        # per-call records (dicts), DESIGN.md "Measures"
    result.summary      # statistics per measure, outcome shares, RFC 6076
    result.trace        # every TraceEvent when run with trace="full"
    result.expectations # [{"text", "held", "detail"}] for the scenario's `expect` lines
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

__version__ = "0.1.0"

if TYPE_CHECKING:
    from simsip.engine import Result
    from simsip.scenario.model import Scenario

__all__ = ["__version__", "compiled", "load", "run"]


def load(path_or_text: "str | Path", params: Mapping[str, str] | None = None) -> "Scenario":
    """Read a scenario (a ``.sip``/``.yaml`` file or the text itself), applying param overrides."""
    from simsip.engine import load as _load

    return _load(path_or_text, params)


def run(scenario: "Scenario | str | Path", runs: int = 1, seed: int = 0,
        params: Mapping[str, str] | None = None, trace: str = "off",
        until: float | None = None, first_run: int = 0,
        progress: "Callable[[int, int], None] | None" = None) -> "Result":
    """Run a scenario ``runs`` times from ``seed``; see :func:`simsip.engine.run`."""
    from simsip.engine import run as _run

    return _run(scenario, runs=runs, seed=seed, params=params, trace=trace, until=until,
                first_run=first_run, progress=progress)


def compiled() -> bool:
    """True when the hot path runs as mypyc-compiled code (``SIMSIP_MYPYC=1`` build, README "Performance")."""
    import simsip.engine

    return not simsip.engine.__file__.endswith(".py")


def _stale_compiled_modules(package: Path = Path(__file__).parent) -> list[str]:
    """The mypyc-compiled modules whose source changed after the build (setup.py writes the manifest)."""
    import hashlib
    import json

    manifest = package / "_mypyc_sources.json"
    if not manifest.exists():
        return []
    stale = []
    for module, digest in json.loads(manifest.read_text()).items():
        source = package.parent / module
        compiled = list(source.parent.glob(source.stem + ".*.so")) + list(source.parent.glob(source.stem + ".*.pyd"))
        if compiled and source.exists() and hashlib.sha256(source.read_bytes()).hexdigest() != digest:
            stale.append(module)
    return stale


class _SourceFinder:
    """Imports the named modules from their ``.py`` sources, ahead of their compiled extensions."""

    def __init__(self, sources: dict[str, Path]) -> None:
        """``sources`` maps dotted module names to their source files."""
        self.sources = sources

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> Any:
        """The source module's spec for a named module, else None (the usual finders go on)."""
        import importlib.util

        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


def _run_edited_sources_as_python(package: Path = Path(__file__).parent) -> _SourceFinder | None:
    """After an edit to a compiled module, run every compiled module from source (with a warning), never stale code.

    All of them: compiled and interpreted halves of one group do not mix (a compiled class
    cannot have interpreted subclasses).
    """
    import json
    import sys
    import warnings

    stale = _stale_compiled_modules(package)
    if not stale:
        return None
    modules = json.loads((package / "_mypyc_sources.json").read_text())
    finder = _SourceFinder({module[:-3].replace("/", "."): package.parent / module for module in modules})
    sys.meta_path.insert(0, finder)  # type: ignore[arg-type]
    warnings.warn(f"simsip: {', '.join(stale)} changed after the mypyc build, so the hot path runs as "
                  f"pure Python; rebuild with 'SIMSIP_MYPYC=1 pip install -e .'", RuntimeWarning, stacklevel=2)
    return finder


_run_edited_sources_as_python()

from simsip.experiment import sweep  # noqa: E402,F401  (issue 7: simsip.sweep for notebooks)
