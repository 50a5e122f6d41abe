"""The optional mypyc build: which build runs, and stale compiled code is refused (setup.py, README "Performance")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import simsip
import simsip.engine
from simsip import _refuse_stale_compiled_modules


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
    assert simsip.compiled() is (not simsip.engine.__file__.endswith(".py"))


def test_unchanged_sources_import(tmp_path: Path) -> None:
    _refuse_stale_compiled_modules(_built_package(tmp_path, "T1 = 0.5\n", "T1 = 0.5\n"))


def test_source_edited_after_the_build_is_refused(tmp_path: Path) -> None:
    package = _built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n")
    with pytest.raises(ImportError, match=r"simsip/sip/timers\.py changed after it was compiled with mypyc; "
                                          r"rebuild with 'SIMSIP_MYPYC=1 pip install -e \.'"):
        _refuse_stale_compiled_modules(package)


def test_edited_source_without_its_extension_runs_as_python(tmp_path: Path) -> None:
    """Deleting the .so files is the documented way back to pure Python."""
    _refuse_stale_compiled_modules(_built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n", with_extension=False))


def test_no_manifest_no_check(tmp_path: Path) -> None:
    package = _built_package(tmp_path, "T1 = 0.25\n", "T1 = 0.5\n")
    (package / "_mypyc_sources.json").unlink()
    _refuse_stale_compiled_modules(package)
