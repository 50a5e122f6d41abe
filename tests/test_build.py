"""The optional mypyc build: which build runs, and stale compiled code never runs (setup.py, README "Performance")."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import pytest

import simsip
import simsip.engine
from simsip import _run_edited_sources_as_python, _stale_compiled_modules
from simsip.metrics.summary import summarize
from simsip.sip.transaction import has_magic_cookie


def _built_package(root: Path, source_text: str, built_from: str, with_extension: bool = True) -> Path:
    """A package dir as setup.py leaves it: one compiled module, its source, the manifest of hashes."""
    package = root / "simsip"
    (package / "sip").mkdir(parents=True)
    (package / "sip" / "timers.py").write_text(source_text)
    if with_extension:
        (package / "sip" / "timers.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    digest = hashlib.sha256(built_from.encode()).hexdigest()
    (package / "_mypyc_sources.json").write_text(json.dumps({"simsip/sip/timers.py": digest}))
    return package


def test_compiled_says_which_build_runs() -> None:
    """Compiled, the hot path's functions are C functions, not Python function objects."""
    python_functions = [isinstance(f, types.FunctionType) for f in (simsip.engine.stream, has_magic_cookie, summarize)]
    assert python_functions[2]  # metrics/summary.py is never compiled: the control
    assert simsip.compiled() is not python_functions[0]
    assert python_functions[0] == python_functions[1]


def test_unchanged_sources_are_not_stale(tmp_path: Path) -> None:
    assert _stale_compiled_modules(_built_package(tmp_path, "T1 = 0.5\n", "T1 = 0.5\n")) == []


def test_source_edited_after_the_build_is_stale(tmp_path: Path) -> None:
    package = _built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n")
    assert _stale_compiled_modules(package) == ["simsip/sip/timers.py"]


def test_edited_source_without_its_extension_is_not_stale(tmp_path: Path) -> None:
    """Deleting the .so files is a way back to pure Python."""
    package = _built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n", with_extension=False)
    assert _stale_compiled_modules(package) == []


def test_no_manifest_no_check(tmp_path: Path) -> None:
    package = _built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n")
    (package / "_mypyc_sources.json").unlink()
    assert _stale_compiled_modules(package) == []


def test_after_an_edit_every_compiled_module_runs_from_source(tmp_path: Path) -> None:
    """One stale module sends the whole compiled group back to its sources, with a warning."""
    package = _built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n")
    with pytest.warns(RuntimeWarning, match=r"simsip/sip/timers\.py changed after the mypyc build, so the "
                                             r"hot path runs as pure Python; rebuild with 'SIMSIP_MYPYC=1"):
        finder = _run_edited_sources_as_python(package)
    assert finder is not None
    try:
        assert finder.sources == {"simsip.sip.timers": package / "sip" / "timers.py"}
        spec = finder.find_spec("simsip.sip.timers")
        assert spec.origin == str(package / "sip" / "timers.py")
        assert finder.find_spec("simsip.sip.ua") is None
    finally:
        sys.meta_path.remove(finder)


def test_nothing_stale_leaves_the_import_system_alone(tmp_path: Path) -> None:
    before = list(sys.meta_path)
    assert _run_edited_sources_as_python(_built_package(tmp_path, "T1 = 0.5\n", "T1 = 0.5\n")) is None
    assert sys.meta_path == before
