"""Long single runs with tracing off: finished calls are folded for good as the run goes (issue 9 item 3)."""

from __future__ import annotations

import pytest

import simsip
from simsip import engine

DIRECT = """
scenario "direct stream"
ua alice
ua bob
link alice <-> bob delay 50ms jitter 30ms loss 20%
on bob INVITE:
    send 180
    wait exponential(300ms)
    send 200
on alice 200:
    wait exponential(1s)
    hangup
calls alice -> bob poisson 5/s count 300
"""

FORKING = """
scenario "forking stream"
ua    alice supports 100rel outbound proxy
proxy proxy stateful record-route forking parallel domain biloxi.example.com
ua    bob   supports 100rel domain biloxi.example.com
ua    bob2  supports 100rel domain biloxi.example.com
location sip:bob@biloxi.example.com -> bob, bob2
link alice <-> proxy delay 20ms loss 15%
link proxy <-> bob   delay 20ms loss 15%
link proxy <-> bob2  delay 20ms loss 15%
on bob INVITE:
    send 180 reliable
    wait 1s
    send 200
on bob2 INVITE:
    send 180 reliable
on alice 200:
    wait 1s
    hangup
calls alice -> sip:bob@biloxi.example.com every 400ms count 120 require 100rel
"""

B2BUA = """
scenario "b2bua stream"
ua    alice  host pc33.atlanta.example.com domain atlanta.example.com outbound alg
b2bua alg    host alg1.atlanta.example.com outbound proxy2
proxy proxy2 stateful host ss2.biloxi.example.com domain biloxi.example.com
ua    bob    host client.biloxi.example.com domain biloxi.example.com
location sip:bob@biloxi.example.com -> bob
link alice  <-> alg    delay 20ms loss 10%
link alg    <-> proxy2 delay 20ms loss 10%
link proxy2 <-> bob    delay 20ms loss 10%
link alg    <-> bob    delay 20ms loss 10%
on bob INVITE:
    send 180
    wait 1s
    send 200
on alice 200:
    wait 2s
    hangup
calls alice -> bob every 400ms count 100
"""

TCP = """
scenario "tcp stream"
transport tcp
ua alice
ua bob
link alice <-> bob delay 40ms loss 20%
on bob INVITE:
    send 200
on alice 200:
    wait 500ms
    hangup
calls alice -> bob every 250ms count 200
"""


def _rows(result: simsip.Result) -> list[dict]:
    """Every call record (NaN-free: missing values are None)."""
    return list(result.calls)


@pytest.mark.parametrize("text", [DIRECT, FORKING, B2BUA, TCP], ids=["direct", "forking", "b2bua", "tcp"])
def test_retiring_finished_calls_changes_no_record(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding finished calls early (every 4 arrivals) gives the very records of folding at the end."""
    scenario = simsip.load(text)
    monkeypatch.setattr(engine, "RETIRE_EVERY", 10**9)  # never reached: nothing is retired
    kept = engine.run(scenario, seed=3)
    monkeypatch.undo()
    monkeypatch.setattr(engine, "RETIRE_EVERY", 4)
    retired = engine.run(scenario, seed=3)
    assert _rows(retired) == _rows(kept)
    assert retired.summary == kept.summary
    assert retired.counters.to_dict() == kept.counters.to_dict()
    assert len(retired.calls) == len(kept.calls) > 0


def test_finished_calls_do_not_pile_up_in_the_folder() -> None:
    """With tracing off the folder and the UA cores hold only the calls still going on, not every call so far."""
    scenario = simsip.load(DIRECT.replace("poisson 5/s count 300", "every 50ms count 1500"))
    one = engine._Run(engine._Compiled(scenario), 0, 0, "off", None)
    held: list[int] = []
    in_cores: list[int] = []
    # The run stepped event by event: the arrival that sweeps leaves the count of arrivals at 0.
    one._schedule()
    while one.env._queue:
        before = one.arrivals
        one.env.step()
        if before == engine.RETIRE_EVERY - 1 and one.arrivals == 0:
            held.append(len(one.sink.folder.calls))
            in_cores.append(max(len(agent.core.calls) for agent in one.agents.values()))
    # 20 calls/s, each live for ~35 s (its transactions' Timers D, H, K, M at 32 s and
    # the talk time): about 700 at any time, however long the run.
    assert len(held) == 1500 // engine.RETIRE_EVERY
    assert max(held) < 1000
    assert max(in_cores) < 1000
    assert len(one.sink.records()) == 1500


def test_full_trace_folds_at_the_end() -> None:
    """With the full trace kept nothing is retired early (the events hold the calls anyway)."""
    one = engine._Run(engine._Compiled(simsip.load(DIRECT)), 0, 0, "full", None)
    assert not one.retiring
