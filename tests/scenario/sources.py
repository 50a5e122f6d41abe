"""The scenario files the language tests read: every shipped scenario and every golden file."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    p for p in [*(ROOT / "scenarios").rglob("*"), *(Path(__file__).parent / "golden").glob("*")]
    if p.suffix in (".sip", ".yaml", ".yml")
)
