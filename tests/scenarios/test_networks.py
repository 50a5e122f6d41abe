"""scenarios/networks/: what each network lesson claims, measured (seeded, so exact per seed)."""

from __future__ import annotations

import statistics

import simsip
from tests.scenarios.helpers import SCENARIOS, send_times, sends

DIR = SCENARIOS / "networks"


def test_satellite_spurious_invite_retransmission_rfc3261_s17_1_1_2() -> None:
    """RFC 3261 §17.1.1.2: RTT 600 ms > T1: the INVITE is resent at 0.5 s; with T1 = 1 s it is not."""
    trace = simsip.run(simsip.load(DIR / "satellite.sip"), trace="full").trace
    assert send_times(trace, "alice", "INVITE") == [0, 0.5]
    trace = simsip.run(simsip.load(DIR / "satellite.sip", {"t1": "1s"}), trace="full").trace
    assert send_times(trace, "alice", "INVITE") == [0]


def test_satellite_every_t1_timer_fires_early_rfc3261_s17_1_1_1() -> None:
    """RFC 3261 §17.1.1.1, §13.3.1.4, §17.1.2.2: RTT 600 ms > T1 also resends the 200 (2.8 s, ACK due 2.9 s)
    and the BYE (5.1 s, 200 due 5.2 s): 12 messages; with T1 = 1 s none is resent: 6 messages."""
    trace = simsip.run(simsip.load(DIR / "satellite.sip"), trace="full").trace
    assert [t for t in send_times(trace, "bob", "200") if t < 4] == [2.3, 2.8]
    assert send_times(trace, "alice", "BYE") == [4.6, 5.1]
    assert len(sends(trace)) == 12
    trace = simsip.run(simsip.load(DIR / "satellite.sip", {"t1": "1s"}), trace="full").trace
    assert len(sends(trace)) == 6 and not [e for e in sends(trace) if e.retransmission]


def test_core_loss_repaired_by_proxies_not_by_alice_rfc3261_s16() -> None:
    """RFC 3261 §16/§17: core losses are retransmitted by the proxies; alice never resends her INVITE."""
    result = simsip.run(simsip.load(DIR / "two_proxy_core_loss.sip"), runs=100)
    assert all(c["invite_retransmissions"] == 0 for c in result.calls)
    assert result.links["proxy1->proxy2"]["lost"] + result.links["proxy2->proxy1"]["lost"] > 0
    assert result.links["alice->proxy1"]["lost"] == 0


def _loss_figures(name: str) -> tuple[float, float]:
    """(measured loss rate on bob's access link, sd of messages lost per call) over 400 runs."""
    result = simsip.run(simsip.load(DIR / name), runs=400)
    sent = sum(result.links[k]["sent"] for k in ("edge->bob", "bob->edge"))
    lost = sum(result.links[k]["lost"] for k in ("edge->bob", "bob->edge"))
    return lost / sent, statistics.pstdev(c["messages_lost"] for c in result.calls)


def test_bursty_loss_same_mean_more_spread() -> None:
    """Gilbert-Elliott at the same mean loss as Bernoulli: similar loss rate, larger spread per call."""
    rate_b, sd_b = _loss_figures("lossy_access.sip")
    rate_g, sd_g = _loss_figures("bursty_access.sip")
    assert 0.03 < rate_b < 0.07 and 0.02 < rate_g < 0.08
    assert sd_g > sd_b


def test_call_centre_places_every_call_round_robin() -> None:
    """Poisson stream: exactly `calls` calls, agents picked in turn."""
    result = simsip.run(simsip.load(DIR / "call_centre.sip", {"calls": "40"}), trace="full")
    assert len(result.calls) == 40
    invited = [e.dst for e in result.trace if e.event == "send" and e.src == "proxy" and e.message == "INVITE"]
    assert invited[:8] == ["agent1", "agent2", "agent3", "agent4"] * 2
