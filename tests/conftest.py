"""Shared test fixtures: where the conformance material lives."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared/conformance sits beside every checkout and in CI (DEVELOPERS.md).
CONFORMANCE = ROOT.parent / "shared" / "conformance"
RFC4475 = CONFORMANCE / "rfc4475"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The shared conformance folder (RFC 4475 messages, timer/PRACK notes)."""
    assert CONFORMANCE.is_dir(), f"conformance material missing at {CONFORMANCE}"
    return CONFORMANCE
