"""Finished runs leave no reference cycles behind (issue 9: the cyclic collector took a fifth of a sweep)."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pytest

import simsip
from simsip import engine
from simsip.metrics import NodeCounters
from simsip.scenario import model as m
from simsip.scenario.model import Scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _cyclic_garbage(scenario: Scenario, runs: int, trace: str) -> int:
    """Objects only the cyclic collector can free after ``runs`` runs of ``scenario``."""
    gc.collect()
    gc.disable()
    try:
        simsip.run(scenario, runs=runs, seed=5, trace=trace)
        return gc.collect()
    finally:
        gc.enable()


@pytest.mark.parametrize("trace", ["off", "full"])
@pytest.mark.parametrize("path", [
    "basic/direct_call.sip",              # two UAs
    "basic/proxy_call.sip",               # a stateful proxy between them
    "networks/call_centre.sip",           # call streams (arrivals point back at the run)
    "rfc3262/forking_reliable.sip",       # forking proxy, reliable provisionals
    "rfc3665/s3_5_alg.sip",               # a B2BUA
    "rfc3665/s2_1_new_registration.sip",  # registrar and location service
])
def test_runs_leave_no_cyclic_garbage(path: str, trace: str) -> None:
    """Eight runs leave exactly what two leave: the scenario's own compiled parts, nothing per run."""
    scenario = simsip.load(SCENARIOS / path)
    _cyclic_garbage(scenario, 1, trace)  # first use fills module-level memos
    assert _cyclic_garbage(scenario, 8, trace) == _cyclic_garbage(scenario, 2, trace)


def test_runs_space_young_collections_and_restore_the_thresholds() -> None:
    """While runs execute the young generation is collected every 100,000 allocations; the caller's thresholds come back."""
    compiled = engine._Compiled(simsip.load(SCENARIOS / "basic/direct_call.sip"))
    before = gc.get_threshold()
    gc.set_threshold(500, 7, 9)
    try:
        # _runs hands each run over as soon as it has executed, under the thresholds it ran with.
        seen = [gc.get_threshold()
                for _ in engine._runs(compiled, 0, 0, 3, "off", None, NodeCounters())]
        assert seen == [(engine.YOUNG_COLLECTION_THRESHOLD, 7, 9)] * 3
        assert gc.get_threshold() == (500, 7, 9)
    finally:
        gc.set_threshold(*before)


def test_thresholds_come_back_when_a_run_fails() -> None:
    """A run that raises still leaves the caller's collector thresholds as they were."""
    # The engine places no standalone INFO (the builder refuses one, so the model is made by hand):
    # the first run raises as it schedules its workload.
    scenario = simsip.load(SCENARIOS / "basic/direct_call.sip")
    scenario = dataclasses.replace(scenario, requests=(m.StandaloneRequest("INFO", "alice", "bob"),))
    before = gc.get_threshold()
    with pytest.raises(ValueError, match="standalone INFO"):
        simsip.run(scenario, runs=2)
    assert gc.get_threshold() == before
