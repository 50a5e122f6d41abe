"""A stand-in for the engine in experiment tests: a tiny seeded model of one call.

Each run draws from ``random.Random`` seeded with (seed, run) only, as the engine
does per source, so run r sees the same draws at every point (common random
numbers). The model: a reliable 180 crosses a link with loss p and is
retransmitted on the RFC 3262 schedule until a PRACK gets back through the same
link; the INVITE is answered 2 s after it arrives.
"""

from __future__ import annotations

import random
from typing import Any

T1 = 0.5


def prepare(scenario: Any, point: dict[str, str]) -> dict[str, float]:
    """Turn ``loss=5%`` / ``delay=20ms`` into numbers, as loading a scenario would."""
    loss = float(point.get("loss", "0%").rstrip("%")) / 100.0
    delay_text = point.get("delay", "20ms")
    delay = float(delay_text.removesuffix("ms")) / 1000.0
    return {"loss": loss, "delay": delay, "scenario": scenario}


def run_chunk(payload: dict[str, Any], seed: int, start: int, stop: int) -> list[dict[str, Any]]:
    """Call records for runs [start, stop), each a pure function of (payload, seed, run)."""
    records = []
    for run in range(start, stop):
        rng = random.Random(f"{seed}/{run}")
        loss, delay = payload["loss"], payload["delay"]
        sends, at, interval = 0, 0.0, T1
        while True:
            sends += 1
            if rng.random() >= loss and rng.random() >= loss:
                break
            at += interval
            interval *= 2
        records.append(
            {
                "run": run,
                "call_id": f"call-{run}@alice",
                "outcome": "answered",
                "final_code": 200,
                "final_ms": round((2.0 + 2 * delay) * 1000.0, 3),
                "pdd_ms": round((at + 2 * delay) * 1000.0, 3),
                "reliable_1xx_retransmissions": sends - 1,
                "prack_retransmissions": 0,
            }
        )
    return records


def failing_run_chunk(payload: dict[str, Any], seed: int, start: int, stop: int) -> list[dict[str, Any]]:
    """Fails on run 3, like an engine bug would."""
    if start <= 3 < stop:
        raise RuntimeError("run 3 failed")
    return run_chunk(payload, seed, start, stop)


def incomplete_at_high_loss(payload: dict[str, Any], seed: int, start: int, stop: int) -> list[dict[str, Any]]:
    """Like run_chunk, but calls that needed 3+ retransmissions end 'incomplete'."""
    records = run_chunk(payload, seed, start, stop)
    for record in records:
        if record["reliable_1xx_retransmissions"] >= 3:
            record.update(outcome="incomplete", final_code=None, final_ms=None)
    return records
