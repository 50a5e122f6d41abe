"""scenarios/timers/: exact timer schedules (RFC 3261 §17, §13.3.1.4; RFC 3262 §3), T1 = 500 ms, T2 = 4 s.

Send times are those of ../shared/conformance/TIMERS.md §2, shifted by when the
first transmission happened.
"""

from __future__ import annotations

import simsip
from tests.scenarios.helpers import SCENARIOS, send_times, sends

DIR = SCENARIOS / "timers"

# TIMERS.md §2: Timer A uncapped; Timer E / 2xx capped at T2.
UNCAPPED = [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
CAPPED = [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def _trace(name: str, **params: str) -> list:
    """Full trace of run 0."""
    return simsip.run(simsip.load(DIR / name, params or None), trace="full").trace


def _timers(trace: list, node: str) -> list[tuple[float, str]]:
    """(time, timer letter) of every timer that fired at ``node``."""
    return [(round(e.t, 6), e.timer) for e in trace if e.event == "timer" and e.node == node]


def _ended(trace: list, node: str) -> tuple[float, str]:
    """When and with which detail the node's call ended."""
    event = next(e for e in trace if e.event == "app" and e.node == node and e.detail.startswith("call-ended"))
    return round(event.t, 6), event.detail


def test_invite_timer_a_uncapped_then_timer_b_rfc3261_s17_1_1_2() -> None:
    """RFC 3261 §17.1.1.2: INVITE at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s; 408 to the TU."""
    trace = _trace("invite_unreachable.sip")
    assert send_times(trace, "alice", "INVITE") == UNCAPPED
    assert _timers(trace, "alice") == [(t, "A") for t in UNCAPPED[1:]] + [(32.0, "B")]
    t, detail = _ended(trace, "alice")
    assert t == 32.0 and "final_code=408" in detail and "outcome=timeout" in detail


def test_invite_over_tcp_sent_once_timer_b_rfc3261_s17_1_1_2() -> None:
    """RFC 3261 §17.1.1.2: over TCP Timer A is not started; Timer B still fires at 64*T1."""
    trace = _trace("invite_unreachable_tcp.sip")
    assert send_times(trace, "alice", "INVITE") == [0]
    assert _timers(trace, "alice") == [(32.0, "B")]
    t, detail = _ended(trace, "alice")
    assert t == 32.0 and "final_code=408" in detail


def test_timer_b_scales_with_t1_rfc3261_s17_1_1_2() -> None:
    """RFC 3261 §17.1.1.2: with T1 = 1 s every time doubles (Timer B = 64 s)."""
    text = (DIR / "invite_unreachable.sip").read_text().replace("T1=500ms", "T1=1s")
    trace = simsip.run(simsip.load(text), trace="full").trace
    assert send_times(trace, "alice", "INVITE") == [2 * t for t in UNCAPPED]
    assert _timers(trace, "alice")[-1] == (64.0, "B")


def test_options_timer_e_capped_at_t2_then_timer_f_rfc3261_s17_1_2_2() -> None:
    """RFC 3261 §17.1.2.2: OPTIONS 11 times, interval capped at T2 = 4 s; Timer F at 32 s."""
    trace = _trace("options_unreachable.sip")
    assert send_times(trace, "alice", "OPTIONS") == CAPPED
    assert _timers(trace, "alice") == [(t, "E") for t in CAPPED[1:]] + [(32.0, "F")]


def test_reliable_180_uncapped_then_5xx_at_64_t1_rfc3262_s3() -> None:
    """RFC 3262 §3: 180 at T1 doubling with no cap; at 64*T1 with no PRACK the INVITE gets a 5xx."""
    trace = _trace("prack_missing.sip")
    first = 0.05  # the INVITE takes one delay to reach bob
    assert send_times(trace, "bob", "180") == [round(first + t, 6) for t in UNCAPPED]
    final = [e for e in sends(trace) if e.src == "bob" and e.cseq == "1 INVITE" and e.message[0] == "5"]
    assert [round(e.t, 6) for e in final] == [round(first + 32.0, 6)]
    assert not [e for e in sends(trace) if e.message == "PRACK"]


def test_2xx_retransmitted_until_ack_rfc3261_s13_3_1_4() -> None:
    """RFC 3261 §13.3.1.4 / §13.2.2.4: 200 at T1, 2T1, 4T1 after the first; each one ACKed; stop at the ACK."""
    trace = _trace("ack_lost.sip")
    assert send_times(trace, "bob", "200")[:4] == [0.05, 0.55, 1.55, 3.55]
    assert send_times(trace, "alice", "ACK") == [0.1, 0.6, 1.6, 3.6]
    # The next 200 is the BYE's, 8 s after the answer: no more 2xx retransmissions.
    assert send_times(trace, "bob", "200")[4:] == [8.15]


def test_2xx_retransmission_capped_at_t2_and_gives_up_rfc3261_s13_3_1_4() -> None:
    """RFC 3261 §13.3.1.4: every ACK lost: 200 at the capped schedule (11 sends), then no more after 64*T1."""
    # alice hangs up only after 40 s, so the BYE does not end the retransmissions early.
    text = (DIR / "ack_lost.sip").read_text().replace("wait 8s", "wait 40s")
    trace = simsip.run(simsip.load(text, {"lost": "1000"}), trace="full").trace
    oks = [round(e.t, 6) for e in sends(trace) if e.src == "bob" and e.cseq == "1 INVITE"]
    assert oks == [round(0.05 + t, 6) for t in CAPPED]
