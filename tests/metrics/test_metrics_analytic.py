"""Exact direct-call expectations, checked by hand and against an independent Monte Carlo.

The Monte Carlo below is its own tiny event model of alice, bob and a lossy
link (RFC 3261 §17.1.1.2 Timer A/B, §13.3.1.4 2xx retransmission, §13.2.2.4
ACK per 2xx, RFC 6026 §7.1 absorbed INVITE retransmissions); it shares no
code with the simulator or with :mod:`simsip.metrics.analytic`.
"""

from __future__ import annotations

import heapq
import math
import random

import pytest

from simsip.metrics.analytic import (
    direct_call_expectations,
    invite_send_times,
    ok_send_offsets,
    within_standard_errors,
)


def test_invite_schedule_rfc3261_17_1_1_2():
    """RFC 3261 §17.1.1.2 (TIMERS.md §2): seven INVITE sends before Timer B at 32 s."""
    assert invite_send_times(0.5) == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def test_2xx_schedule_rfc3261_13_3_1_4():
    """RFC 3261 §13.3.1.4 (TIMERS.md §2): T1 doubling capped at T2, 11 sends within 64*T1."""
    assert ok_send_offsets(0.5, 4.0) == [
        0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def test_no_loss_is_one_round_trip():
    """Without loss: final after 2d, no retransmission of INVITE or 2xx."""
    e = direct_call_expectations(delay=0.05, loss=0.0)
    assert e["p_answered"] == 1.0
    assert e["final_ms_mean"] == pytest.approx(100.0)
    assert e["final_ms_var"] == pytest.approx(0.0, abs=1e-12)
    assert e["invite_retransmissions_mean"] == 0.0
    assert e["ok_retransmissions_mean"] == 0.0


def test_must_show_case_hand_checked_cells():
    """50 ms, 20 % loss each way: P(final = 100 ms), P(600 ms), P(0 and 1 INVITE retransmissions)."""
    p = 0.2
    e = direct_call_expectations(delay=0.05, loss=p, t1=0.5, t2=4.0)
    answered = e["p_answered"]
    # 100 ms: first INVITE and first 2xx both arrive.
    assert e["final_ms_distribution"][100.0] == pytest.approx((1 - p) ** 2 / answered)
    # 600 ms: INVITE #2 with 2xx #1, or INVITE #1 with 2xx #2.
    assert e["final_ms_distribution"][600.0] == pytest.approx(2 * p * (1 - p) ** 2 / answered)
    # 0 retransmissions only when the 2xx arrives before 0.5 s: J = 0, F = 0.
    assert e["invite_retransmissions_distribution"][0] == pytest.approx((1 - p) ** 2)
    # 1 retransmission: 2xx arrives in (0.5, 1.5]: (J, F) = (0, 1), (1, 0), (1, 1).
    one = 2 * p * (1 - p) ** 2 + p**2 * (1 - p) ** 2
    assert e["invite_retransmissions_distribution"][1] == pytest.approx(one)
    # Timeout: no INVITE copy arrives (p**7), or J = 6 and 2xx #1 lost (then R >= 32 s), ...
    assert e["p_timeout"] > p**7 + p**6 * (1 - p) * p
    assert e["p_timeout"] == pytest.approx(1 - answered)
    assert sum(e["invite_retransmissions_distribution"].values()) == pytest.approx(1.0)
    assert sum(e["final_ms_distribution"].values()) == pytest.approx(1.0)
    assert sum(e["ok_retransmissions_distribution"].values()) == pytest.approx(1.0)
    assert e["invite_retransmissions_distribution"][6] >= e["p_timeout"]


def test_bad_parameters_are_refused():
    """Loss must be below 1, timers positive."""
    with pytest.raises(ValueError):
        direct_call_expectations(loss=1.0)
    with pytest.raises(ValueError):
        direct_call_expectations(t1=0.0)


# ------------------------------------------------------ independent model


def simulate_direct_call(rng: random.Random, d: float, p: float, t1: float, t2: float):
    """One call in a tiny event model; returns (final_s or None, invite_rtx, ok_rtx or None)."""
    limit = 64 * t1
    queue: list[tuple[float, int, int, str]] = []
    seq = 0

    def at(when: float, what: str, priority: int) -> None:
        """Schedule; at equal times messages (0) come before timers (1)."""
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (when, priority, seq, what))

    def transmit(now: float, what: str) -> None:
        """One message over the lossy link."""
        if rng.random() >= p:
            at(now + d, what, 0)

    calling, invite_tx, a_interval, final = True, 1, t1, None
    answered, acked, ok_tx, ok_offset, ok_interval = False, False, 0, 0.0, t1
    transmit(0.0, "invite@bob")
    at(t1, "timer-A", 1)
    at(limit, "timer-B", 1)
    while queue:
        now, _, _, what = heapq.heappop(queue)
        if what == "timer-A" and calling:
            invite_tx += 1
            transmit(now, "invite@bob")
            a_interval *= 2
            at(now + a_interval, "timer-A", 1)
        elif what == "timer-B" and calling:
            calling = False
        elif what == "invite@bob" and not answered:
            answered = True  # later copies: absorbed in Accepted (RFC 6026)
            ok_tx = 1
            transmit(now, "2xx@alice")
            at(now + ok_interval, "2xx-timer", 1)
        elif what == "2xx-timer" and not acked:
            ok_offset += ok_interval
            if ok_offset < limit:
                ok_tx += 1
                transmit(now, "2xx@alice")
                ok_interval = min(2 * ok_interval, t2)
                at(now + ok_interval, "2xx-timer", 1)
        elif what == "2xx@alice":
            if calling:
                calling = False
                final = now
            if final is not None:
                transmit(now, "ack@bob")
        elif what == "ack@bob":
            acked = True
    return final, invite_tx - 1, (ok_tx - 1 if final is not None else None)


CASES = [
    # (delay, loss, t1, t2, runs): the must-show case, then harsher ones with timeouts.
    (0.05, 0.2, 0.5, 4.0, 20_000),
    (0.2, 0.5, 0.5, 4.0, 10_000),
    (0.12, 0.35, 0.25, 1.0, 10_000),
]


@pytest.mark.parametrize("delay, loss, t1, t2, runs", CASES)
def test_analytic_matches_independent_monte_carlo(delay, loss, t1, t2, runs):
    """Means of final_ms, invite_retransmissions, ok_retransmissions within 4 standard errors."""
    rng = random.Random(f"analytic-{delay}-{loss}-{t1}-{t2}")
    finals, invites, oks = [], [], []
    timeouts = 0
    for _ in range(runs):
        final, invite_rtx, ok_rtx = simulate_direct_call(rng, delay, loss, t1, t2)
        invites.append(invite_rtx)
        if final is None:
            timeouts += 1
        else:
            finals.append(final * 1000.0)
            oks.append(ok_rtx)
    e = direct_call_expectations(delay, loss, t1, t2)
    for name, sample in (("final_ms", finals), ("invite_retransmissions", invites),
                         ("ok_retransmissions", oks)):
        ok, mean, tolerance = within_standard_errors(e[f"{name}_mean"], e[f"{name}_var"],
                                                     sample, k=4.0)
        assert ok, (name, mean, e[f"{name}_mean"], tolerance)
    se_timeout = math.sqrt(e["p_timeout"] * (1 - e["p_timeout"]) / runs)
    assert abs(timeouts / runs - e["p_timeout"]) <= 4 * se_timeout + 1e-12
    # The whole distribution of INVITE retransmissions, cell by cell.
    for value, prob in e["invite_retransmissions_distribution"].items():
        observed = sum(1 for v in invites if v == value) / runs
        assert abs(observed - prob) <= 4 * math.sqrt(prob * (1 - prob) / runs) + 1e-12, value
